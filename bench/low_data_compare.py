"""Two ``bench/low_data.py`` reports side by side, run by run: what a setting changed, sample by sample.

A low-data run's test F1 moves by several points between samples, and between runs of the same sample (early
stopping on a dev set of ~20 entities), so a difference of means says little on its own. This pairs every
(task, representation, sample) present in both reports and prints the paired differences (first report minus
second): per task and representation, then over every pair. It reads the reports only; nothing is trained.

    .venv/bin/python bench/low_data_compare.py bench/results/low_data-conll50-1thread.json \\
        bench/results/low_data-conll50-config-regularization.json \\
        bench/results/low_data-wikiann-fr50.json bench/results/low_data-wikiann-fr50-config-regularization.json

Reports are given as pairs (first of a pair against its second); several pairs are pooled. Printed and written to
``--output`` when given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import write_report  # noqa: E402

type RunKey = tuple[str, str, str]  # task, representation, run (sample or seed)


def runs_of(report: dict[str, Any]) -> dict[RunKey, dict[str, float]]:
    """Each run's micro F1, served ECE and training seconds, on its first test set."""
    found: dict[RunKey, dict[str, float]] = {}
    for task, figures in report["tasks"].items():
        for run in figures["runs"]:
            for side, result in run["results"].items():
                test = next(iter(result["test"].values()))
                found[(task, side, run["run"])] = {
                    "f1": test["micro_f1"],
                    "ece": test["ece"],
                    "train_s": result["train_s"],
                }
    return found


def _summary(first: list[dict[str, float]], second: list[dict[str, float]]) -> dict[str, Any]:
    differences = [a["f1"] - b["f1"] for a, b in zip(first, second, strict=True)]
    return {
        "pairs": len(differences),
        "first_higher": sum(difference > 0 for difference in differences),
        "f1_difference_mean": round(statistics.mean(differences), 2),
        "f1_difference_median": round(statistics.median(differences), 2),
        "f1_means": [round(statistics.mean(run["f1"] for run in side), 2) for side in (first, second)],
        "ece_means": [round(statistics.mean(run["ece"] for run in side), 3) for side in (first, second)],
        "train_s_means": [round(statistics.mean(run["train_s"] for run in side), 1) for side in (first, second)],
    }


def compare(pairs: list[tuple[Path, Path]]) -> dict[str, Any]:
    first: dict[RunKey, dict[str, float]] = {}
    second: dict[RunKey, dict[str, float]] = {}
    for a, b in pairs:
        first.update(runs_of(json.loads(a.read_text())))
        second.update(runs_of(json.loads(b.read_text())))
    shared = sorted(key for key in first if key in second)
    if not shared:
        raise SystemExit("the reports share no (task, representation, run)")
    groups: dict[str, list[RunKey]] = {}
    for key in shared:
        groups.setdefault(f"{key[0]} {key[1]}", []).append(key)
    groups["all"] = shared
    return {
        name: {
            **_summary([first[key] for key in keys], [second[key] for key in keys]),
            "f1": [[first[key]["f1"], second[key]["f1"]] for key in keys],
        }
        for name, keys in groups.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="pairs of reports: first, second, first, second, ...")
    parser.add_argument("--output", type=Path, default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)
    if len(args.reports) % 2:
        parser.error("give the reports in pairs (first, second)")
    pairs = list(zip(args.reports[::2], args.reports[1::2], strict=True))
    groups = compare(pairs)
    print(f"{'task and representation':<32} {'pairs':>5} {'1st higher':>10} {'mean diff':>9} {'median':>7}   F1 means")
    for name, row in groups.items():
        print(
            f"{name:<32} {row['pairs']:>5} {row['first_higher']:>10} {row['f1_difference_mean']:>+9.2f} "
            f"{row['f1_difference_median']:>+7.2f}   {row['f1_means'][0]:.1f} vs {row['f1_means'][1]:.1f}"
            f"  (ECE {row['ece_means'][0]:.3f} vs {row['ece_means'][1]:.3f})"
        )
    if args.output:
        write_report({"reports": [[str(a), str(b)] for a, b in pairs], "groups": groups}, args.output)


if __name__ == "__main__":
    main()

"""What cross-fitting the calibration map gives (``ner.calibration.CROSS_FIT_BELOW_DEV_ENTITIES``): each of
``bench/low_data.py``'s samples trained as the product trains it, once with the map fitted on the dev set alone
(``calibration_folds=0``) and once with ``CALIBRATION_FOLDS`` fold models' out-of-fold entities added (``--folds``
for another count); the served confidence's test ECE, test F1 (the same model both times: the folds change only the
map) and training seconds. Printed and written to ``bench/results/calibration_folds.json``.

    .venv/bin/python bench/calibration_folds.py --tasks conll50 wikiann-fr50
    .venv/bin/python bench/calibration_folds.py --tasks conll50 --sides cnn --folds 8 --output <file>
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import write_report  # noqa: E402
from bench.low_data import DEV_FRACTION, Run, build_runs, encoders_offered, nerlab_settings, score  # noqa: E402
from ner.calibration import CALIBRATION_FOLDS  # noqa: E402
from ner.compute import DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.pipelines import KNOWN_PIPELINES  # noqa: E402
from ner.pipelines import offered as pipelines_offered  # noqa: E402
from ner.splits import DevCarve, carve_dev  # noqa: E402
from ner.train import CNN_REPRESENTATION, EncoderChoice, train  # noqa: E402
from ner.types import LabeledDoc  # noqa: E402

Side = tuple[str, EncoderChoice | None, str | None]


def representation_sides(wanted: str, encoders: Sequence[str] = ()) -> list[Side]:
    """(name, encoder, pipeline) of each representation to train: the CNN, each encoder offered (``encoders``:
    name=/folder, beside those installed) and each spaCy pipeline installed; ``wanted`` (comma-separated names)
    keeps only those."""
    sides: list[Side] = [(CNN_REPRESENTATION, None, None)]
    sides += [(name, EncoderChoice(name, folder), None) for name, folder in encoders_offered(encoders).items()]
    sides += [(name, None, name) for name in pipelines_offered()]
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    return [side for side in sides if not names or side[0] in names]


def sides_in_language(sides: Sequence[Side], language: str) -> list[Side]:
    """The sides a task in ``language`` trains: a spaCy pipeline only in its own language (Automatic's choice for small
    French projects)."""
    return [side for side in sides if side[2] is None or KNOWN_PIPELINES[side[2]].language == language]


def task_samples(task: str, sides: Sequence[Side]) -> tuple[list[Side], list[tuple[Run, DevCarve[LabeledDoc]]]]:
    """The sides a task trains (``sides_in_language``) and its full samples (``bench/low_data.py``'s), each with the
    dev set the product would carve from it."""
    runs = build_runs(task, quick=False)
    samples = [(run, carve_dev(run.train, DEV_FRACTION, run.seed)) for run in runs]
    return sides_in_language(sides, runs[0].language), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["conll50", "wikiann-fr50"])
    parser.add_argument("--threads", type=int, default=DEFAULT_TRAINING_THREADS)
    parser.add_argument("--sides", default="", help="comma-separated sides to run (default: all)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "calibration_folds.json")
    parser.add_argument(
        "--folds",
        type=int,
        default=CALIBRATION_FOLDS,
        help=f"fold models of the cross-fitted side (the app's: {CALIBRATION_FOLDS})",
    )
    args = parser.parse_args()
    sides = representation_sides(args.sides)
    report: dict[str, Any] = {"command": " ".join(["bench/calibration_folds.py", *sys.argv[1:]]), "tasks": {}}
    for task in args.tasks:
        rows = []
        mine, samples = task_samples(task, sides)
        for run, carved in samples:
            dev_entities = sum(len(doc.spans) for doc in carved.dev)
            for name, encoder, pipeline in mine:
                row: dict[str, Any] = {"run": run.name, "representation": name, "dev_entities": dev_entities}
                for folds in (0, args.folds):
                    settings = replace(
                        nerlab_settings(run, encoder, False, args.threads, pipeline=pipeline), calibration_folds=folds
                    )
                    with tempfile.TemporaryDirectory(prefix="nerlab-calibration-folds-") as folder:
                        begun = time.perf_counter()
                        result = train(
                            list(carved.train), list(carved.dev), language=run.language,
                            output_dir=Path(folder) / "model", settings=settings,
                        )  # fmt: skip
                        seconds = time.perf_counter() - begun
                        scored = score(result.model_path, run.tests)
                    test = next(iter(scored["test"].values()))
                    row[f"folds_{folds}"] = {
                        "ece": test["ece"],
                        "micro_f1": test["micro_f1"],
                        "train_s": round(seconds, 1),
                        "map_entities": result.calibration.entity_count if result.calibration else 0,
                        # The accuracy the map was fitted to, against the kept model's on the test set (below).
                        "map_accuracy": round(result.calibration.correct_count / result.calibration.entity_count, 3)
                        if result.calibration and result.calibration.entity_count
                        else None,
                        "test_accuracy": test["entity_accuracy"],
                        "test_reliability": test["reliability"],
                        "load_average": round(os.getloadavg()[0], 2),
                    }
                print(f"{task} {run.name} {name}: {row}", flush=True)
                rows.append(row)
        summary = {}
        for name, _, _ in mine:
            side_rows = [row for row in rows if row["representation"] == name]
            summary[name] = {
                f"folds_{folds}": {
                    "ece_mean": round(statistics.fmean(row[f"folds_{folds}"]["ece"] for row in side_rows), 4),
                    "ece_max": round(max(row[f"folds_{folds}"]["ece"] for row in side_rows), 4),
                    "train_s_mean": round(statistics.fmean(row[f"folds_{folds}"]["train_s"] for row in side_rows), 1),
                }
                for folds in (0, args.folds)
            }
        report["tasks"][task] = {"rows": rows, "summary": summary}
        for name, figures in summary.items():
            print(f"{task} {name}: {figures}", flush=True)
    write_report(report, args.output)


if __name__ == "__main__":
    main()

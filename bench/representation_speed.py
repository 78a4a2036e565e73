"""Each representation's speed as the Training page measures it: ``ner.train.measure_representation_speed`` on the
demo corpus, the way a worker runs it (evaluation/speeds), for the CNN, every installed packaged encoder and every
installed French pipeline, ``--runs`` times each in turn; the median and range of each figure. Printed and written to
``bench/results/representation_speed.json`` with the load average (on a shared machine, indicative).

    .venv/bin/python bench/representation_speed.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import write_report  # noqa: E402
from ner import pipelines  # noqa: E402
from ner.encoder_packages import installed  # noqa: E402
from ner.formats.jsonl import read_jsonl  # noqa: E402
from ner.train import CNN_REPRESENTATION, EncoderChoice, TrainSettings, measure_representation_speed  # noqa: E402

DEMO_FILE = ROOT / "demo" / "loan-agreements.jsonl"


def _representations() -> list[tuple[str, TrainSettings, str]]:
    """(name, settings, language) of each representation this machine has, as the server would offer them."""
    found = [(CNN_REPRESENTATION, TrainSettings(), "en")]
    found += [(name, TrainSettings(encoder=EncoderChoice(name, str(path))), "en") for name, path in installed().items()]
    found += [
        (pipeline.name, TrainSettings(pipeline=pipeline.name), pipeline.language)
        for pipeline in pipelines.installed()
        if not pipeline.problem
    ]
    return found


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "representation_speed.json")
    args = parser.parse_args()
    docs = read_jsonl(DEMO_FILE.read_bytes(), file_name=DEMO_FILE.name)
    train = [doc for doc in docs if doc.split == "train"]
    test = [doc for doc in docs if doc.split == "test"]
    load_before = os.getloadavg()[0]
    measured: dict[str, list[dict[str, float]]] = {}
    for run in range(args.runs):
        for name, settings, language in _representations():
            begun = time.perf_counter()
            speed = measure_representation_speed(train, test, language=language, settings=settings)
            figures = {**speed.to_dict(), "seconds": round(time.perf_counter() - begun, 2)}
            measured.setdefault(name, []).append(figures)
            print(f"run {run + 1} {name}: {figures}", flush=True)
    results: dict[str, Any] = {
        "command": " ".join(["bench/representation_speed.py", *sys.argv[1:]]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "representations": {
            name: {
                key: _summary([run[key] for run in runs])
                for key in ("predict_words_per_second", "train_words_per_second", "seconds")
            }
            for name, runs in measured.items()
        },
        "runs": measured,
    }
    print()
    for name, summary in results["representations"].items():
        print(
            f"{name:>16}: predict {summary['predict_words_per_second']['median']:>9,.0f} words/s, "
            f"train {summary['train_words_per_second']['median']:>9,.0f} words/s, "
            f"{summary['seconds']['median']:.1f} s a measurement"
        )
    write_report(results, args.output)


if __name__ == "__main__":
    main()

"""Benchmark: what refusing NUL characters costs the one JSON loader (``ner.json_input.load_json``).

    .venv/bin/python bench/json_input.py               # 10,000 JSONL records and one 50,000-document JSON, 7 runs

Every JSON nerlab reads walks its parsed value once for the depth limit; ``refuse_nul`` makes that walk also look at
every key and text for U+0000 and keep each container's path, to name where one is. Both shapes nerlab reads are
timed with the check on and off, interleaved in this process (the baseline is the same code with
``refuse_nul=False``): an import file read line by line (JSONL, like doccano's) and one large document (like Azure's
labels file or a Label Studio export). Prints the medians and writes them to bench/results/json_input.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ner.json_input import load_json  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "json_input.json"
WORDS = ["Alice", "Smith", "met", "Bob", "at", "Contoso", "in", "Paris", "on", "Monday", "and", "signed", "the", "loan"]


def _document(rng: random.Random, index: int) -> dict[str, object]:
    text = " ".join(rng.choice(WORDS) for _ in range(60))
    spans = [[start, start + 5, rng.choice(["PER", "ORG", "LOC"])] for start in range(0, 300, 60)]
    return {"id": index, "text": text, "label": spans, "meta": {"source": f"batch-{index % 7}"}}


def _azure_like(rng: random.Random, documents: int) -> str:
    return json.dumps(
        {
            "projectFileVersion": "2022-05-01",
            "assets": {
                "projectKind": "CustomEntityRecognition",
                "documents": [
                    {
                        "location": f"doc{index}.txt",
                        "language": "en-us",
                        "entities": [
                            {
                                "regionOffset": 0,
                                "regionLength": 300,
                                "labels": [
                                    {"category": rng.choice(["PER", "ORG"]), "offset": offset, "length": 5}
                                    for offset in range(0, 300, 60)
                                ],
                            }
                        ],
                    }
                    for index in range(documents)
                ],
            },
        }
    )


def _seconds(read: Callable[[bool], object], refuse_nul: bool) -> float:
    start = time.perf_counter()
    read(refuse_nul)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="JSONL lines (default 10,000)")
    parser.add_argument("--documents", type=int, default=50_000, help="documents in the one large JSON")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(0)
    lines = [json.dumps(_document(rng, index)) for index in range(args.records)]
    whole = _azure_like(rng, args.documents)
    shapes: dict[str, tuple[int, Callable[[bool], object]]] = {
        "jsonl": (
            sum(len(line) + 1 for line in lines),
            lambda refuse: [load_json(line, refuse_nul=refuse) for line in lines],
        ),
        "one document": (len(whole), lambda refuse: load_json(whole, refuse_nul=refuse)),
    }
    report: dict[str, object] = {
        "command": " ".join(["bench/json_input.py", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
        "runs": args.runs,
    }
    for name, (size, read) in shapes.items():
        # Interleaved: each round times the baseline and the check one after the other, so drift hits both.
        without, with_check = [], []
        for _ in range(args.runs):
            without.append(_seconds(read, False))
            with_check.append(_seconds(read, True))
        base, checked = statistics.median(without), statistics.median(with_check)
        report[name] = {
            "bytes": size,
            "median_s_without_nul_check": round(base, 4),
            "median_s_with_nul_check": round(checked, 4),
            "overhead_percent": round(100 * (checked / base - 1), 1),
            "mb_per_s_with_check": round(size / checked / 1e6, 1),
        }
        print(f"{name}: {size / 1e6:.1f} MB, {base:.3f} s without the NUL check, {checked:.3f} s with it "
              f"({100 * (checked / base - 1):+.1f}%), median of {args.runs}")  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""The encoder's layers on ONNX Runtime against numpy's forward pass: time per document and how far the states differ.

For each installed packaged encoder (all-MiniLM-L6-v2, multilingual-e5-small), ``--documents`` texts of 1,000
characters made of consecutive CoNLL-2003 eng.testb sentences (the serving benchmark's documents): the hidden
states nerlab trains on (mean of the last four layers) computed by both runtimes in the same process, one document
at a time, alternating, on one thread each; the median milliseconds of each (``--rounds`` passes over the documents)
and the largest absolute difference of any state. Printed and written to ``bench/results/encoder_runtime.json`` with
the load average: on a shared machine the ratio is the figure, the milliseconds are indicative.

    .venv/bin/python bench/encoder_runtime.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.encoder_packages import installed  # noqa: E402
from ner.encoders import load_encoder, onnx_layers  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402

CONLL = ROOT.parent / "shared" / "datasets" / "conll2003" / "eng.testb.conll"
DOC_CHARS = 1000


def _documents(count: int) -> list[str]:
    sentences = [doc.text for doc in read_conll(CONLL.read_bytes(), file_name=CONLL.name, documents="sentence")]
    sentences = [text for text in sentences if text.strip()]
    texts: list[str] = []
    position = 0
    while len(texts) < count:
        parts: list[str] = []
        while sum(len(part) + 1 for part in parts) < DOC_CHARS:
            parts.append(sentences[position % len(sentences)])
            position += 1
        texts.append(" ".join(parts)[:DOC_CHARS])
    return texts


def _numpy_runtime(on: bool) -> None:
    onnx_layers.runtime_name = (lambda: None) if on else _RUNTIME_NAME  # type: ignore[assignment]


_RUNTIME_NAME = onnx_layers.runtime_name


def _compare(name: str, path: Path, texts: list[str], rounds: int) -> dict[str, Any]:
    encoder = load_encoder(path)
    sequences = [encoder.tokenizer(text).ids for text in texts]
    encoder.hidden_states(sequences[:1], 4)  # builds the session
    timings: dict[str, list[float]] = {"onnxruntime": [], "numpy": []}
    largest = 0.0
    for _ in range(rounds):
        for sequence in sequences:
            started = time.perf_counter()
            served = encoder.hidden_states([sequence], 4)[0]
            timings["onnxruntime"].append(time.perf_counter() - started)
            _numpy_runtime(True)
            try:
                started = time.perf_counter()
                computed = encoder.hidden_states([sequence], 4)[0]
                timings["numpy"].append(time.perf_counter() - started)
            finally:
                _numpy_runtime(False)
            largest = max(largest, float(np.abs(served - computed).max()))
    medians = {runtime: round(1000 * statistics.median(values), 1) for runtime, values in timings.items()}
    report = {
        "encoder": name,
        "documents": len(texts),
        "pieces_median": int(statistics.median(len(sequence) for sequence in sequences)),
        "ms_per_document_median": medians,
        "speedup": round(medians["numpy"] / medians["onnxruntime"], 2),
        "max_abs_difference": largest,
    }
    print(f"  {name}: {report}", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "encoder_runtime.json")
    args = parser.parse_args()
    if _RUNTIME_NAME() is None:
        sys.exit("onnxruntime is not installed: nothing to compare numpy's forward pass with.")
    texts = _documents(args.documents)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "runtime": _RUNTIME_NAME()},
        "load_average_before": os.getloadavg()[0],
        "encoders": [_compare(name, path, texts, args.rounds) for name, path in installed().items()],
        "load_average_after": os.getloadavg()[0],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()

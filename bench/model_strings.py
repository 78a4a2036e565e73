"""Benchmark: what a saved model's vocabulary strings cost, as nerlab saves them (its labels) against spaCy's way (every
string training saw).

Trains ``--steps`` steps on ``--chars`` characters of ``bench/train_large.py``'s corpus (default its 12.8 M) and saves
the model as ``ner.train`` does. The baseline is made in the same process: the model loaded again, the training text
tokenized through it (which adds every token, norm, prefix, suffix and shape string, as training did), and a copy of
the model holding those strings, as spaCy's ``to_disk`` saves them. Then, alternating the two ways, ``--repeats``
times each: loading the model (``ner.predict.load``); writing the pipeline that holds every string, as a training
checkpoint does (``ner.train``'s writer against spaCy's ``to_disk``); and, in a fresh process for each, the memory a
loaded model holds after a prediction. Checks that both predict the same spans with the same confidence on the test
documents. Medians; written to ``bench/results/model_strings.json`` unless ``--output`` says otherwise.

    .venv/bin/python bench/model_strings.py                       # ~3 minutes of training on 2 cores, then the figures
    .venv/bin/python bench/model_strings.py --chars 400000 --steps 20 --repeats 3   # smoke
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from bench._common import write_report  # noqa: E402
from bench.train_large import TARGET_CHARS, build_corpus  # noqa: E402
from ner.predict import load  # noqa: E402
from ner.train import TrainSettings, _write_model, train  # noqa: E402

# Run in a fresh process per folder: the resident memory a loaded model adds once it has predicted.
HELD_MEMORY = """
import gc, os, sys
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
from ner.predict import load
gc.collect()
before = resident_mb()
load(sys.argv[1]).predict(["Carol White drove to Vienna."])
gc.collect()
print(resident_mb() - before)
"""


def folder_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class NoAverages:
    """What ``ner.train._write_model`` reads of an optimizer: no parameter averages to swap in."""

    averages = None


def held_mb(folder: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", HELD_MEMORY, str(folder)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=TARGET_CHARS, help="training characters (default 12.8 M)")
    parser.add_argument("--steps", type=int, default=200, help="training steps (the strings do not depend on them)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per folder, alternating")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "model_strings.json")
    args = parser.parse_args(argv)

    corpus = build_corpus(args.chars)
    work = Path(tempfile.mkdtemp(prefix="nerlab-strings-"))
    try:
        settings = TrainSettings(max_steps=args.steps, eval_frequency=args.steps, patience=0)
        nerlab = train(corpus["train"], corpus["dev"], language="xx", output_dir=work / "nerlab", settings=settings)
        nlp = spacy.load(nerlab.model_path)
        for _ in nlp.tokenizer.pipe(doc.text for doc in corpus["train"]):
            pass
        spacy_way = work / "spacy"
        shutil.copytree(nerlab.model_path, spacy_way)  # nerlab's own files too (calibration, meta)
        nlp.vocab.strings.to_disk(spacy_way / "vocab" / "strings.json")
        folders = {"nerlab": nerlab.model_path, "spacy": spacy_way}

        texts = [doc.text for doc in corpus["test"]]
        predictions = [load(folder).predict(texts, with_confidence=True) for folder in folders.values()]
        # A checkpoint in training writes the pipeline holding every string it has seen: both ways from that state.
        writers: dict[str, Callable[[Path], object]] = {
            "nerlab": lambda target: _write_model(nlp, NoAverages(), target),
            "spacy": lambda target: (shutil.rmtree(target, ignore_errors=True), nlp.to_disk(target)),
        }
        loads: dict[str, list[float]] = {name: [] for name in folders}
        writes: dict[str, list[float]] = {name: [] for name in folders}
        for _ in range(args.repeats):
            for name, folder in folders.items():
                loads[name].append(timed(lambda folder=folder: load(folder)))
                writes[name].append(timed(lambda name=name: writers[name](work / f"write-{name}")))
        figures = {
            name: {
                "strings": len(json.loads((folder / "vocab" / "strings.json").read_text())),
                "folder_mb": round(folder_mb(folder), 2),
                "load_s": round(statistics.median(loads[name]), 3),
                "write_s": round(statistics.median(writes[name]), 3),
                "held_mb": round(statistics.median(held_mb(folder) for _ in range(3)), 1),
            }
            for name, folder in folders.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "training_characters": sum(len(doc.text) for doc in corpus["train"]),
        "steps": args.steps,
        "repeats": args.repeats,
        "same_predictions": predictions[0] == predictions[1],
        "test_documents": len(texts),
        **figures,
    }
    print(json.dumps(report, indent=2))
    write_report(report, args.output)


if __name__ == "__main__":
    main()

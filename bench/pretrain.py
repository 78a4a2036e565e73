"""Benchmark (issue 11, item 4): what pretraining the CNN on untagged text gives a small-data training.

CoNLL-2003 English at 50 tagged mentions per type (``bench/low_data.py``'s sampler, samples and dev carving), the
CNN trained twice on each sample with the same settings, seed and dev set: once from random weights, once starting
from tok2vec weights pretrained (``ner.pretrain``, spaCy's characters objective) on the text of eng.train without
its tags, as a project would pretrain on all its documents, tagged or not. One pretraining serves every sample
(the samples' sentences are part of eng.train, as a project's tagged documents are part of its text). Both sides are
scored on eng.testb by the same code as low_data.py (exact-match micro F1).

    .venv/bin/python bench/pretrain.py --quick --threads 1   # a few minutes: 150 pretraining steps on 3,000
                                                             # sentences, one sample, 200 training steps, 500 tests
    .venv/bin/python bench/pretrain.py                       # 1,000 pretraining steps on all of eng.train,
                                                             # 3 samples, ner.sizing's settings, all of testb

Figures are printed and written to bench/results/pretrain.json (pretrain-quick.json with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from bench.low_data import DEV_FRACTION, build_runs, conll, describe, nerlab_settings, score  # noqa: E402
from ner.compute import DEFAULT_TRAINING_THREADS  # noqa: E402
from ner.pretrain import PretrainSettings, pretrain  # noqa: E402
from ner.splits import carve_dev  # noqa: E402
from ner.train import train  # noqa: E402

PRETRAIN_SEED = 0
QUICK_PRETRAIN_STEPS = 150
QUICK_PRETRAIN_SENTENCES = 3000
FULL_PRETRAIN_STEPS = 1000


def pretrain_texts(quick: bool) -> list[str]:
    texts = [doc.text for doc in conll("conll2003/eng.train.conll")]
    return texts[:QUICK_PRETRAIN_SENTENCES] if quick else texts


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes (see the module's docstring)")
    parser.add_argument("--threads", type=int, default=DEFAULT_TRAINING_THREADS, help="training threads")
    parser.add_argument("--pretrain-steps", type=int, default=None, help="pretraining updates (3,000 words each)")
    parser.add_argument("--output", type=Path, default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)
    quick = args.quick
    steps = args.pretrain_steps or (QUICK_PRETRAIN_STEPS if quick else FULL_PRETRAIN_STEPS)
    output = args.output or ROOT / "bench" / "results" / ("pretrain-quick.json" if quick else "pretrain.json")
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="nerlab-pretrain-") as temp:
        texts = pretrain_texts(quick)
        settings = PretrainSettings(seed=PRETRAIN_SEED, max_steps=steps, threads=args.threads, progress_interval_s=30)
        print(f"pretraining on {len(texts):,} sentences, {steps:,} steps ...", flush=True)
        weights = pretrain(
            texts,
            language="en",
            output_dir=Path(temp) / "pretrained",
            settings=settings,
            on_progress=lambda p: print(f"   step {p.step:,}, loss {p.loss:.3f}/word, {p.elapsed_s:.0f} s", flush=True),
        )
        pretraining = {
            "texts": weights.texts,
            "chunks": weights.chunks,
            "steps": weights.steps,
            "epochs": weights.epochs,
            "words": weights.words,
            "final_loss_per_word": round(weights.final_loss, 4),
            "duration_s": round(weights.duration_s, 1),
            "settings": settings.to_meta(),
        }
        print(f"pretrained: {pretraining}", flush=True)

        recorded = []
        for run in build_runs("conll50", quick):
            carved = carve_dev(run.train, DEV_FRACTION, run.seed)
            parts = (list(carved.train), list(carved.dev))
            base = nerlab_settings(run, None, quick, args.threads)
            results: dict[str, Any] = {}
            for side, pretrained in (("scratch", None), ("pretrained", str(weights.weights_path))):
                side_started = time.perf_counter()
                result = train(
                    parts[0],
                    parts[1],
                    language="en",
                    output_dir=Path(temp) / f"{run.name}-{side}",
                    settings=replace(base, pretrained=pretrained),
                )
                results[side] = {
                    "train_s": round(time.perf_counter() - side_started, 1),
                    "steps": result.steps,
                    "best_dev_f1": round((result.best_dev_f1 or 0.0) * 100, 2),
                    **score(result.model_path, run.tests),
                }
                print(f"   {run.name} {side}: test F1 {results[side]['test']['en']['micro_f1']}", flush=True)
            delta = results["pretrained"]["test"]["en"]["micro_f1"] - results["scratch"]["test"]["en"]["micro_f1"]
            recorded.append(
                {
                    "run": run.name,
                    "train": describe(run.train),
                    "max_steps": base.max_steps,
                    "results": results,
                    "delta_f1": round(delta, 2),
                }
            )

    deltas = [run["delta_f1"] for run in recorded]
    summary = {
        side: round(statistics.fmean(run["results"][side]["test"]["en"]["micro_f1"] for run in recorded), 2)
        for side in ("scratch", "pretrained")
    }
    summary["delta_mean"] = round(statistics.fmean(deltas), 2)
    summary["deltas"] = deltas
    print(f"\nCoNLL-2003, 50 per type, test F1: {summary}")
    report = {
        "quick": quick,
        "command": " ".join(["bench/pretrain.py", *(argv if argv is not None else sys.argv[1:])]),
        "wall_s": round(time.perf_counter() - started, 1),
        "pretraining": pretraining,
        "runs": recorded,
        "summary": summary,
        "machine": {
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
        },
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {output}")


if __name__ == "__main__":
    main()

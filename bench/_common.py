"""What the benchmark scripts share: the training data they hand ``spacy train``, and how they save a report."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import DocBin

from ner.calibration import CALIBRATION_FOLDS
from ner.sizing import CorpusSettings
from ner.tokens import chunk_bounds
from ner.train import EncoderChoice, TrainSettings
from ner.types import LabeledDoc


def write_docbin(docs: Sequence[LabeledDoc], path: Path, *, language: str = "en") -> None:
    """The examples ner.train builds: each document cut into the same chunks (``ner.tokens.chunk_bounds``; only
    long documents such as whole articles are cut), spans widened to whole tokens, overlapping ones dropped."""
    nlp = spacy.blank(language)
    docbin = DocBin(store_user_data=False)
    for labeled in docs:
        spans = labeled.sorted_spans()
        for chunk_start, chunk_end in chunk_bounds(labeled.text, spans):
            doc = nlp.make_doc(labeled.text[chunk_start:chunk_end])
            ents, last = [], 0
            for span in spans:
                start, end = max(span.start, chunk_start), min(span.end, chunk_end)
                if start >= end:
                    continue
                ent = doc.char_span(start - chunk_start, end - chunk_start, label=span.label, alignment_mode="expand")
                if ent is not None and ent.start >= last:
                    ents.append(ent)
                    last = ent.end
            doc.set_ents(ents, default="outside")
            docbin.add(doc)
    docbin.to_disk(path)


def cpu_model() -> str:
    """The processor's name (Linux), or the machine type: the same seed and thread count train other models on another
    CPU, whose BLAS kernels sum in another order, so a report says which CPU trained its models."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.machine()


def write_report(report: dict[str, Any], output: Path) -> None:
    """Save a benchmark's figures as indented JSON (creating the folder) and say where."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {output}")


def sized_settings(
    sized: CorpusSettings,
    *,
    seed: int,
    threads: int,
    max_steps: int,
    eval_frequency: int | None,
    encoder: EncoderChoice | None = None,
    pipeline: str | None = None,
) -> TrainSettings:
    """What the product trains a corpus of this size with (``ner.sizing``), with a bench's step limit and seed."""
    return TrainSettings(
        seed=seed,
        threads=threads,
        max_steps=max_steps,
        patience=sized.patience,
        eval_frequency=eval_frequency,
        dropout=sized.dropout,
        batch_size_start=sized.batch_size_start,
        batch_size_stop=sized.batch_size_stop,
        chosen_by=f"{sized.rule}: {sized.reason}; {sized.dropout_reason}",
        encoder=encoder,
        pipeline=pipeline,
        calibration_folds=CALIBRATION_FOLDS,
    )

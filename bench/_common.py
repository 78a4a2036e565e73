"""What the benchmark scripts share: the training data they hand ``spacy train``, and how they save a report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import DocBin

from ner.types import LabeledDoc


def write_docbin(docs: Sequence[LabeledDoc], path: Path, *, language: str = "en") -> None:
    """The entities ner.train builds: spans widened to whole tokens, overlapping ones dropped."""
    nlp = spacy.blank(language)
    docbin = DocBin(store_user_data=False)
    for labeled in docs:
        doc = nlp.make_doc(labeled.text)
        ents, last = [], 0
        for span in labeled.sorted_spans():
            ent = doc.char_span(span.start, span.end, label=span.label, alignment_mode="expand")
            if ent is not None and ent.start >= last:
                ents.append(ent)
                last = ent.end
        doc.set_ents(ents, default="outside")
        docbin.add(doc)
    docbin.to_disk(path)


def write_report(report: dict[str, Any], output: Path) -> None:
    """Save a benchmark's figures as indented JSON (creating the folder) and say where."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {output}")

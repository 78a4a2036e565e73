"""What the benchmarks hand ``spacy train`` (the CLI side of a comparison): the entities ner.train builds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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

"""ner.snapshot: a frozen training set's hash. No database."""

from __future__ import annotations

from ner.snapshot import snapshot_hash
from ner.types import LabeledDoc, Span


def _docs() -> list[LabeledDoc]:
    return [
        LabeledDoc(text="Alice lives in Paris.", spans=(Span(15, 20, "CITY"), Span(0, 5, "PERSON")), split="train"),
        LabeledDoc(text="Bob visited Rome.", spans=(Span(0, 3, "PERSON"),), split="test", language="en"),
    ]


def test_snapshot_hash_ignores_names_and_order():
    docs = _docs()
    renamed = [
        type(doc)(text=doc.text, spans=doc.spans, name="x", split=doc.split, language=doc.language) for doc in docs
    ]
    assert snapshot_hash(list(reversed(renamed))) == snapshot_hash(docs)

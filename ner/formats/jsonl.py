"""nerlab's own JSONL: one document per line with code point offsets (``end`` exclusive).

``{"text": "...", "spans": [{"start": 0, "end": 5, "label": "ORG"}], "name": "a.txt", "language": "en",
"split": "train", "meta": {...}}`` — only ``text`` is required. Offsets count Unicode code points, as Python does.
Other fields are kept as metadata; a field where another format keeps spans (doccano's ``label``, Label Studio's
``annotations``...) is refused, naming the format that reads it, and so is a Prodigy record (``answer``), whose
rejected spans must not become gold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ner.formats.common import (
    decode_input,
    documents_read,
    dump_documents_jsonl,
    iter_objects,
    meta_of,
    read_document,
    read_meta,
    read_span,
    refuse_prodigy_record,
    refuse_unread_spans,
    type_name,
)
from ner.formats.errors import Problems
from ner.types import LabeledDoc, Span

_KNOWN = {"text", "spans", "name", "language", "split", "meta"}


def read_jsonl(data: bytes, *, file_name: str = "", notes: list[str] | None = None) -> list[LabeledDoc]:
    problems = Problems(file_name)
    content = decode_input(data, problems)
    docs: list[LabeledDoc] = []
    records = 0
    for where, row in iter_objects(content, problems, notes):
        records += 1
        before = len(problems)
        doc = _read_row(row, where, problems) if row is not None else None
        if doc is not None and len(problems) == before:
            docs.append(doc)
    return documents_read(docs, problems, records=records)


def _read_row(row: dict[str, Any], where: str, problems: Problems) -> LabeledDoc | None:
    text = row.get("text")
    if not isinstance(text, str):
        problems.add(f"'text' must be a string, not {type_name(text)}", where=where, field="'text'")
        return None
    if refuse_prodigy_record(row, problems, where=where):
        return None
    refuse_unread_spans(row, {"spans"}, problems, where=where, reader="jsonl")
    spans: list[Span] = []
    raw_spans = row.get("spans", [])
    if not isinstance(raw_spans, list):
        problems.add(f"'spans' must be a list, not {type_name(raw_spans)}", where=where, field="'spans'")
        raw_spans = []
    for index, raw in enumerate(raw_spans):
        field = f"'spans'[{index}]"
        if not isinstance(raw, dict):
            problems.add(
                f"a span must be an object with start, end and label, not {type_name(raw)}", where=where, field=field
            )
            continue
        span = read_span(
            raw.get("start"),
            raw.get("end"),
            raw.get("label"),
            text,
            problems,
            where=where,
            field=field,
            label_field=f"{field}.'label'",
        )
        if span is not None:
            spans.append(span)
    meta = meta_of(row, _KNOWN, problems, where=where)
    meta.update(read_meta(row.get("meta"), problems, where=where, field="'meta'"))
    return read_document(
        text,
        spans,
        meta,
        problems,
        where=where,
        name=row.get("name"),
        language=row.get("language"),
        split=row.get("split"),
    )


def write_jsonl(docs: Sequence[LabeledDoc]) -> bytes:
    return dump_documents_jsonl(
        docs, spans_field="spans", span_value=lambda span: {"start": span.start, "end": span.end, "label": span.label}
    )

"""doccano's sequence-labelling JSONL: ``{"text": "...", "label": [[start, end, "TYPE"], ...]}`` per line.

Shapes read, by doccano version:

- 1.7+: ``text`` with ``label`` triples, or ``entities`` objects (``start_offset``/``end_offset``/``label``,
  the relation-extraction export; its ``relations`` are not held by nerlab, which the report says);
- 1.6: the text under ``data``, ``label`` triples, ``user`` and the ``metadata`` object or flattened metadata;
- ≤ 1.5: ``labels`` triples (upload), or ``annotations`` objects. Their ``label`` is a number — the id of a
  label in the doccano project, which the file does not name — so such a file is refused: importing it would
  invent entity types called "1" and "2".
- a pretty-printed JSON list of such records (doccano's JSON export) instead of JSONL.

doccano lets the user name the columns (``column_data``/``column_label`` in its own examples): ``text_key`` and
``label_key`` choose them. A line without text is refused, naming it, unless ``skip_missing_text`` (what doccano
itself does), when it is skipped and the notes say which lines. doccano counts offsets in Unicode code points
(its backend is Python), like nerlab. Other top-level fields are kept as metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ner.formats.common import (
    decode_input,
    documents_read,
    dump_documents_jsonl,
    is_int,
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

SPAN_KEYS = ("label", "labels", "entities", "annotations")
_KNOWN = {"text", "data", "id", "meta", "metadata", "name", "language", "split", "relations", *SPAN_KEYS}


def _read_spans(raw_spans: list[Any], key: str, text: str, problems: Problems, where: str) -> list[Span]:
    spans: list[Span] = []
    for index, raw in enumerate(raw_spans):
        field = f"'{key}'[{index}]"
        if isinstance(raw, dict):  # 1.7+ "entities", ≤ 1.5 "annotations"
            start, end, label_value = raw.get("start_offset"), raw.get("end_offset"), raw.get("label")
        elif isinstance(raw, list) and len(raw) in (3, 4):  # a 4th item is the span's text in some tools
            start, end, label_value = raw[:3]
        else:
            problems.add(f'a label must be [start, end, "TYPE"], not {raw!r}', where=where, field=field)
            continue
        if is_int(label_value):
            problems.add(
                f"the label is {label_value}, a doccano label id, not a name: this download (doccano 1.5 and "
                f"earlier) does not say which entity type id {label_value} is; export the project again as JSONL "
                "with label names",
                where=where,
                field=field,
            )
            continue
        span = read_span(start, end, label_value, text, problems, where=where, field=field)
        if span is not None:
            spans.append(span)
    return spans


def read_doccano(
    data: bytes,
    *,
    file_name: str = "",
    notes: list[str] | None = None,
    text_key: str = "",
    label_key: str = "",
    skip_missing_text: bool = False,
) -> list[LabeledDoc]:
    problems = Problems(file_name)
    content = decode_input(data, problems)
    docs: list[LabeledDoc] = []
    records = 0
    skipped: list[str] = []
    relations = 0
    for where, row in iter_objects(content, problems, notes):
        if row is None:
            records += 1
            continue
        text_field = text_key or ("text" if "text" in row or "data" not in row else "data")
        text = row.get(text_field)
        if text is None and skip_missing_text:
            skipped.append(where)
            continue
        records += 1
        before = len(problems)
        if not isinstance(text, str):
            present = ", ".join(repr(key) for key in row) or "none"
            problems.add(
                f"no text: '{text_field}' is {type_name(text)} (fields present: {present}); choose the text "
                "column, or skip lines without text",
                where=where,
                field=f"'{text_field}'",
            )
            continue
        if refuse_prodigy_record(row, problems, where=where):
            continue
        span_keys = (label_key,) if label_key else SPAN_KEYS
        refuse_unread_spans(row, set(span_keys), problems, where=where, reader="doccano")
        spans: list[Span] = []
        for key in span_keys:
            raw_spans = row.get(key)
            if raw_spans is None:
                continue
            if not isinstance(raw_spans, list):
                problems.add(f"'{key}' must be a list, not {type_name(raw_spans)}", where=where, field=f"'{key}'")
                continue
            if key == "annotations" and any(isinstance(item, dict) and "result" in item for item in raw_spans):
                problems.add(
                    "'annotations' holds Label Studio results, not doccano spans; import the file as label-studio",
                    where=where,
                    field="'annotations'",
                )
                continue
            spans.extend(_read_spans(raw_spans, key, text, problems, where))
        if isinstance(row.get("relations"), list):
            relations += len(row["relations"])
        meta = meta_of(row, _KNOWN | {text_field, *span_keys}, problems, where=where)
        for key in ("meta", "metadata"):
            meta.update(read_meta(row.get(key), problems, where=where, field=f"'{key}'"))
        name_value = row.get("name", meta.pop("name", None))
        if name_value is None:
            name_value = row.get("id")
        doc = read_document(
            text,
            spans,
            meta,
            problems,
            where=where,
            name=name_value,
            language=row.get("language", meta.pop("language", None)),
            split=row.get("split", meta.pop("split", None)),
        )
        if len(problems) == before:
            docs.append(doc)
    if notes is not None:
        if skipped:
            shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10:,} more" if len(skipped) > 10 else "")
            notes.append(f"{len(skipped):,} record{'s' if len(skipped) != 1 else ''} without text skipped: {shown}")
        if relations:
            notes.append(f"{relations:,} relation{'s' if relations != 1 else ''} not imported: nerlab holds entities")
    return documents_read(docs, problems, records=records)


def write_doccano(docs: Sequence[LabeledDoc]) -> bytes:
    return dump_documents_jsonl(docs, spans_field="label", span_value=lambda span: [span.start, span.end, span.label])

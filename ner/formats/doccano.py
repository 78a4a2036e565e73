"""doccano's sequence-labelling JSONL: ``{"text": "...", "label": [[start, end, "TYPE"], ...]}`` per line.

Accepted on import: ``label`` (doccano 1.x) or the older ``labels`` key, each a list of ``[start, end, label]``
triples; doccano 1.7+'s ``entities`` list of ``{"start_offset", "end_offset", "label"}`` objects; optional ``id``
and ``meta``. doccano counts offsets in Unicode code points (its backend is Python), like nerlab. doccano keeps
any other top-level key as metadata, so the writer puts ``name``, ``language`` and ``split`` there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ner.formats.common import (
    check_label,
    check_offsets,
    decode_input,
    dump_jsonl,
    parse_text_rows,
    read_language,
    read_meta,
    read_name,
    read_split,
    type_name,
)
from ner.formats.errors import Problems
from ner.types import LabeledDoc, Span

_KNOWN_KEYS = {"text", "label", "labels", "entities", "id", "meta", "name", "language", "split", "Comments"}


def _read_triples(raw_spans: list[Any], key: str, text: str, problems: Problems, where: str) -> list[Span]:
    spans: list[Span] = []
    for index, raw in enumerate(raw_spans):
        field = f"'{key}'[{index}]"
        if isinstance(raw, dict):  # doccano 1.7+ "entities" objects
            start, end, label_value = raw.get("start_offset"), raw.get("end_offset"), raw.get("label")
        elif isinstance(raw, list) and len(raw) == 3:
            start, end, label_value = raw
        else:
            problems.add(f'a label must be [start, end, "TYPE"], not {raw!r}', where=where, field=field)
            continue
        label = check_label(label_value, problems, where=where, field=field)
        if check_offsets(start, end, len(text), problems, where=where, field=field) and label is not None:
            assert isinstance(start, int) and isinstance(end, int)
            spans.append(Span(start, end, label))
    return spans


def read_doccano(data: bytes, *, file_name: str = "") -> list[LabeledDoc]:
    problems = Problems(file_name)
    content = decode_input(data, problems)
    docs: list[LabeledDoc] = []
    for where, row, text in parse_text_rows(content, problems):
        spans: list[Span] = []
        for key in ("label", "labels", "entities"):
            raw_spans = row.get(key)
            if raw_spans is None:
                continue
            if not isinstance(raw_spans, list):
                problems.add(f"'{key}' must be a list, not {type_name(raw_spans)}", where=where, field=f"'{key}'")
                continue
            spans.extend(_read_triples(raw_spans, key, text, problems, where))
        meta = read_meta(row.get("meta"), problems, where=where, field="'meta'")
        # Other top-level keys are doccano's flattened metadata columns: keep them too.
        meta.update(read_meta({k: v for k, v in row.items() if k not in _KNOWN_KEYS}, problems, where=where, field=""))
        name_value = row.get("name", meta.pop("name", None))
        if name_value is None:
            name_value = row.get("id")
        docs.append(
            LabeledDoc(
                text=text,
                spans=tuple(sorted(spans)),
                name=read_name(name_value, problems, where=where, field="'name'"),
                language=read_language(
                    row.get("language", meta.pop("language", None)), problems, where=where, field="'language'"
                ),
                split=read_split(row.get("split", meta.pop("split", None)), problems, where=where, field="'split'"),
                meta=meta,
            )
        )
    if not docs and not problems:
        problems.add("the file holds no documents")
    problems.raise_if_any()
    return docs


def write_doccano(docs: Sequence[LabeledDoc]) -> bytes:
    rows: list[dict[str, Any]] = []
    for doc in docs:
        row: dict[str, Any] = {
            "text": doc.text,
            "label": [[span.start, span.end, span.label] for span in doc.sorted_spans()],
        }
        for key, value in (("name", doc.name), ("language", doc.language), ("split", doc.split)):
            if value:
                row[key] = value
        if doc.meta:
            row["meta"] = dict(doc.meta)
        rows.append(row)
    return dump_jsonl(rows)

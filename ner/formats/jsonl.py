"""nerlab's own JSONL: one document per line with code point offsets (``end`` exclusive).

``{"text": "...", "spans": [{"start": 0, "end": 5, "label": "ORG"}], "name": "a.txt", "language": "en",
"split": "train", "meta": {...}}`` — only ``text`` is required. Offsets count Unicode code points, as Python does.
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


def read_jsonl(data: bytes, *, file_name: str = "") -> list[LabeledDoc]:
    problems = Problems(file_name)
    text_of_file = decode_input(data, problems)
    docs: list[LabeledDoc] = []
    for where, row, text in parse_text_rows(text_of_file, problems):
        spans: list[Span] = []
        raw_spans = row.get("spans", [])
        if not isinstance(raw_spans, list):
            problems.add(f"'spans' must be a list, not {type_name(raw_spans)}", where=where, field="'spans'")
            raw_spans = []
        for index, raw in enumerate(raw_spans):
            field = f"'spans'[{index}]"
            if not isinstance(raw, dict):
                problems.add(
                    f"a span must be an object with start, end and label, not {type_name(raw)}",
                    where=where,
                    field=field,
                )
                continue
            label = check_label(raw.get("label"), problems, where=where, field=f"{field}.'label'")
            start, end = raw.get("start"), raw.get("end")
            if check_offsets(start, end, len(text), problems, where=where, field=field) and label is not None:
                assert isinstance(start, int) and isinstance(end, int)
                spans.append(Span(start, end, label))
        docs.append(
            LabeledDoc(
                text=text,
                spans=tuple(sorted(spans)),
                name=read_name(row.get("name"), problems, where=where, field="'name'"),
                language=read_language(row.get("language"), problems, where=where, field="'language'"),
                split=read_split(row.get("split"), problems, where=where, field="'split'"),
                meta=read_meta(row.get("meta"), problems, where=where, field="'meta'"),
            )
        )
    if not docs and not problems:
        problems.add("the file holds no documents")
    problems.raise_if_any()
    return docs


def write_jsonl(docs: Sequence[LabeledDoc]) -> bytes:
    rows: list[dict[str, Any]] = []
    for doc in docs:
        row: dict[str, Any] = {
            "text": doc.text,
            "spans": [{"start": span.start, "end": span.end, "label": span.label} for span in doc.sorted_spans()],
        }
        if doc.name:
            row["name"] = doc.name
        if doc.language:
            row["language"] = doc.language
        if doc.split:
            row["split"] = doc.split
        if doc.meta:
            row["meta"] = dict(doc.meta)
        rows.append(row)
    return dump_jsonl(rows)

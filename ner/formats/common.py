"""Helpers every reader shares: decoding bytes, parsing JSON with positions, checking offsets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ner.formats.errors import Problems
from ner.json_input import JsonInputError, load_json
from ner.names import InvalidName, normalize_language
from ner.text import DecodeError, decode_bytes
from ner.types import SPLITS, LabeledDoc, Span, Split


def decode_input(data: bytes, problems: Problems) -> str:
    """The file's text by nerlab's one decoding rule (ner.text.decode_bytes); a failure stops reading."""
    try:
        text = decode_bytes(data)
    except DecodeError as error:
        raise problems.fail(str(error), where=f"line {error.line}" if error.line else "") from None
    if not text.strip():
        raise problems.fail("the file holds only whitespace")
    return text


def _json_error_message(error: json.JSONDecodeError, text: str) -> str:
    reason = error.msg.removesuffix(" at")  # "Unterminated string starting at": the position follows separately
    end = text.rstrip()
    # An unterminated string reports where the string starts; a missing closing bracket shows truncation best.
    if error.pos >= len(end) or not end.endswith(("}", "]")):
        return f"the JSON ends too early (is the file cut off?): {reason}"
    return f"the JSON is malformed: {reason}"


def parse_json(text: str, problems: Problems) -> Any:
    """Parse a whole JSON document; a syntax error stops reading and says at which line and column."""
    try:
        return load_json(text)
    except JsonInputError as error:
        raise problems.fail(str(error)) from None
    except json.JSONDecodeError as error:
        raise problems.fail(
            _json_error_message(error, text), where=f"line {error.lineno}, column {error.colno}"
        ) from None


def parse_jsonl(text: str, problems: Problems) -> Iterator[tuple[int, Any]]:
    """(line number, value) for every non-blank line; a line that is not JSON is a problem, reading goes on."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, load_json(line)
        except JsonInputError as error:
            problems.add(str(error), where=f"line {number}")
        except json.JSONDecodeError as error:
            problems.add(_json_error_message(error, line), where=f"line {number}, column {error.colno}")


def is_int(value: object) -> bool:
    """JSON integers only: ``true`` is not an offset, and neither is ``3.5``."""
    return isinstance(value, int) and not isinstance(value, bool)


def type_name(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def check_offsets(
    start: object, end: object, text_length: int, problems: Problems, *, where: str, field: str, unit: str = ""
) -> bool:
    """Whether [start, end) is a non-empty range inside a text of ``text_length``; each fault becomes a problem."""
    ok = True
    for name, value in (("start", start), ("end", end)):
        if not is_int(value):
            problems.add(f"{name} must be a whole number, not {type_name(value)} {value!r}", where=where, field=field)
            ok = False
    if not ok:
        return False
    assert isinstance(start, int) and isinstance(end, int)
    characters = f"{text_length} {unit or 'characters'}"
    if start < 0:
        problems.add(f"start {start} is negative", where=where, field=field)
        return False
    if end > text_length:
        problems.add(f"end {end} is past the end of the text ({characters})", where=where, field=field)
        return False
    if end <= start:
        problems.add(f"end {end} must be greater than start {start}", where=where, field=field)
        return False
    return True


def check_label(label: object, problems: Problems, *, where: str, field: str) -> str | None:
    if not isinstance(label, str) or not label.strip():
        problems.add(f"the label must be a non-empty string, not {label!r}", where=where, field=field)
        return None
    return label


def read_span(
    start: object,
    end: object,
    label: object,
    text: str,
    problems: Problems,
    *,
    where: str,
    field: str,
    label_field: str = "",
) -> Span | None:
    """The span of ``label`` over [start, end) of ``text``, or None when its label or its offsets are at fault (the
    label's problem first, under ``label_field`` when it has a field of its own)."""
    checked_label = check_label(label, problems, where=where, field=label_field or field)
    if check_offsets(start, end, len(text), problems, where=where, field=field) and checked_label is not None:
        assert isinstance(start, int) and isinstance(end, int)
        return Span(start, end, checked_label)
    return None


def read_language(value: object, problems: Problems, *, where: str, field: str) -> str | None:
    """A BCP-47 code in canonical case, or None when absent; a bad code is a problem."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.add(f"the language must be a string such as 'en-US', not {type_name(value)}", where=where, field=field)
        return None
    try:
        return normalize_language(value)
    except InvalidName as error:
        problems.add(str(error), where=where, field=field)
        return None


def read_split(value: object, problems: Problems, *, where: str, field: str) -> Split | None:
    """'train'/'test' in any case (Azure writes 'Train'/'Test'), or None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        lowered = value.strip().lower()
        for split in SPLITS:
            if lowered == split:
                return split
    problems.add(f"the split must be 'train' or 'test', not {value!r}", where=where, field=field)
    return None


def read_name(value: object, problems: Problems, *, where: str, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if is_int(value):
        return str(value)  # doccano and Label Studio ids are numbers
    problems.add(f"the name must be a string, not {type_name(value)}", where=where, field=field)
    return ""


def read_document(
    text: str,
    spans: Iterable[Span],
    meta: dict[str, str],
    problems: Problems,
    *,
    where: str,
    name: object,
    language: object,
    split: object,
    field_prefix: str = "",
) -> LabeledDoc:
    """A record's document: its spans in order, and its name, language and split read by the one rule each
    (a problem names its field under ``field_prefix``, e.g. ``'data'.`` for a Label Studio task's data)."""
    return LabeledDoc(
        text=text,
        spans=tuple(sorted(spans)),
        name=read_name(name, problems, where=where, field=f"{field_prefix}'name'"),
        language=read_language(language, problems, where=where, field=f"{field_prefix}'language'"),
        split=read_split(split, problems, where=where, field=f"{field_prefix}'split'"),
        meta=meta,
    )


def documents_read(
    docs: list[LabeledDoc], problems: Problems, *, records: int, noun: str = "documents"
) -> list[LabeledDoc]:
    """A reader's documents once every record is read: a file without records is a problem too, and any problem
    stops the reader (its FormatError counts the records and keeps the documents that were readable)."""
    if not records and not problems:
        problems.add(f"the file holds no {noun}")
    problems.raise_if_any(records=records, readable=docs)
    return docs


def read_meta(value: object, problems: Problems, *, where: str, field: str) -> dict[str, str]:
    """Free-form metadata as strings; nested values are kept as JSON text so nothing is lost."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"meta must be an object, not {type_name(value)}", where=where, field=field)
        return {}
    return {
        str(key): item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for key, item in value.items()
    }


def dump_jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def document_fields(doc: LabeledDoc) -> dict[str, str]:
    """The name, language and split a document has (empty ones left out), as the JSON writers store them."""
    fields = (("name", doc.name), ("language", doc.language), ("split", doc.split))
    return {key: value for key, value in fields if value}


def dump_documents_jsonl(docs: Iterable[LabeledDoc], *, spans_field: str, span_value: Callable[[Span], Any]) -> bytes:
    """JSONL with one document a line, as the JSONL writers store it: its text, its spans in offset order under
    ``spans_field`` (each as ``span_value`` writes it, in the format's own shape), the name, language and split it
    has, and its metadata under ``meta`` when it has any."""
    rows: list[dict[str, Any]] = []
    for doc in docs:
        row: dict[str, Any] = {"text": doc.text, spans_field: [span_value(span) for span in doc.sorted_spans()]}
        row.update(document_fields(doc))
        if doc.meta:
            row["meta"] = dict(doc.meta)
        rows.append(row)
    return dump_jsonl(rows)


# --- records: JSONL lines, or the elements of one JSON document ---------------------------------------------------


class _Unreadable:
    """A record that is not JSON: its problem is already reported; it still counts as one of the file's records."""


UNREADABLE = _Unreadable()


def iter_records(content: str, problems: Problems, notes: list[str] | None) -> Iterator[tuple[str, object]]:
    """(where, value) for every record of a JSONL file, or of a JSON document holding a list of records.

    doccano's and Label Studio's JSON exports, and hand-edited files, are often one pretty-printed JSON document
    rather than one object per line; read as JSONL, every line of it would be an error. Such a file is read as
    the document it is, and ``notes`` says so once. A line that is not JSON yields ``UNREADABLE``.
    """
    stripped = content.lstrip()
    first_line = stripped.split("\n", 1)[0].strip()
    whole: object = UNREADABLE
    if stripped.startswith("[") or first_line == "{":
        whole = parse_json(content, problems)  # a JSON document: one syntax error is the whole file's
    elif stripped.startswith("{") and not _is_json(first_line):
        try:
            whole = load_json(content)
        except (json.JSONDecodeError, JsonInputError):
            whole = UNREADABLE  # JSONL whose first line is broken: each line is reported on its own
    if isinstance(whole, list):
        if notes is not None and "\n" in stripped.rstrip():
            notes.append(f"the file is one JSON document (a list of {len(whole):,} records), not JSONL; read as such")
        for index, value in enumerate(whole, start=1):
            yield f"record {index}", value
        return
    if isinstance(whole, dict):
        if notes is not None:
            notes.append("the file is one pretty-printed JSON object, not JSONL; read as one record")
        yield "record 1", whole
        return
    if whole is not UNREADABLE:
        raise problems.fail(f"the file is a JSON {type_name(whole)}, not records (JSON objects)")
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", load_json(line)
        except JsonInputError as error:
            problems.add(str(error), where=f"line {number}")
            yield f"line {number}", UNREADABLE
        except json.JSONDecodeError as error:
            problems.add(_json_error_message(error, line), where=f"line {number}, column {error.colno}")
            yield f"line {number}", UNREADABLE


def iter_objects(
    content: str, problems: Problems, notes: list[str] | None, *, noun: str = "record"
) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """``iter_records``, each record a JSON object, or None for one that is not (not JSON, or another JSON value):
    its problem is reported, and the reader still counts it as one of the file's ``noun``s."""
    for where, row in iter_records(content, problems, notes):
        if row is UNREADABLE:
            yield where, None
        elif not isinstance(row, dict):
            problems.add(f"each {noun} must be a JSON object, not {type_name(row)}", where=where)
            yield where, None
        else:
            yield where, row


def _is_json(text: str) -> bool:
    try:
        load_json(text)
    except (json.JSONDecodeError, JsonInputError):
        return False
    return True


# --- span data in a field the chosen reader does not read -------------------------------------------------------

# Fields in which the peers' formats keep spans, and the format that reads each. A record whose spans sit in a
# field its reader ignores would import as text alone — "Imported.", spans gone — so it is refused instead.
SPAN_FIELDS: dict[str, str] = {
    "label": "doccano",
    "labels": "doccano",
    "entities": "doccano",
    "annotations": "doccano or label-studio",
    "spans": "jsonl or prodigy",
    "completions": "label-studio",
    "predictions": "label-studio",
    "result": "label-studio",
    "ner_tags": "conll (token tags)",
    "tags": "conll (token tags)",
}


def _holds_spans(value: object) -> bool:
    """Span data is a non-empty list of lists or objects: ``["positive"]`` is a document label, not a span."""
    return isinstance(value, list) and any(isinstance(item, list | dict) for item in value)


def _reader_for(key: str, value: object) -> str:
    if key == "annotations" and isinstance(value, list):
        first = next((item for item in value if isinstance(item, dict)), {})
        if "result" in first:
            return "label-studio"
        if "start_offset" in first:
            return "doccano"
    if key in {"ner_tags", "tags"}:
        return "conll (convert the token tags to a token-per-line file)"
    return SPAN_FIELDS[key]


def refuse_unread_spans(row: dict[str, Any], read: set[str], problems: Problems, *, where: str, reader: str) -> None:
    """A problem for every field of ``row`` that holds spans the ``reader`` format does not read (``read``)."""
    for key, value in row.items():
        if key in read or key not in SPAN_FIELDS or not _holds_spans(value):
            continue
        problems.add(
            f"'{key}' holds span data that the {reader} format does not read (the spans would be lost); "
            f"import the file as {_reader_for(key, value)}",
            where=where,
            field=f"'{key}'",
        )


PRODIGY_FIELDS = ("answer", "_input_hash", "_task_hash")


def refuse_prodigy_record(row: dict[str, Any], problems: Problems, *, where: str) -> bool:
    """A Prodigy record read by another reader would ignore its answer (a rejected task would become a document,
    its rejected spans gold): refuse it, naming the field. Returns whether it was refused."""
    found = [key for key in PRODIGY_FIELDS if key in row]
    if found:
        problems.add(
            f"this is a Prodigy record ({', '.join(repr(key) for key in found)}); import the file as prodigy, "
            "which keeps accepted spans and skips rejected ones",
            where=where,
            field=f"'{found[0]}'",
        )
    return bool(found)


def meta_of(row: dict[str, Any], known: set[str], problems: Problems, *, where: str) -> dict[str, str]:
    """Every field outside ``known`` (and outside SPAN_FIELDS) as metadata, so that nothing is dropped unsaid."""
    extra = {
        key: value
        for key, value in row.items()
        # An empty value (doccano's "Comments": []) says nothing; span data is refused elsewhere, not metadata.
        if key not in known and value not in (None, [], {}) and not (key in SPAN_FIELDS and _holds_spans(value))
    }
    return read_meta(extra, problems, where=where, field="")

"""Helpers every reader shares: decoding bytes, parsing JSON with positions, checking offsets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ner.formats.errors import Problems
from ner.names import InvalidName, normalize_language
from ner.text import DecodeError, decode_bytes
from ner.types import SPLITS, Split


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
        return json.loads(text)
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
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            problems.add(_json_error_message(error, line), where=f"line {number}, column {error.colno}")


def parse_text_rows(content: str, problems: Problems) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(where, row, text) for every JSONL line that is an object with a string ``text``; others are problems."""
    for number, row in parse_jsonl(content, problems):
        where = f"line {number}"
        if not isinstance(row, dict):
            problems.add(f"each line must be a JSON object, not {type_name(row)}", where=where)
            continue
        text = row.get("text")
        if not isinstance(text, str):
            problems.add(f"'text' must be a string, not {type_name(text)}", where=where, field="'text'")
            continue
        yield where, row, text


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

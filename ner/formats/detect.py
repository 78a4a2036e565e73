"""Which format a file is in, from its content: for the ``auto`` format, and to say what a wrongly chosen one is.

Each rule looks for what only one format has — a zip (Azure), a DocBin's zlib stream (spaCy), Prodigy's
``answer``/``_input_hash``, Label Studio's ``data``/``annotations``/``result`` or JSON_MIN's ``labels`` lists,
doccano's ``label`` triples or ``start_offset`` objects, nerlab's ``spans`` objects, and token-per-line tags
(CoNLL) — in the first records of the file. ``detect_format`` returns None when nothing fits.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ner.json_input import JsonInputError, load_json
from ner.text import DecodeError, decode_bytes

_SAMPLE_RECORDS = 50


class Detection(NamedTuple):
    """``format`` is "" for a known kind of file that holds no documents to import (patterns, spaCy v2 JSON)."""

    format: str
    looks_like: str  # "a Label Studio export (tasks with 'data' and 'annotations')"


# Records with a text and nothing else fit several formats; a record with spans says more, so it decides.
_PLAIN_TEXT = Detection("jsonl", "JSONL records with 'text' and no spans")


def _record_format(row: dict[str, Any]) -> Detection | None:
    if "pattern" in row and "label" in row and "text" not in row:
        return Detection("", "a file of match patterns (label + pattern) for spaCy or Prodigy, not annotated texts")
    if isinstance(row.get("paragraphs"), list):
        return Detection(
            "",
            "a spaCy v2 JSON training file; convert it with `python -m spacy convert file.json .` and import the "
            ".spacy file",
        )
    if any(key in row for key in ("answer", "_input_hash", "_task_hash")):
        return Detection("prodigy", "a Prodigy dataset (tasks with 'answer' and '_input_hash')")
    annotations = row.get("annotations")
    if isinstance(row.get("data"), dict) or "completions" in row or "predictions" in row:
        return Detection("label-studio", "a Label Studio export (tasks with 'data' and 'annotations')")
    if isinstance(annotations, list) and any(isinstance(item, dict) and "result" in item for item in annotations):
        return Detection("label-studio", "a Label Studio export (tasks with 'data' and 'annotations')")
    if any(
        isinstance(value, list) and value and all(isinstance(item, dict) and "labels" in item for item in value)
        for value in row.values()
    ):
        return Detection("label-studio", "a Label Studio JSON_MIN export (spans as {start, end, labels})")
    if any(
        isinstance(value, list)
        and value
        and all(isinstance(item, list) and len(item) in (3, 4) and isinstance(item[2], str) for item in value)
        for value in row.values()
    ):
        # [start, end, "TYPE"] triples under any name: doccano lets the user name the column
        return Detection("doccano", "a doccano export (records with [start, end, type] lists)")
    if isinstance(row.get("spans"), list):
        return Detection("jsonl", "nerlab JSONL (records with 'spans' objects)")
    if (
        any(key in row for key in ("label", "labels", "entities"))
        or isinstance(row.get("data"), str)
        or (
            isinstance(annotations, list)
            and any(isinstance(item, dict) and "start_offset" in item for item in annotations)
        )
    ):
        return Detection("doccano", "a doccano export (records with 'label' [start, end, type] lists)")
    if isinstance(row.get("text"), str):
        return _PLAIN_TEXT
    return None


def _records_format(records: list[Any]) -> Detection | None:
    found = [_record_format(row) for row in records[:_SAMPLE_RECORDS] if isinstance(row, dict)]
    specific = [item for item in found if item is not None and item != _PLAIN_TEXT]
    if specific:
        return specific[0]
    return next((item for item in found if item is not None), None)


def _json_records(text: str) -> list[Any] | None:
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            whole = load_json(text, refuse_nul=False)  # detection only looks; the reader refuses a NUL
        except (json.JSONDecodeError, JsonInputError):
            whole = None
        if isinstance(whole, list):
            return whole
        if isinstance(whole, dict):
            return [whole]
    records: list[Any] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            records.append(load_json(line, refuse_nul=False))
        except (json.JSONDecodeError, JsonInputError):
            continue
        if len(records) >= _SAMPLE_RECORDS:
            break
    return records or None


_LABEL_STUDIO_COLUMNS = {"annotation_id", "annotator", "lead_time"}


def _looks_like_label_studio_csv(text: str) -> bool:
    """A header row naming Label Studio's own columns (or the text and label columns), or a first row holding spans
    as JSON text."""
    header, _, rest = text.partition("\n")
    delimiter = "\t" if "\t" in header else ","
    columns = {column.strip().strip('"') for column in header.split(delimiter)}
    first_row = rest.split("\n", 1)[0]
    return (
        bool(columns & _LABEL_STUDIO_COLUMNS)
        or {"text", "label"} <= columns
        or ('"labels"' in first_row and '""start""' in first_row)
    )


def _looks_like_conll(text: str) -> bool:
    lines = [line for line in text.split("\n")[:2_000] if line.strip()]
    if not lines:
        return False
    columned = sum(1 for line in lines if len(line.split("\t") if "\t" in line else line.split()) >= 2)
    piped = all(all("|" in part for part in line.split()) for line in lines)
    return piped or columned >= 0.9 * len(lines)


def detect_format(data: bytes) -> Detection | None:
    if data[:4] == b"PK\x03\x04":
        return Detection("azure", "a zip (Azure AI Language labels JSON with its .txt files)")
    if data[:1] == b"\x78" and data[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        return Detection("spacy", "a spaCy DocBin (.spacy)")
    try:
        text = decode_bytes(data)
    except DecodeError:
        return None
    # A CSV whose quoted cells span lines can hold a line that parses as JSON (a bare number): the header decides.
    if not text.lstrip().startswith(("{", "[")) and _looks_like_label_studio_csv(text):
        return Detection("label-studio-csv", "a Label Studio CSV/TSV export (annotator and annotation_id columns)")
    records = _json_records(text)
    if records is not None:
        first = records[0] if records else None
        if isinstance(first, dict) and ("assets" in first or "projectFileVersion" in first):
            return Detection("azure", "an Azure AI Language labels JSON")
        return _records_format(records)
    if _looks_like_label_studio_csv(text):
        return Detection("label-studio-csv", "a Label Studio CSV/TSV export (annotator and annotation_id columns)")
    if _looks_like_conll(text):
        return Detection("conll", "a CoNLL token-per-line file")
    return None

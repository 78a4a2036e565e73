"""File formats: one reader and one writer per format, all speaking ``ner.types.LabeledDoc``.

``ner.formats.detect.detect_format`` says which format a file's content is in (the ``auto`` import choice).

``FORMATS`` maps a format's name to ``FormatSpec(reader, writer, description, extension)``. Every reader takes the
file's bytes (plus its name, for messages) and returns every document or raises :class:`FormatError` listing every
problem with its place — never half a file. Every writer returns the bytes of one file. Format-specific options
(tag scheme, tokenizer, Label Studio's data key, Azure project settings) are keyword arguments of the functions in
each module; the registry's entries use their defaults.

Readers check that offsets lie inside the text; the project's own span rules (overlap, length, whitespace) are
checked by the caller with ``ner.spans.span_problems``, because they depend on project settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from ner.formats.azure import read_azure, write_azure
from ner.formats.conll import read_conll, write_conll
from ner.formats.docbin import read_docbin, write_docbin
from ner.formats.doccano import read_doccano, write_doccano
from ner.formats.errors import FormatError, Problem
from ner.formats.jsonl import read_jsonl, write_jsonl
from ner.formats.label_studio import (
    read_label_studio,
    read_label_studio_csv,
    write_label_studio,
    write_label_studio_csv,
)
from ner.formats.prodigy import read_prodigy, write_prodigy
from ner.types import LabeledDoc


class Reader(Protocol):
    def __call__(self, data: bytes, *, file_name: str = ...) -> list[LabeledDoc]: ...


class Writer(Protocol):
    def __call__(self, docs: Sequence[LabeledDoc]) -> bytes: ...


class FormatSpec(NamedTuple):
    reader: Reader
    writer: Writer
    description: str
    extension: str


FORMATS: dict[str, FormatSpec] = {
    "azure": FormatSpec(
        read_azure,
        write_azure,
        "Azure AI Language custom NER: labels JSON (UTF-16 offsets) and its .txt files, in one zip",
        ".zip",
    ),
    "doccano": FormatSpec(
        read_doccano, write_doccano, "doccano JSONL (1.x): text and [start, end, label] triples or entities", ".jsonl"
    ),
    "label-studio": FormatSpec(
        read_label_studio,
        write_label_studio,
        "Label Studio JSON or JSON_MIN export: tasks with their latest annotation",
        ".json",
    ),
    "label-studio-csv": FormatSpec(
        read_label_studio_csv,
        write_label_studio_csv,
        "Label Studio CSV or TSV export: the text and a label column of spans as JSON",
        ".csv",
    ),
    "prodigy": FormatSpec(
        read_prodigy,
        write_prodigy,
        "Prodigy JSONL (db-out): accepted spans; rejected and ignored answers skipped",
        ".jsonl",
    ),
    "conll": FormatSpec(
        read_conll,
        write_conll,
        "CoNLL token-per-line file (reads IOB1/IOB2/BIOES/IO, writes IOB2); texts rebuilt from tokens",
        ".conll",
    ),
    "spacy": FormatSpec(read_docbin, write_docbin, "spaCy DocBin (.spacy) for `spacy train`", ".spacy"),
    "jsonl": FormatSpec(
        read_jsonl, write_jsonl, "nerlab JSONL: text, spans with code point offsets, name, language, split", ".jsonl"
    ),
}

__all__ = ["FORMATS", "FormatError", "FormatSpec", "Problem", "Reader", "Writer"]

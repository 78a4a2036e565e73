"""Findings of the reader fuzz test (tests/ner/test_fuzz_readers.py), kept as plain cases."""

from __future__ import annotations

import pytest

from ner.formats import FORMATS, FormatError
from ner.formats.detect import detect_format

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_a_prodigy_task_whose_view_id_is_not_a_string_is_read_as_a_manual_task_not_a_type_error():
    docs = FORMATS["prodigy"].reader(b'{"text": "Alice", "_view_id": ["ner"], "spans": []}\n', file_name="a.jsonl")
    assert [doc.text for doc in docs] == ["Alice"]


@pytest.mark.parametrize("format_name", ["doccano", "jsonl", "prodigy"])
@pytest.mark.parametrize(
    "data",
    [DEEP, b'{"text": "a"}\n' + DEEP + b"\n", b'{\n"a": ' + b"[" * 3_000 + b"]" * 3_000 + b"\n}"],
    ids=["a JSON list", "a JSONL line", "a pretty-printed object"],
)
def test_deeply_nested_records_are_refused_naming_the_depth(format_name, data):
    with pytest.raises(FormatError, match="levels deep"):
        FORMATS[format_name].reader(data, file_name="a.jsonl")


def test_detection_finds_no_format_in_deeply_nested_json_instead_of_a_recursion_error():
    assert detect_format(DEEP) is None

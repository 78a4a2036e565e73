"""Bad inputs give one clear error listing every problem with its place; nothing is half-read."""

from __future__ import annotations

import json

import pytest

from ner.formats import FORMATS, FormatError
from ner.formats.doccano import read_doccano
from ner.formats.jsonl import read_jsonl
from ner.formats.label_studio import read_label_studio, write_label_studio
from ner.types import LabeledDoc, Span


def messages(reader, data: bytes, file_name: str = "in.jsonl") -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError) as caught:
        reader(data, file_name=file_name)
    return caught.value.messages


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_an_empty_file_says_so(name: str) -> None:
    assert messages(FORMATS[name].reader, b"", file_name="f") == ["f: the file is empty"]


@pytest.mark.parametrize("name", ["jsonl", "doccano", "label-studio", "conll"])
def test_non_utf8_input_names_the_byte_and_line(name: str) -> None:
    (message,) = messages(FORMATS[name].reader, b'{"text": "ok"}\n{"text": "caf\xe9"}\n', file_name="f")
    assert message == (
        "f: line 2: not valid UTF-8 (bad byte 0xe9 at offset 28, line 2); "
        "save the file as UTF-8, or as UTF-16 with a byte order mark"
    )


def test_doccano_span_past_the_end_names_line_and_field() -> None:
    data = (
        b'{"text": "short", "label": [[0, 5, "A"]]}\n\n{"text": "'
        + b"x" * 35
        + b'", "label": [[0, 2, "A"], [1, 3, "B"], [30, 40, "C"]]}\n'
    )
    assert messages(read_doccano, data) == [
        "in.jsonl: line 3: field 'label'[2]: end 40 is past the end of the text (35 characters)"
    ]


def test_doccano_reads_the_older_labels_key_and_meta() -> None:
    data = json.dumps(
        {"id": 7, "text": "Ada in Paris", "labels": [[7, 12, "LOC"], [0, 3, "PER"]], "meta": {"src": "x"}}
    )
    (doc,) = read_doccano(data.encode())
    assert doc.spans == (Span(0, 3, "PER"), Span(7, 12, "LOC"))
    assert doc.name == "7" and doc.meta == {"src": "x"}


def test_jsonl_reports_every_bad_line_not_only_the_first() -> None:
    data = (
        b'{"text": "fine", "spans": []}\n'
        b'{"text": "abc", "spans": [{"start": 2, "end": 1, "label": "X"}, {"start": 0, "end": 1, "label": ""}]}\n'
        b'{"text": 3}\n'
        b'{"text": "cut", "spa\n'
        b"[1, 2]\n"
        b'{"text": "x", "split": "dev", "language": "xx-notreal"}\n'
    )
    assert messages(read_jsonl, data) == [
        "in.jsonl: line 2: field 'spans'[0]: end 1 must be greater than start 2",
        "in.jsonl: line 2: field 'spans'[1].'label': the label must be a non-empty string, not ''",
        "in.jsonl: line 3: field 'text': 'text' must be a string, not a number",
        "in.jsonl: line 4, column 17: the JSON ends too early (is the file cut off?): Unterminated string starting",
        "in.jsonl: line 5: each record must be a JSON object, not a list",
        "in.jsonl: line 6: field 'language': 'xx-notreal' is not a known language: 'xx' is not an ISO 639 code",
        "in.jsonl: line 6: field 'split': the split must be 'train' or 'test', not 'dev'",
    ]


def test_a_format_error_message_lists_the_first_problems_and_counts_the_rest() -> None:
    data = b"".join(b'{"text": "a", "spans": [{"start": 0, "end": 9, "label": "X"}]}\n' for _ in range(25))
    with pytest.raises(FormatError) as caught:
        read_jsonl(data, file_name="big.jsonl")
    assert len(caught.value.problems) == 25
    assert str(caught.value).splitlines()[-1] == "... and 5 more problems"


def test_label_studio_takes_the_latest_annotation_that_was_not_cancelled() -> None:
    def annotation(start: int, label: str, updated: str, cancelled: bool = False) -> dict[str, object]:
        value = {"start": start, "end": start + 3, "labels": [label]}
        return {"was_cancelled": cancelled, "updated_at": updated, "result": [{"type": "labels", "value": value}]}

    task = {
        "id": 3,
        "data": {"text": "Ada met Bob"},
        "annotations": [
            annotation(0, "OLD", "2024-01-01T00:00:00Z"),
            annotation(8, "NEW", "2024-03-01T00:00:00Z"),
            annotation(0, "SKIPPED", "2024-05-01T00:00:00Z", cancelled=True),
        ],
        "predictions": [{"result": [{"type": "labels", "value": {"start": 4, "end": 7, "labels": ["PRED"]}}]}],
    }
    (doc,) = read_label_studio(json.dumps([task]).encode())
    assert doc.spans == (Span(8, 11, "NEW"),)
    assert doc.name == "3"


def test_label_studio_utf16_offsets_are_recognised_by_their_text() -> None:
    text = "😀😀 Ada"
    value = {"start": 5, "end": 8, "text": "Ada", "labels": ["PER"]}  # browser (UTF-16) offsets
    task = {"data": {"text": text}, "annotations": [{"result": [{"type": "labels", "value": value}]}]}
    (doc,) = read_label_studio(json.dumps([task]).encode())
    assert doc.spans == (Span(3, 6, "PER"),)
    docs = [LabeledDoc(text, (Span(3, 6, "PER"),), "a")]
    assert (
        json.loads(write_label_studio(docs, offset_unit="utf16"))[0]["annotations"][0]["result"][0]["value"]["start"]
        == 5
    )
    assert read_label_studio(write_label_studio(docs, offset_unit="utf16")) == docs


def test_label_studio_offsets_that_do_not_select_the_text_are_errors() -> None:
    value = {"start": 0, "end": 3, "text": "Bob", "labels": ["PER"]}
    task = {"data": {"content": "Ada met Bob"}, "annotations": [{"result": [{"type": "labels", "value": value}]}]}
    assert messages(read_label_studio, json.dumps([task]).encode(), "ls.json") == [
        "ls.json: task 1: field 'data'.'text': no text under 'data'.'text' (keys present: 'content'); "
        "choose the key your labeling config uses"
    ]
    (message,) = messages(lambda data, file_name: read_label_studio(data, file_name=file_name, data_key="content"),
                          json.dumps([task]).encode(), "ls.json")  # fmt: skip
    assert message == (
        "ls.json: task 1: field 'annotations'[0].'result'[0].'value': offsets 0-3 select 'Ada', not the annotated "
        "text 'Bob' (in code points or UTF-16 units)"
    )


def test_truncated_label_studio_export_gives_line_and_column() -> None:
    data = write_label_studio([LabeledDoc("Ada met Bob", (Span(0, 3, "PER"),), "a")])[:-40]
    (message,) = messages(read_label_studio, data, "ls.json")
    assert message.startswith("ls.json: line ") and "the JSON ends too early (is the file cut off?)" in message


def test_spacy_reader_refuses_other_files() -> None:
    (message,) = messages(FORMATS["spacy"].reader, b"not a docbin at all", "x.spacy")
    assert message.startswith("x.spacy: not a spaCy .spacy (DocBin) file")


def test_spacy_writer_reports_spans_off_token_boundaries() -> None:
    with pytest.raises(FormatError) as caught:
        FORMATS["spacy"].writer([LabeledDoc("Hello world", (Span(1, 5, "X"),), "greeting")])
    assert caught.value.messages == [
        "document 1 ('greeting'): X at 1-5 ('ello') does not fall on spaCy's token boundaries (tokens: Hello)"
    ]

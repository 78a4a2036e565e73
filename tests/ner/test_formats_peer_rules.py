"""The rules behind reading peers' files: no span silently lost, Prodigy's answers respected, shapes detected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ner.formats import FormatError
from ner.formats.conll import read_conll, write_conll
from ner.formats.detect import detect_format
from ner.formats.doccano import read_doccano
from ner.formats.jsonl import read_jsonl
from ner.formats.label_studio import read_label_studio, read_label_studio_csv
from ner.formats.prodigy import read_prodigy, write_prodigy
from ner.types import LabeledDoc, Span


def lines(*rows: Any) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def messages(error: pytest.ExceptionInfo[FormatError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# --- span data in a field the chosen reader does not read (issue 15, item 1) ------------------------------------


def test_doccano_labels_read_as_jsonl_are_refused_naming_the_field_and_the_format() -> None:
    with pytest.raises(FormatError) as caught:
        read_jsonl(lines({"text": "Peter Blackburn", "label": [[0, 15, "PERSON"]]}), file_name="a.jsonl")
    assert messages(caught) == [
        "a.jsonl: line 1: field 'label': 'label' holds span data that the jsonl format does not read (the spans "
        "would be lost); import the file as doccano"
    ]


def test_nerlab_spans_read_as_doccano_are_refused() -> None:
    with pytest.raises(FormatError) as caught:
        read_doccano(lines({"text": "Peter Blackburn", "spans": [{"start": 0, "end": 15, "label": "PER"}]}))
    assert "import the file as jsonl or prodigy" in messages(caught)[0]


def test_doccano_download_with_numeric_label_ids_is_refused_not_typed_as_numbers() -> None:
    row = {
        "id": 2,
        "text": "Peter Blackburn",
        "annotations": [{"label": 1, "start_offset": 0, "end_offset": 15, "user": 1}],
    }
    with pytest.raises(FormatError) as caught:
        read_doccano(lines(row))
    assert "the label is 1, a doccano label id, not a name" in messages(caught)[0]


def test_label_studio_results_read_as_doccano_are_refused() -> None:
    row = {"text": "Ada", "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "end": 3}}]}]}
    with pytest.raises(FormatError) as caught:
        read_doccano(lines(row))
    assert "import the file as label-studio" in messages(caught)[0]


def test_a_document_label_list_is_metadata_not_refused() -> None:
    [doc] = read_jsonl(lines({"text": "Great film", "label": ["positive"], "source": "imdb"}))
    assert doc.spans == () and doc.meta == {"label": '["positive"]', "source": "imdb"}


# --- doccano shapes (item 4) ---------------------------------------------------------------------------------------


def test_doccano_1_6_export_with_data_user_and_metadata() -> None:
    row = {"id": 7, "data": "Peter Blackburn", "label": [[0, 15, "PERSON"]], "user": "admin", "metadata": {"src": "x"}}
    [doc] = read_doccano(lines(row))
    assert (doc.text, doc.spans, doc.name) == ("Peter Blackburn", (Span(0, 15, "PERSON"),), "7")
    assert doc.meta == {"user": "admin", "src": "x"}


def test_doccano_pretty_printed_json_is_read_and_said_once() -> None:
    rows = [{"text": "Ada", "label": [[0, 3, "PER"]]}, {"text": "Bob", "label": []}]
    notes: list[str] = []
    docs = read_doccano(json.dumps(rows, indent=2).encode(), notes=notes)
    assert [doc.text for doc in docs] == ["Ada", "Bob"]
    assert notes == ["the file is one JSON document (a list of 2 records), not JSONL; read as such"]


def test_a_broken_pretty_printed_json_is_one_problem_not_one_per_line() -> None:
    text = json.dumps([{"text": "Ada", "label": []}] * 10, indent=2)[:-3]
    with pytest.raises(FormatError) as caught:
        read_doccano(text.encode())
    assert len(caught.value.problems) == 1 and caught.value.records == 0


# --- Prodigy (item 2) ----------------------------------------------------------------------------------------------


def _task(text: str, answer: str, spans: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"text": text, "spans": spans, "answer": answer, "_input_hash": hash(text) % 1000, **extra}


def test_prodigy_binary_answers_never_make_a_rejected_span_gold() -> None:
    ada = "Ada met Bob in Paris"
    notes: list[str] = []
    docs = read_prodigy(
        lines(
            _task(ada, "accept", [{"start": 0, "end": 3, "label": "PER", "answer": "accept"}], _view_id="ner"),
            _task(ada, "reject", [{"start": 8, "end": 11, "label": "ORG", "answer": "reject"}], _view_id="ner"),
            _task(ada, "accept", [{"start": 15, "end": 20, "label": "LOC", "answer": "accept"}], _view_id="ner"),
            _task(
                "Only rejected", "reject", [{"start": 0, "end": 4, "label": "X", "answer": "reject"}], _view_id="ner"
            ),
            _task("Skipped", "ignore", [{"start": 0, "end": 7, "label": "X", "answer": "accept"}], _view_id="ner"),
        ),
        notes=notes,
    )
    assert [(doc.text, doc.spans) for doc in docs] == [(ada, (Span(0, 3, "PER"), Span(15, 20, "LOC")))]
    assert notes == [
        "skipped 2 rejected tasks and 1 ignored task",
        "2 rejected spans not imported: a rejected span is never gold",
        "1 text from binary (accept/reject) answers hold only the accepted spans; other entities in them were never "
        "annotated — review them before training",
    ]


def test_prodigy_manual_reject_skips_the_task_and_a_rejected_span_inside_an_accept_is_dropped() -> None:
    docs = read_prodigy(
        lines(
            _task("Ada Lovelace", "reject", [{"start": 0, "end": 3, "label": "PER"}], _view_id="ner_manual"),
            _task(
                "Bob Smith",
                "accept",
                [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 9, "label": "X", "answer": "reject"}],
            ),
        )
    )
    assert [(doc.text, doc.spans) for doc in docs] == [("Bob Smith", (Span(0, 3, "PER"),))]


def test_prodigy_token_indices_must_agree_with_the_offsets() -> None:
    tokens = [{"text": "Ada", "start": 0, "end": 3, "id": 0}, {"text": "Lovelace", "start": 4, "end": 12, "id": 1}]
    good = {"start": 0, "end": 12, "label": "PER", "token_start": 0, "token_end": 1}
    from_tokens = {"label": "PER", "token_start": 1, "token_end": 1}
    [doc] = read_prodigy(lines(_task("Ada Lovelace", "accept", [good], tokens=tokens)))
    assert doc.spans == (Span(0, 12, "PER"),)
    [doc] = read_prodigy(lines(_task("Ada Lovelace", "accept", [from_tokens], tokens=tokens)))
    assert doc.spans == (Span(4, 12, "PER"),)
    with pytest.raises(FormatError) as caught:
        read_prodigy(lines(_task("Ada Lovelace", "accept", [{**good, "token_end": 0}], tokens=tokens)))
    assert "offsets 0-12 disagree with tokens 0-0, which cover 0-3" in messages(caught)[0]


def test_prodigy_records_read_as_jsonl_are_refused() -> None:
    with pytest.raises(FormatError) as caught:
        read_jsonl(lines(_task("Ada", "reject", [{"start": 0, "end": 3, "label": "PER"}])))
    assert "import the file as prodigy, which keeps accepted spans and skips rejected ones" in messages(caught)[0]


def test_prodigy_writer_round_trips_text_spans_name_language_split_and_meta() -> None:
    docs = [
        LabeledDoc("Ada Lovelace", (Span(0, 12, "PER"),), name="a.txt", language="en", split="test", meta={"k": "v"}),
        LabeledDoc("Bob", (), name="b"),
    ]
    back = read_prodigy(write_prodigy(docs))
    assert back == docs and [doc.meta for doc in back] == [{"k": "v"}, {}]


# --- Label Studio shapes (item 3) -----------------------------------------------------------------------------------


def test_label_studio_json_min_and_old_completions() -> None:
    json_min = [
        {"id": 3, "text": "Ada met Bob", "label": [{"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}],
         "annotator": "a@b.c", "lead_time": 2.5},
    ]  # fmt: skip
    [doc] = read_label_studio(json.dumps(json_min).encode())
    assert doc.spans == (Span(0, 3, "PER"),) and doc.meta["annotator"] == "a@b.c"
    result = {"type": "labels", "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}}
    completions = [{"id": 1, "data": {"text": "Ada"}, "completions": [{"result": [result]}]}]
    [doc] = read_label_studio(json.dumps(completions).encode())
    assert doc.spans == (Span(0, 3, "PER"),)


def test_label_studio_predictions_alone_are_not_imported_as_spans_and_the_report_says_so() -> None:
    result = {"type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}
    task = {"data": {"text": "Ada"}, "predictions": [{"result": [result]}]}
    notes: list[str] = []
    [doc] = read_label_studio(json.dumps([task]).encode(), notes=notes)
    assert doc.spans == () and "predictions" in notes[0]


# --- CoNLL family (item 5) ------------------------------------------------------------------------------------------


def test_bare_io_labels_and_bmes() -> None:
    [doc] = read_conll(b"Rz MISC\n8. MISC\nin O\nBerlin LOC\n")
    assert doc.spans == (Span(0, 5, "MISC"), Span(9, 15, "LOC"))
    [doc] = read_conll("南 B-LOC\n京 M-LOC\n市 E-LOC\n的 O\n".encode())
    assert doc.spans == (Span(0, 5, "LOC"),)


def test_a_file_mixing_bare_and_prefixed_tags_is_refused() -> None:
    with pytest.raises(FormatError) as caught:
        read_conll(b"A LOC\nB B-PER\n")
    assert "tag 'LOC' is not O or a B-/I-/E-/S- tag" in messages(caught)[0]


def test_sentence_mode_makes_one_document_per_sentence_even_under_one_docstart() -> None:
    data = b"-DOCSTART- -X- O O\n\nAda B-PER\n\nBob B-PER\n"
    assert len(read_conll(data)) == 1
    assert [doc.text for doc in read_conll(data, documents="sentence")] == ["Ada", "Bob"]


# --- detection (item 6) ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "format"),
    [
        (lines({"text": "a", "label": [[0, 1, "X"]]}), "doccano"),
        (lines({"text": "a", "spans": [{"start": 0, "end": 1, "label": "X"}]}), "jsonl"),
        (lines({"text": "a", "spans": [], "answer": "accept", "_input_hash": 1}), "prodigy"),
        (json.dumps([{"data": {"text": "a"}, "annotations": []}]).encode(), "label-studio"),
        (b"Ada B-PER\nLovelace I-PER\n", "conll"),
        (write_conll([LabeledDoc("Ada", (Span(0, 3, "PER"),))]), "conll"),
    ],
)
def test_detect_format(data: bytes, format: str) -> None:
    detection = detect_format(data)
    assert detection is not None and detection.format == format


def test_extra_token_columns_are_kept_and_written_back() -> None:
    data = b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
    [doc] = read_conll(data)
    assert json.loads(doc.meta["conll_columns"]) == [["NNP", "B-NP"], ["VBZ", "B-VP"], ["NNP", "B-NP"]]
    assert write_conll([doc], tokenizer=lambda text: [(0, 2), (3, 10), (11, 16)]) == (
        b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n\n"
    )
    [spacy_iob] = read_conll(b"I|PRP|O like|VBP|O London|NNP|B-GPE\n")
    assert spacy_iob.text == "I like London" and json.loads(spacy_iob.meta["conll_columns"]) == [
        ["PRP"],
        ["VBP"],
        ["NNP"],
    ]
    [plain] = read_conll(write_conll([LabeledDoc("Ada", (Span(0, 3, "PER"),))]))
    assert plain.meta == {}  # the "_" columns nerlab writes are not data


def test_label_studio_csv_and_tsv_exports() -> None:
    spans = json.dumps([{"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}])
    csv_file = 'annotation_id,annotator,id,label,text\n9,a@b.c,4,"' + spans.replace('"', '""') + '","Ada, Countess"\n'
    [doc] = read_label_studio_csv(csv_file.encode())
    assert (doc.text, doc.spans, doc.name) == ("Ada, Countess", (Span(0, 3, "PER"),), "4")
    assert doc.meta == {"annotation_id": "9", "annotator": "a@b.c"}
    tsv_file = csv_file.replace(",9,", "\t9\t").replace(",a@b.c,4,", "\ta@b.c\t4\t").replace('","', '"\t"')
    tsv_file = tsv_file.replace("annotation_id,annotator,id,label,text", "annotation_id\tannotator\tid\tlabel\ttext")
    assert read_label_studio_csv(tsv_file.encode())[0].spans == (Span(0, 3, "PER"),)
    assert detect_format(csv_file.encode()) == ("label-studio-csv", detect_format(csv_file.encode())[1])  # type: ignore[index]


def test_a_prodigy_record_read_as_doccano_is_refused_even_without_spans() -> None:
    with pytest.raises(FormatError) as caught:
        read_doccano(lines({"text": "Rejected example", "answer": "reject", "_input_hash": 1}))
    assert "this is a Prodigy record ('answer', '_input_hash'); import the file as prodigy" in messages(caught)[0]


def test_label_studio_conll_export_of_several_tasks_is_one_document_per_task() -> None:
    """Label Studio's converter: one '-DOCSTART- -X- O' line, then each task's tokens and a blank line."""
    data = b"-DOCSTART- -X- O\nAda -X- _ B-PER\nslept -X- _ O\n\nBob -X- _ B-PER\n\n"
    notes: list[str] = []
    docs = read_conll(data, notes=notes)
    assert [(doc.text, doc.spans, doc.meta) for doc in docs] == [
        ("Ada slept", (Span(0, 3, "PER"),), {}),
        ("Bob", (Span(0, 3, "PER"),), {}),
    ]
    assert "each blank-line separated block (a task) read as one document" in notes[0]
    assert len(read_conll(data, documents="docstart")) == 1


def test_label_studio_says_when_a_task_had_several_annotations() -> None:
    result = {"type": "labels", "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}}
    task = {
        "data": {"text": "Ada"},
        "annotations": [
            {"result": [], "updated_at": "2024-01-01T00:00:00Z"},
            {"result": [result], "updated_at": "2024-02-01T00:00:00Z"},
        ],
    }
    notes: list[str] = []
    [doc] = read_label_studio(json.dumps([task]).encode(), notes=notes)
    assert doc.spans == (Span(0, 3, "PER"),) and notes[0].startswith("1 task had several annotations")

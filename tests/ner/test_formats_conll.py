"""CoNLL token files: schemes, documents, the tokenizer, and spans a token file cannot hold."""

from __future__ import annotations

import pytest

from ner.formats import FormatError
from ner.formats.conll import read_conll, read_conll_scheme, simple_tokenize, write_conll
from ner.types import LabeledDoc, Span


def tags(data: bytes) -> list[str]:
    return [line.split()[-1] for line in data.decode().split("\n") if line.strip() and "DOCSTART" not in line]


def test_iob1_b_tag_only_separates_adjacent_entities_of_one_type() -> None:
    data = b"-DOCSTART- -X- -X- O\n\nAda NNP I-NP I-PER\nBob NNP I-NP B-PER\nin IN O O\nRome NNP I-NP I-LOC\n"
    (doc,) = read_conll(data, file_name="t.conll")
    assert doc.text == "Ada Bob in Rome"
    assert [(s.label, s.text_in(doc.text)) for s in doc.spans] == [("PER", "Ada"), ("PER", "Bob"), ("LOC", "Rome")]
    assert read_conll_scheme(data) == "iob1"
    written = write_conll([doc], scheme="iob1")
    assert tags(written) == ["I-PER", "B-PER", "O", "I-LOC"]


def test_schemes_are_written_as_named() -> None:
    doc = LabeledDoc("Ada Lovelace met Bob", (Span(0, 12, "PER"), Span(17, 20, "PER")))
    assert tags(write_conll([doc], scheme="iob2")) == ["B-PER", "I-PER", "O", "B-PER"]
    assert tags(write_conll([doc], scheme="bioes")) == ["B-PER", "E-PER", "O", "S-PER"]
    assert tags(write_conll([doc], scheme="io")) == ["I-PER", "I-PER", "O", "I-PER"]
    for scheme in ("iob2", "bioes"):
        assert read_conll_scheme(write_conll([doc], scheme=scheme)) == scheme  # type: ignore[arg-type]


def test_documents_and_sentences_follow_docstart_and_blank_lines() -> None:
    data = b"a O\n \t\nb B-X\n-DOCSTART- -X- O O\n\nc I-Y\r\n\r\n-DOCSTART- -X- -X- O\n"
    docs = read_conll(data, file_name="f.txt")
    assert [(doc.text, doc.spans, doc.name) for doc in docs] == [
        ("a\nb", (Span(2, 3, "X"),), "f.txt-1"),
        ("c", (Span(0, 1, "Y"),), "f.txt-2"),
    ]
    # Without -DOCSTART-, each sentence is a document; "docstart" keeps them together.
    assert len(read_conll(b"a O\n\nb O\n")) == 2
    assert [doc.text for doc in read_conll(b"a O\n\nb O\n", documents="docstart")] == ["a\nb"]


def test_bad_tags_and_scheme_violations_name_the_line() -> None:
    with pytest.raises(FormatError) as caught:
        read_conll(b"a O\nb PERSON\nc S-X\nlonely\n", file_name="f.conll", scheme="iob2")
    assert caught.value.messages == [
        "f.conll: line 2: field tag: tag 'PERSON' is not O or a B-/I-/E-/S- tag such as B-PER (a file may use "
        "bare labels such as LOC only throughout; is the tag in another column?)",
        "f.conll: line 3: field tag: tag 'S-X' is not allowed in IOB2 (only O and B/I- tags)",
        "f.conll: line 4: expected a token and a tag separated by whitespace, found 'lonely'",
    ]


def test_simple_tokenizer_splits_punctuation_and_cjk_but_keeps_marks_and_emoji_sequences() -> None:
    text = "Paris, 東京 café e\u0301t\u00e9 👩‍💻!"
    tokens = [text[start:end] for start, end in simple_tokenize(text)]
    assert tokens == ["Paris", ",", "東", "京", "café", "e\u0301t\u00e9", "👩‍💻", "!"]


def test_writer_reports_spans_it_cannot_hold_instead_of_moving_them() -> None:
    docs = [
        LabeledDoc("Hello world", (Span(1, 5, "X"),), "a"),
        LabeledDoc("New\nYork is big", (Span(0, 8, "LOC"),), "b"),
        LabeledDoc("Ada Bob", (Span(0, 3, "PER"), Span(4, 7, "PER"))),
    ]
    with pytest.raises(FormatError) as caught:
        write_conll(docs, scheme="io")
    assert caught.value.messages == [
        "document 1 ('a'): X at 1-5 ('ello') does not start on a token boundary; CoNLL can hold only whole tokens",
        "document 2 ('b'): LOC at 0-8 ('New\\nYork') crosses a line break; "
        "a CoNLL entity must stay within one sentence",
        "document 3: PER at 4-7 ('Bob') directly follows another PER; IO tags cannot keep them apart",
    ]


def test_writer_uses_the_callers_token_boundaries() -> None:
    doc = LabeledDoc("ab-cd ef", (Span(0, 5, "X"),))
    with pytest.raises(FormatError, match="the tokenizer returned 1-5, which is empty, out of order"):
        write_conll([doc], tokenizer=lambda text: [(0, 2), (1, 5)])
    data = write_conll([doc], tokenizer=lambda text: [(0, 5), (6, 8)], layout="two-column")
    assert data.decode() == "-DOCSTART-\tO\n\nab-cd\tB-X\nef\tO\n\n"
    assert read_conll(data)[0].spans == (Span(0, 5, "X"),)

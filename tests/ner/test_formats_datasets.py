"""Reading the public datasets gives the counts their READMEs publish."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ner.formats.conll import read_conll, read_conll_scheme

DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"


def _read(relative: str) -> bytes:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"dataset {relative} is not available")
    return path.read_bytes()


def _entities(docs: list) -> Counter[str]:  # type: ignore[type-arg]
    return Counter(span.label for doc in docs for span in doc.spans)


def _sentences(docs: list) -> int:  # type: ignore[type-arg]
    return sum(doc.text.count("\n") + 1 for doc in docs)


def test_conll2003_testb_reads_231_documents_and_5648_entities() -> None:
    data = _read("conll2003/eng.testb.conll")
    docs = read_conll(data, file_name="eng.testb.conll")
    assert read_conll_scheme(data) == "iob1"
    # testb writes "-DOCSTART- -X- -X- O" (spaCy's converter turns those into 231 tokens); none may leak in.
    assert len(docs) == 231
    assert not any("DOCSTART" in doc.text for doc in docs)
    assert _sentences(docs) == 3453
    assert sum(len(doc.text.split()) for doc in docs) == 46435
    assert _entities(docs) == {"PER": 1617, "LOC": 1668, "ORG": 1661, "MISC": 702}


def test_conll2003_offsets_select_the_tagged_tokens() -> None:
    docs = read_conll(_read("conll2003/eng.testb.conll"), file_name="eng.testb.conll")
    first = docs[0]
    assert first.text.startswith("SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .\nNadim Ladki")
    assert [span.text_in(first.text) for span in first.spans[:3]] == ["JAPAN", "CHINA", "Nadim Ladki"]
    assert first.name == "eng.testb.conll-001"


def test_wnut17_train_reads_3394_sentences_despite_tab_only_separators() -> None:
    docs = read_conll(_read("wnut17/wnut17train.conll"), file_name="wnut17train.conll")
    # No -DOCSTART-: one document per sentence.
    assert len(docs) == 3394
    assert sum(len(doc.text.split()) for doc in docs) == 62730
    assert _entities(docs) == {
        "person": 660,
        "location": 548,
        "group": 264,
        "corporation": 221,
        "product": 142,
        "creative-work": 140,
    }


def test_wikiann_dev_strips_the_language_prefix_and_counts_match() -> None:
    docs = read_conll(_read("wikiann/en.dev.iob"), file_name="en.dev.iob", strip_language_prefix=True)
    assert len(docs) == 10000
    assert sum(len(doc.text.split()) for doc in docs) == 80536
    assert _entities(docs) == {"PER": 4635, "LOC": 4834, "ORG": 4677}
    assert not any(doc.text.startswith("en:") or " en:" in doc.text for doc in docs)
    assert {doc.language for doc in docs} == {"en"}
    assert docs[0].text.startswith("Sioux Falls Arena (")
    assert docs[0].spans[0].text_in(docs[0].text) == "Sioux Falls Arena"


def test_sec_filings_io_tags_read_3_documents_and_318_entities() -> None:
    data = _read("sec_filings_fin/FIN3.txt")
    docs = read_conll(data, file_name="FIN3.txt", scheme="io")
    assert read_conll_scheme(data) == "io"
    assert len(docs) == 3
    assert _sentences(docs) == 303
    assert sum(len(doc.text.split()) for doc in docs) == 13246
    assert _entities(docs) == {"PER": 216, "ORG": 56, "LOC": 39, "MISC": 7}

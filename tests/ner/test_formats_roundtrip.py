"""Every writer -> reader pair gives back the same documents (Hypothesis-generated, Unicode-heavy texts)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner.formats import FORMATS, FormatError
from ner.formats.conll import read_conll, write_conll
from ner.types import LabeledDoc, Span

LABELS = ["PER", "ORG", "LOC", "Loan Amount", "日付"]
LANGUAGES = [None, "en", "en-US", "fr", "zh-Hans", "de"]
TRICKY = ["😀", "👩‍💻", "東京都", "e\u0301", "\r\n", "\n", "\t", "🇫🇷", "\u2028", "\ufeff", " ", "Ω", "\x85"]
CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
TEXTS = (
    st.lists(st.text(CHARACTERS, min_size=1, max_size=8) | st.sampled_from(TRICKY), min_size=1, max_size=12)
    .map("".join)
    .filter(lambda text: bool(text.strip()))
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def span_sets(draw: st.DrawFn, text: str, bounds: Sequence[tuple[int, int]] | None = None) -> tuple[Span, ...]:
    """Non-overlapping spans; on the given token bounds (token index ranges) when there are any."""
    if bounds is not None:
        if not bounds:
            return ()
        cuts = sorted(set(draw(st.lists(st.integers(0, len(bounds)), max_size=8))))
        pairs = [(bounds[a][0], bounds[b - 1][1]) for a, b in pairwise(cuts) if b > a]
    else:
        cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=10))))
        pairs = list(pairwise(cuts))
    chosen = [pair for pair in pairs if draw(st.booleans())]
    return tuple(sorted(Span(start, end, draw(st.sampled_from(LABELS))) for start, end in chosen))


@st.composite
def documents(draw: st.DrawFn) -> list[LabeledDoc]:
    docs = []
    for number in range(draw(st.integers(1, 3))):
        text = draw(TEXTS)
        docs.append(
            LabeledDoc(
                text=text,
                spans=draw(span_sets(text)),
                name=f"doc {number} é.txt",
                language=draw(st.sampled_from(LANGUAGES)),
                split=draw(st.sampled_from([None, "train", "test"])),
            )
        )
    return docs


@FAST
@given(documents())
def test_character_offset_formats_round_trip(docs: list[LabeledDoc]) -> None:
    for name in ("jsonl", "doccano", "label-studio"):
        spec = FORMATS[name]
        assert spec.reader(spec.writer(docs), file_name=f"x{spec.extension}") == docs, name


@FAST
@given(documents())
def test_azure_zip_round_trips(docs: list[LabeledDoc]) -> None:
    spec = FORMATS["azure"]
    back = spec.reader(spec.writer(docs), file_name="project.zip")
    # Azure has a project language: a document without one takes it.
    project_language = next((doc.language for doc in docs if doc.language), "en")
    expected = [doc if doc.language else LabeledDoc(**{**_fields(doc), "language": project_language}) for doc in docs]
    assert back == expected


def _fields(doc: LabeledDoc) -> dict[str, object]:
    return {"text": doc.text, "spans": doc.spans, "name": doc.name, "language": doc.language, "split": doc.split}


# --- token formats: texts are tokens joined by spaces and lines, spans on whole tokens ---------------------------

TOKENS = st.text(CHARACTERS.filter(lambda ch: not ch.isspace()), min_size=1, max_size=6).filter(
    lambda token: token != "-DOCSTART-"
)


def whitespace_tokens(text: str) -> list[tuple[int, int]]:
    bounds, start = [], None
    for index, character in enumerate(text + " "):
        if character.isspace():
            if start is not None:
                bounds.append((start, index))
            start = None
        elif start is None:
            start = index
    return bounds


@st.composite
def token_documents(draw: st.DrawFn) -> list[LabeledDoc]:
    docs = []
    for _ in range(draw(st.integers(1, 3))):
        sentences = draw(st.lists(st.lists(TOKENS, min_size=1, max_size=6), min_size=1, max_size=3))
        text = "\n".join(" ".join(sentence) for sentence in sentences)
        spans: list[Span] = []
        position = 0
        for sentence in sentences:  # entities stay within a sentence
            line = " ".join(sentence)
            bounds = [(position + start, position + end) for start, end in whitespace_tokens(line)]
            spans.extend(draw(span_sets(text, bounds)))
            position += len(line) + 1
        docs.append(LabeledDoc(text=text, spans=tuple(sorted(spans))))
    return docs


@FAST
@given(token_documents(), st.sampled_from(["iob1", "iob2", "bioes"]), st.sampled_from(["conll2003", "two-column"]))
def test_conll_round_trips_in_every_scheme(docs: list[LabeledDoc], scheme: str, layout: str) -> None:
    if layout == "conll2003" and any(" " in span.label for doc in docs for span in doc.spans):
        with pytest.raises(FormatError, match="holds whitespace, which would split the tag column"):
            write_conll(docs, scheme=scheme, tokenizer=whitespace_tokens, layout=layout)  # type: ignore[arg-type]
        return
    data = write_conll(docs, scheme=scheme, tokenizer=whitespace_tokens, layout=layout)  # type: ignore[arg-type]
    back = read_conll(data, file_name="x.conll")
    assert [(doc.text, doc.spans) for doc in back] == [(doc.text, doc.spans) for doc in docs]
    assert read_conll(data, file_name="x.conll", scheme=scheme) == back  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _blank_tokenizer() -> spacy.language.Language:
    return spacy.blank("xx")


@st.composite
def spacy_documents(draw: st.DrawFn) -> list[LabeledDoc]:
    docs = []
    for number in range(draw(st.integers(1, 3))):
        text = draw(TEXTS)
        tokens = [(token.idx, token.idx + len(token)) for token in _blank_tokenizer().make_doc(text)]
        # Spans start and end on non-space tokens (an entity that starts or ends on a whitespace token is refused).
        words = [bound for bound in tokens if text[bound[0] : bound[1]].strip()]
        docs.append(
            LabeledDoc(
                text=text,
                spans=draw(span_sets(text, words)),
                name=f"doc{number}",
                language=draw(st.sampled_from([None, "xx"])),
                split=draw(st.sampled_from([None, "train", "test"])),
            )
        )
    return docs


@settings(max_examples=25, deadline=None)
@given(spacy_documents())
def test_spacy_docbin_round_trips(docs: list[LabeledDoc]) -> None:
    spec = FORMATS["spacy"]
    assert spec.reader(spec.writer(docs), file_name="x.spacy") == docs


def test_every_registered_format_has_a_reader_a_writer_and_a_description() -> None:
    assert set(FORMATS) == {
        "azure",
        "doccano",
        "label-studio",
        "label-studio-csv",
        "conll",
        "spacy",
        "jsonl",
        "prodigy",
    }
    for spec in FORMATS.values():
        assert callable(spec.reader) and callable(spec.writer)
        assert spec.description and spec.extension.startswith(".")


# Non-empty values: a CSV cannot tell an empty value from none (README, "Formats").
META = st.dictionaries(
    st.from_regex(r"k_[a-z]{1,6}", fullmatch=True), st.text(CHARACTERS, min_size=1, max_size=12), max_size=3
)


@st.composite
def documents_with_metadata(draw: st.DrawFn) -> list[LabeledDoc]:
    return [LabeledDoc(doc.text, doc.spans, doc.name, doc.language, doc.split, draw(META)) for doc in draw(documents())]


@FAST
@given(documents_with_metadata())
def test_formats_that_hold_metadata_round_trip_it_and_prodigy_round_trips(docs: list[LabeledDoc]) -> None:
    """jsonl, doccano, Label Studio (JSON and CSV) and Prodigy hold texts, spans, names, languages, splits and
    metadata."""
    for name in ("jsonl", "doccano", "label-studio", "label-studio-csv", "prodigy"):
        spec = FORMATS[name]
        back = spec.reader(spec.writer(docs), file_name=f"x{spec.extension}")
        assert back == docs, name
        assert [doc.meta for doc in back] == [doc.meta for doc in docs], name

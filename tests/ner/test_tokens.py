"""Token bounds (what the tagging page snaps to) and the chunks long documents are cut into."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest

from ner.names import InvalidName
from ner.tokens import CHUNK_CHARS_MAX, _tokenizer, chunk_bounds, spacy_language, token_bounds
from ner.types import Span


def _tokens(text: str, language: str = "en") -> list[str]:
    return [text[start:end] for start, end in token_bounds(text, language)]


def test_token_bounds_split_words_and_punctuation():
    assert token_bounds("Hello, world!", "en") == [(0, 5), (5, 6), (7, 12), (12, 13)]


def test_token_bounds_leave_out_whitespace():
    assert _tokens("  Acme   Corp\n\n\tsold  ") == ["Acme", "Corp", "sold"]


def test_token_bounds_count_code_points_around_emoji():
    text = "I 😀 love Zürich 🎉🎉 today"
    bounds = token_bounds(text, "en-US")
    tokens = [text[start:end] for start, end in bounds]
    assert "Zürich" in tokens and "love" in tokens and "today" in tokens
    start, end = bounds[tokens.index("today")]
    assert (start, end) == (len(text) - 5, len(text))


def test_token_bounds_follow_the_language_rules():
    # English splits the clitic off "don't"; the tokenizer rules are the language's, not a generic split.
    assert _tokens("I don't know", "en") == ["I", "do", "n't", "know"]
    assert _tokens("C'est l'été", "fr") == ["C'", "est", "l'", "été"]


def test_spacy_language_maps_bcp47_codes():
    assert spacy_language("pt-BR") == "pt"
    assert spacy_language("en-us") == "en"
    assert spacy_language("no") == "nb"
    assert spacy_language("de", multilingual=True) == "xx"
    assert spacy_language("xx") == "xx"


def test_spacy_language_falls_back_to_multilingual_for_languages_spacy_lacks():
    assert spacy_language("sw") == "xx"  # Swahili: no spaCy tokenizer
    assert _tokens("Habari ya asubuhi, rafiki!", "sw") == ["Habari", "ya", "asubuhi", ",", "rafiki", "!"]


def test_spacy_language_refuses_invalid_codes():
    with pytest.raises(InvalidName):
        spacy_language("english")


def test_token_bounds_are_fast_on_the_largest_document():
    text = ("Acme Corp. hired Jane Doe in New York on 2024-01-02 (see https://example.com). 😀\n" * 2000)[:128_000]
    token_bounds("warm up", "en")
    started = time.perf_counter()
    bounds = token_bounds(text, "en")
    elapsed = time.perf_counter() - started
    print(f"\ntoken_bounds: {len(text):,} characters, {len(bounds):,} tokens in {elapsed * 1000:.1f} ms")
    assert bounds[-1][1] <= len(text)


DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"


def _whole_text_bounds(text: str, language: str) -> list[tuple[int, int]]:
    return [(token.idx, token.idx + len(token)) for token in _tokenizer(language)(text) if not token.is_space]


def test_token_bounds_match_spacy_on_the_whole_text():
    text = (
        "Acme Corp. (NYSE: ACME) told the U.S. SEC on 2024-01-02, e.g. at https://acme.example/ir?q=1 :) \n\n"
        "Don't panic!! Mrs. O'Neil's café costs $3.50\u00a0today—really? 😀🎉 #win @bob (see www.x.org)."
    )
    for language in ("en", "fr", "de", "xx"):
        assert token_bounds(text, language) == _whole_text_bounds(text, language)


@pytest.mark.parametrize("path", ["conll2003/eng.testa.conll", "wnut17/emerging.dev.conll"])
def test_token_bounds_match_spacy_on_real_text(path):
    source = DATASETS / path
    if not source.exists():
        pytest.skip(f"{source} is not available")
    lines = source.read_text(encoding="utf-8").splitlines()[:20_000]
    text = " ".join(line.split()[0] if line.split() else "\n" for line in lines)
    assert token_bounds(text, "en") == _whole_text_bounds(text, "en")


def test_chunk_bounds_keep_a_short_text_whole():
    assert chunk_bounds("  Short text.\n") == [(2, 13)]
    assert chunk_bounds(" \n\t ") == []


def _long_text() -> tuple[str, list[Span]]:
    paragraphs, spans, position = [], [], 0
    for index in range(300):
        paragraph = f"Paragraph {index}: Alice Smith met Bob Jones in Paris. " * 3
        spans.append(Span(position + paragraph.index("Alice"), position + paragraph.index("Alice") + 11, "PERSON"))
        paragraphs.append(paragraph)
        position += len(paragraph) + 2
    return "\n\n".join(paragraphs), spans


def _squeeze(text: str) -> str:
    return "".join(text.split())


def test_chunk_bounds_cut_long_text_at_paragraphs_within_the_limit():
    text, spans = _long_text()
    chunks = chunk_bounds(text, spans)
    assert len(chunks) > 1
    assert all(end - start <= CHUNK_CHARS_MAX for start, end in chunks)
    # Every cut falls at a paragraph break, and no text is lost between chunks.
    assert all(
        text[end:next_start].strip() == "" and "\n\n" in text[end:next_start]
        for (_, end), (next_start, _) in pairwise(chunks)
    )
    assert _squeeze("".join(text[start:end] for start, end in chunks)) == _squeeze(text)


def test_chunk_bounds_never_cut_inside_a_span():
    text = "word " * 1000
    # A span straddling every natural cut point near the limit.
    spans = [Span(1900, 2400, "LONG")]
    chunks = chunk_bounds(text, spans)
    assert any(start <= 1900 and end >= 2400 for start, end in chunks)


def test_chunk_bounds_hard_cut_text_without_whitespace():
    text = "字" * 5000
    chunks = chunk_bounds(text)
    assert chunks == [(0, 2000), (2000, 4000), (4000, 5000)]

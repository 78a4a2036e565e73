"""Tokens as spaCy sees them, and the chunks long documents are cut into for training and prediction.

The tagging page snaps a selection to these token bounds (``ner.spans.selection_bounds``), and training uses the
very same tokenizer, so a span a user tags always lines up with the tokens the model learns from.

Language codes are BCP-47 tags (``en-US``); spaCy knows languages by their primary subtag (``en``). A language
spaCy has no tokenizer for, or one whose tokenizer needs an extra package that is not installed (Japanese needs
SudachiPy, Korean mecab-ko, Thai PyThaiNLP, Vietnamese pyvi), falls back to spaCy's multilingual ``xx``
tokenizer, which splits on whitespace and punctuation.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import spacy
from spacy.tokenizer import Tokenizer
from spacy.util import get_lang_class

from ner.names import primary_language
from ner.types import Span

MULTILINGUAL = "xx"

# ISO codes whose spaCy language goes by another name.
_SPACY_ALIASES = {"no": "nb", "fil": "tl"}

# Long documents are cut into chunks of at most this many characters for training and prediction: the memory a
# batch takes grows with its longest document, and a 128,000-character document would otherwise be one batch.
CHUNK_CHARS_MAX = 2000
# A chunk is not cut shorter than this when a later cut point is available: very short chunks lose context.
CHUNK_CHARS_MIN = 200

# Where to cut, best first: a blank line (paragraph), a line break, a sentence end, any whitespace. Each pattern
# matches the whitespace run after the break, and the cut falls at its end, so the next chunk starts on text.
_CUT_PATTERNS = (
    re.compile(r"\n[^\S\n]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"(?<=[.!?;\u3002\uff01\uff1f\u0964])\s+"),
    re.compile(r"\s+"),
)


@lru_cache(maxsize=64)
def _spacy_language_for(primary: str) -> str:
    name = _SPACY_ALIASES.get(primary, primary)
    try:
        get_lang_class(name)
        # Some languages import fine but need an optional package to build their tokenizer.
        _tokenizer(name)
    except (ImportError, ValueError):
        return MULTILINGUAL
    return name


def spacy_language(code: str, multilingual: bool = False) -> str:
    """The spaCy language for a BCP-47 code: ``xx`` for multilingual projects and for languages spaCy lacks.

    ``code`` may also be ``xx`` itself. An invalid code raises ``ner.names.InvalidName``.
    """
    if multilingual or code == MULTILINGUAL:
        return MULTILINGUAL
    return _spacy_language_for(primary_language(code))


@lru_cache(maxsize=64)
def _tokenizer(spacy_lang: str) -> Any:
    # A blank pipeline holds only the tokenizer's rules; it never downloads anything.
    return spacy.blank(spacy_lang).tokenizer


# spaCy's rule tokenizer works on whitespace-separated words independently (its special cases hold no spaces),
# but it does not cache words that hit a special case with punctuation ("Corp.", "U.S."), so news-like text
# tokenizes at ~4 ms per 1,000 words. Caching each distinct word's token bounds here gives the same bounds
# (tests/ner/test_tokens.py compares them on the bundled datasets) several times faster. spaCy's own cache works
# per word the same way, so the rare emoticon run that tokenizes differently in context (":}" after "( ") is
# just as inconsistent in spaCy; training widens any span that then misses a boundary. Cleared past this size.
_WORD_CACHE_MAX = 50_000
_WORD = re.compile(r"\S+")
_word_caches: dict[str, dict[str, tuple[tuple[int, int], ...]]] = {}


def token_bounds(text: str, language: str) -> list[tuple[int, int]]:
    """(start, end) code point offsets of every token in ``text``, whitespace tokens left out.

    ``language`` is a BCP-47 code or ``xx``. Python strings index code points and so does spaCy, so an emoji
    counts as one character here (the browser's UTF-16 offsets go through ``ner.offsets``).
    """
    spacy_lang = spacy_language(language)
    tokenizer = _tokenizer(spacy_lang)
    if not isinstance(tokenizer, Tokenizer):
        # A custom tokenizer (Chinese) may look across spaces: ask it about the whole text.
        return [(token.idx, token.idx + len(token)) for token in tokenizer(text) if not token.is_space]
    cache = _word_caches.setdefault(spacy_lang, {})
    bounds: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        word = match.group()
        relative = cache.get(word)
        if relative is None:
            relative = tuple((token.idx, token.idx + len(token)) for token in tokenizer(word) if not token.is_space)
            if len(cache) >= _WORD_CACHE_MAX:
                cache.clear()
            cache[word] = relative
        offset = match.start()
        bounds.extend((offset + start, offset + end) for start, end in relative)
    return bounds


def _inside_spans(length: int, spans: Sequence[Span]) -> list[bool]:
    """blocked[i] is True when a cut at offset i would split a span."""
    delta = [0] * (length + 2)
    for span in spans:
        start, end = max(span.start, 0), min(span.end, length)
        if end - start >= 2:
            delta[start + 1] += 1
            delta[end] -= 1
    blocked: list[bool] = []
    depth = 0
    for i in range(length + 1):
        depth += delta[i]
        blocked.append(depth > 0)
    return blocked


def chunk_bounds(
    text: str, spans: Sequence[Span] = (), *, max_chars: int = CHUNK_CHARS_MAX, min_chars: int = CHUNK_CHARS_MIN
) -> list[tuple[int, int]]:
    """Cut ``text`` into (start, end) chunks of at most ``max_chars``, never inside one of ``spans``.

    Cuts fall at paragraph breaks if there is one in reach, else at line breaks, sentence ends, any whitespace,
    and only as a last resort (a long run with no whitespace, e.g. Chinese) between two characters. Chunks are
    trimmed of surrounding whitespace; a whitespace-only text has no chunks. A text that fits is one chunk.
    """
    length = len(text)
    chunks: list[tuple[int, int]] = []

    def add(start: int, end: int) -> None:
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            offset = start + (len(piece) - len(piece.lstrip()))
            chunks.append((offset, offset + len(stripped)))

    if length <= max_chars:
        add(0, length)
        return chunks
    blocked = _inside_spans(length, spans)
    candidates = [[m.end() for m in pattern.finditer(text)] for pattern in _CUT_PATTERNS]
    start = 0
    while length - start > max_chars:
        limit = start + max_chars
        cut = 0
        for positions in candidates:
            # The last allowed cut point in (start + min_chars, limit], walking back past blocked ones.
            index = bisect.bisect_right(positions, limit) - 1
            while index >= 0 and positions[index] > start + min_chars and blocked[positions[index]]:
                index -= 1
            if index >= 0 and positions[index] > start + min_chars:
                cut = positions[index]
                break
        if not cut:
            cut = limit
            while blocked[cut] and cut > start + 1:
                cut -= 1
        add(start, cut)
        start = cut
    add(start, length)
    return chunks

"""Conversions between Unicode code point offsets (what nerlab stores) and other index units.

Browsers and Azure's labels files count UTF-16 code units; an astral character (emoji, some CJK) is one code
point but two UTF-16 units. Every conversion goes through here.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right
from itertools import accumulate


def _utf16_prefix(text: str) -> list[int]:
    """prefix[i] = number of UTF-16 units in text[:i]."""
    return [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]


def utf16_length(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def codepoint_to_utf16(text: str, offset: int) -> int:
    if not 0 <= offset <= len(text):
        raise ValueError(f"offset {offset} is outside the text (0..{len(text)})")
    return offset + sum(1 for ch in text[:offset] if ord(ch) > 0xFFFF)


def utf16_to_codepoint(text: str, offset: int) -> int:
    """Map a UTF-16 offset to a code point offset; an offset inside a surrogate pair is an error."""
    return OffsetMapper(text).from_utf16(offset)


def _codepoint_at(prefix: list[int], offset: int, *, unit: str, length: str, inside: str) -> int:
    """The code point offset at which ``offset`` ``unit``s of text end (``prefix[i]``: the units in text[:i]); an
    offset past the text (``length``) or ``inside`` one code point is an error."""
    if not 0 <= offset <= prefix[-1]:
        raise ValueError(f"{unit} offset {offset} is outside the text (0..{length})")
    index = bisect_right(prefix, offset) - 1
    if prefix[index] != offset:
        raise ValueError(f"{unit} offset {offset} falls inside {inside}")
    return index


class OffsetMapper:
    """Repeated conversions over one text without rescanning it each time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._prefix = _utf16_prefix(text)
        self._utf8: list[int] | None = None

    @property
    def utf16_length(self) -> int:
        return self._prefix[-1]

    def to_utf16(self, offset: int) -> int:
        if not 0 <= offset < len(self._prefix):
            raise ValueError(f"offset {offset} is outside the text (0..{len(self.text)})")
        return self._prefix[offset]

    def from_utf16(self, offset: int) -> int:
        prefix = self._prefix
        return _codepoint_at(prefix, offset, unit="UTF-16", length=f"{prefix[-1]}", inside="a surrogate pair")

    def from_utf8(self, offset: int) -> int:
        """Map a UTF-8 byte offset (Azure's ``Utf8CodeUnit``) to a code point offset."""
        prefix = self._utf8_prefix()
        return _codepoint_at(
            prefix, offset, unit="UTF-8", length=f"{prefix[-1]} bytes", inside="a multi-byte character"
        )

    def utf8_length(self) -> int:
        return self._utf8_prefix()[-1]

    def _utf8_prefix(self) -> list[int]:
        if self._utf8 is None:
            self._utf8 = [0, *accumulate(_utf8_width(ch) for ch in self.text)]
        return self._utf8


def _utf8_width(character: str) -> int:
    code = ord(character)
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4


# --- Text elements (extended grapheme clusters) ------------------------------------------------------------------
#
# Azure's ``TextElements_v8`` unit is .NET's StringInfo text element: an extended grapheme cluster (UAX #29), what a
# reader sees as one character ("é" written e + U+0301, a flag, a family emoji, a Hangul syllable in jamo). Python's
# standard library has no segmenter and the ``regex`` package is not a dependency, so the rules below implement
# UAX #29 for the cases text actually contains: CR LF, controls, combining marks and spacing marks, ZWJ emoji
# sequences, emoji modifiers (skin tones), variation selectors, tag sequences, regional-indicator pairs and Hangul
# jamo. Prepend characters (a few Indic and Arabic signs) are not joined to what follows.

_L, _V, _T, _LV, _LVT = "L", "V", "T", "LV", "LVT"


def _hangul_kind(code: int) -> str | None:
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return _L
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return _V
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return _T
    if 0xAC00 <= code <= 0xD7A3:
        return _LV if (code - 0xAC00) % 28 == 0 else _LVT
    return None


def _is_extend(character: str) -> bool:
    """Grapheme_Extend or SpacingMark: joins the character before it."""
    code = ord(character)
    if code == 0x200C or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0xE0020 <= code <= 0xE007F:
        return True  # ZWNJ, variation selectors, tag characters (subdivision flags)
    if 0x1F3FB <= code <= 0x1F3FF:
        return True  # emoji modifiers (skin tones)
    return unicodedata.category(character) in {"Mn", "Me", "Mc"}


def _is_control(character: str) -> bool:
    code = ord(character)
    if code in (0x200C, 0x200D):
        return False
    return unicodedata.category(character) in {"Cc", "Zl", "Zp"} or code in (0x200B, 0x2028, 0x2029, 0xFEFF)


_PICTOGRAPHIC_RANGES = (
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2194, 0x21AA),
    (0x231A, 0x23FF),
    (0x24C2, 0x24C2),
    (0x25AA, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x1F000, 0x1F1E5),
    (0x1F200, 0x1F3FA),
    (0x1F400, 0x1FAFF),
    (0x1FC00, 0x1FFFD),
)


def _is_pictographic(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in _PICTOGRAPHIC_RANGES)


def _is_regional_indicator(character: str) -> bool:
    return 0x1F1E6 <= ord(character) <= 0x1F1FF


def grapheme_starts(text: str) -> list[int]:
    """The code point offsets at which each text element (extended grapheme cluster) of ``text`` starts."""
    starts: list[int] = []
    previous = ""
    emoji_run = False  # inside ExtPict Extend* (ZWJ)?: an emoji a ZWJ may join to the next one
    regional_count = 0  # regional indicators in a row so far, to pair flags
    for index, character in enumerate(text):
        if index == 0:
            starts.append(0)
        elif not _joins(previous, character, emoji_run, regional_count):
            starts.append(index)
        # State for the next character.
        if _is_pictographic(character):
            emoji_run = True
        elif not (_is_extend(character) or character == "\u200d"):
            emoji_run = False
        regional_count = regional_count + 1 if _is_regional_indicator(character) else 0
        previous = character
    return starts


def _joins(previous: str, character: str, emoji_run: bool, regional_count: int) -> bool:
    if previous == "\r" and character == "\n":
        return True  # GB3
    if _is_control(previous) or _is_control(character) or previous in "\r\n" or character in "\r\n":
        return False  # GB4, GB5
    before, after = _hangul_kind(ord(previous)), _hangul_kind(ord(character))
    if before == _L and after in (_L, _V, _LV, _LVT):
        return True  # GB6
    if before in (_LV, _V) and after in (_V, _T):
        return True  # GB7
    if before in (_LVT, _T) and after == _T:
        return True  # GB8
    if _is_extend(character) or character == "\u200d":
        return True  # GB9, GB9a
    if previous == "\u200d" and emoji_run and _is_pictographic(character):
        return True  # GB11: emoji ZWJ emoji
    # GB12/13: regional indicators pair up (a flag); the count includes ``previous``.
    return _is_regional_indicator(previous) and _is_regional_indicator(character) and regional_count % 2 == 1


def text_element_length(text: str) -> int:
    """How many text elements (Azure's ``TextElements_v8``, .NET's ``LengthInTextElements``) ``text`` holds."""
    return len(grapheme_starts(text))


class TextElementMapper:
    """Code point offsets to text element offsets over one text (for ``stringIndexType=TextElements_v8``).

    An offset inside a cluster (a model boundary between a letter and its accent, say) maps to the start of
    that cluster for a span's start and to the end of it for a span's end, so a span never splits a character.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = grapheme_starts(text)

    @property
    def length(self) -> int:
        return len(self._starts)

    def start_of(self, offset: int) -> int:
        """The index of the text element holding code point ``offset`` (``length`` at the end of the text)."""
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"offset {offset} is outside the text (0..{len(self.text)})")
        if offset == len(self.text):
            return len(self._starts)
        return bisect_right(self._starts, offset) - 1

    def end_of(self, offset: int) -> int:
        """The number of text elements that ``text[:offset]`` touches (a partly covered element counts)."""
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"offset {offset} is outside the text (0..{len(self.text)})")
        return bisect_left(self._starts, offset) if offset else 0

"""Conversions between Unicode code point offsets (what nerlab stores) and other index units.

Browsers and Azure's labels files count UTF-16 code units; an astral character (emoji, some CJK) is one code
point but two UTF-16 units. Every conversion goes through here.
"""

from __future__ import annotations

from bisect import bisect_right
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
    prefix = _utf16_prefix(text)
    if not 0 <= offset <= prefix[-1]:
        raise ValueError(f"UTF-16 offset {offset} is outside the text (0..{prefix[-1]})")
    index = bisect_right(prefix, offset) - 1
    if prefix[index] != offset:
        raise ValueError(f"UTF-16 offset {offset} falls inside a surrogate pair")
    return index


class OffsetMapper:
    """Repeated conversions over one text without rescanning it each time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._prefix = _utf16_prefix(text)

    def to_utf16(self, offset: int) -> int:
        if not 0 <= offset < len(self._prefix):
            raise ValueError(f"offset {offset} is outside the text (0..{len(self.text)})")
        return self._prefix[offset]

    def from_utf16(self, offset: int) -> int:
        if not 0 <= offset <= self._prefix[-1]:
            raise ValueError(f"UTF-16 offset {offset} is outside the text (0..{self._prefix[-1]})")
        index = bisect_right(self._prefix, offset) - 1
        if self._prefix[index] != offset:
            raise ValueError(f"UTF-16 offset {offset} falls inside a surrogate pair")
        return index

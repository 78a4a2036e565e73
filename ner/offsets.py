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
        self._utf8: list[int] | None = None

    @property
    def utf16_length(self) -> int:
        return self._prefix[-1]

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

    def from_utf8(self, offset: int) -> int:
        """Map a UTF-8 byte offset (Azure's ``Utf8CodeUnit``) to a code point offset."""
        prefix = self._utf8_prefix()
        if not 0 <= offset <= prefix[-1]:
            raise ValueError(f"UTF-8 offset {offset} is outside the text (0..{prefix[-1]} bytes)")
        index = bisect_right(prefix, offset) - 1
        if prefix[index] != offset:
            raise ValueError(f"UTF-8 offset {offset} falls inside a multi-byte character")
        return index

    def utf8_length(self) -> int:
        return self._utf8_prefix()[-1]

    def _utf8_prefix(self) -> list[int]:
        if self._utf8 is None:
            self._utf8 = [0, *accumulate(_utf8_width(ch) for ch in self.text)]
        return self._utf8


def _utf8_width(character: str) -> int:
    code = ord(character)
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4

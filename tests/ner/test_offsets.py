"""UTF-16 and UTF-8 offsets <-> code points, checked against Python's own encoders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ner.offsets import OffsetMapper, codepoint_to_utf16, utf16_length, utf16_to_codepoint

TEXTS = st.text(st.characters(exclude_categories=("Cs",)), max_size=60) | st.sampled_from(
    ["", "😀", "a😀b\r\n東京👩‍💻", "e\u0301🇫🇷"]
)


@given(TEXTS, st.data())
def test_offsets_match_the_encoders(text: str, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(text)))
    units = len(text[:offset].encode("utf-16-le")) // 2
    mapper = OffsetMapper(text)
    assert utf16_length(text) == mapper.utf16_length == len(text.encode("utf-16-le")) // 2
    assert codepoint_to_utf16(text, offset) == mapper.to_utf16(offset) == units
    assert utf16_to_codepoint(text, units) == mapper.from_utf16(units) == offset
    utf8 = len(text[:offset].encode("utf-8"))
    assert mapper.from_utf8(utf8) == offset
    assert mapper.utf8_length() == len(text.encode("utf-8"))


def test_offset_inside_an_emoji_is_refused() -> None:
    with pytest.raises(ValueError, match="surrogate pair"):
        utf16_to_codepoint("a😀b", 2)
    with pytest.raises(ValueError, match="surrogate pair"):
        OffsetMapper("a😀b").from_utf16(2)
    with pytest.raises(ValueError, match="multi-byte"):
        OffsetMapper("é").from_utf8(1)


@pytest.mark.parametrize("offset", [-1, 5])
def test_offset_outside_the_text_is_refused(offset: int) -> None:
    mapper = OffsetMapper("a😀b")
    with pytest.raises(ValueError, match="outside the text"):
        mapper.to_utf16(offset)
    with pytest.raises(ValueError, match="outside the text"):
        codepoint_to_utf16("a😀b", offset)
    with pytest.raises(ValueError, match="outside the text"):
        mapper.from_utf16(offset + 1 if offset > 0 else offset)

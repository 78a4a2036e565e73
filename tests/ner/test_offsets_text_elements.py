from __future__ import annotations

import pytest

from ner.offsets import TextElementMapper, grapheme_starts, text_element_length


@pytest.mark.parametrize(
    ("text", "elements"),
    [
        ("hello", 5),
        ("e\u0301te\u0301", 3),  # e + combining acute is one element
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467!", 2),  # a ZWJ family
        ("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", 2),  # two flags
        ("\U0001f1eb\U0001f1f7\U0001f1e9", 2),  # a flag and a lone regional indicator
        ("\U0001f44d\U0001f3fd", 1),  # thumbs up, medium skin tone
        ("\u2764\ufe0f", 1),  # heart + variation selector 16
        ("\r\n", 1),
        ("a\nb", 3),
        ("\u1100\u1161\u11a8", 1),  # Hangul jamo L V T
        ("\ud55c\uad6d", 2),  # precomposed Hangul syllables
        ("", 0),
    ],
)
def test_text_element_length_counts_what_a_reader_sees(text, elements):
    assert text_element_length(text) == elements


def test_text_element_mapper_converts_span_offsets():
    text = "\U0001f600 Ana e\u0301 Paris"
    mapper = TextElementMapper(text)
    start = text.index("Paris")
    assert start == 9  # code points: the emoji is 1, e + accent is 2
    assert (mapper.start_of(start), mapper.end_of(start + 5)) == (8, 13)
    assert mapper.length == 13
    # An offset inside a cluster (between e and its accent) widens to the whole cluster.
    assert mapper.start_of(7) == 6 and mapper.end_of(7) == 7
    assert grapheme_starts(text)[:3] == [0, 1, 2]
    with pytest.raises(ValueError, match="outside"):
        mapper.start_of(len(text) + 1)

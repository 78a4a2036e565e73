"""The one bounded JSON loader: depth, size and NUL characters refused with the reason, whatever the nesting."""

from __future__ import annotations

import json

import pytest

from ner.json_input import JsonInputError, JsonLimits, load_json

LIMITS = JsonLimits(max_depth=3, max_bytes=100)


def test_depth_up_to_the_limit_parses_and_one_more_is_refused():
    assert load_json('{"a": [[1]]}', limits=LIMITS) == {"a": [[1]]}
    with pytest.raises(JsonInputError, match="more than 3 levels deep"):
        load_json('{"a": [[[1]]]}', limits=LIMITS)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "[" * 100_000, '{"a":' * 50_000])
def test_nesting_past_pythons_recursion_limit_is_refused_not_a_recursion_error(text):
    with pytest.raises(JsonInputError, match="more than 100 levels deep"):
        load_json(text)


def test_size_is_checked_before_parsing():
    with pytest.raises(JsonInputError, match="the JSON is 101 bytes; at most 100 bytes is read"):
        load_json(b"[" + b"1," * 49 + b"1]", limits=LIMITS)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(constant):
    with pytest.raises(JsonInputError, match=f"{constant} is not a JSON number"):
        load_json(f"[{constant}]")


def test_malformed_json_keeps_its_position():
    with pytest.raises(json.JSONDecodeError) as error:
        load_json('{"a": }')
    assert (error.value.lineno, error.value.colno) == (1, 7)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a": {"b": [1, "x\\u0000"]}}', "at a.b[1]"),
        ('[{"text": "\\u0000"}]', "at [0].text"),
        ('{"span counts": {"\\u0000": null}}', 'in a key of ["span counts"]'),
        ('{"\\u0000": 1}', "in a key at the top level"),
        ('"a\\u0000"', "in the JSON's text"),
    ],
)
def test_a_nul_character_in_any_text_is_refused_naming_where(text, where):
    with pytest.raises(JsonInputError, match="NUL character") as refused:
        load_json(text)
    assert where in str(refused.value)


def test_a_nul_spelled_out_as_text_is_not_a_nul():
    assert load_json('["\\\\u0000"]') == ["\\u0000"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_a_nul_is_found_in_bytes_of_every_json_encoding(encoding):
    with pytest.raises(JsonInputError, match=r"NUL character \(\\u0000\) at \[0\]"):
        load_json('["a\\u0000"]'.encode(encoding))


def test_detection_may_look_past_a_nul():
    assert load_json('{"text": "a\\u0000"}', refuse_nul=False) == {"text": "a\x00"}


def test_the_first_nul_in_the_files_order_is_named():
    text = '[{"a": {"b": "ok"}, "c": "\\u0000"}, {"d": "\\u0000"}, "\\u0000"]'
    with pytest.raises(JsonInputError, match=r"at \[0\]\.c:"):
        load_json(text)

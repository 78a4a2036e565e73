"""The one bounded JSON loader: depth and size refused with the reason, whatever the nesting."""

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

from __future__ import annotations

import pytest

from ner.spans import (
    SpanError,
    check_new_span,
    find_conflict,
    selection_bounds,
    snap_to_tokens,
    span_problems,
    span_verdicts,
)
from ner.tokens import token_bounds
from ner.types import Span

TEXT = "Alice Smith works at Contoso Ltd in Paris."


def test_span_inside_the_text_is_accepted():
    check_new_span(TEXT, [], Span(0, 11, "Person"), "none")


@pytest.mark.parametrize(
    ("span", "message"),
    [
        (Span(-1, 3, "X"), "outside the document"),
        (Span(30, 99, "X"), "outside the document"),
        (Span(5, 5, "X"), "empty"),
        (Span(5, 6, "X"), "only whitespace"),
    ],
)
def test_span_breaking_a_bound_is_rejected_with_a_reason(span, message):
    with pytest.raises(SpanError, match=message):
        check_new_span(TEXT, [], span, "none")


def test_entity_longer_than_500_characters_is_rejected():
    text = "a" * 600
    with pytest.raises(SpanError, match="at most 500"):
        check_new_span(text, [], Span(0, 501, "X"), "none")


def test_overlap_is_rejected_under_no_overlap_and_named_in_the_message():
    existing = [Span(0, 11, "Person")]
    with pytest.raises(SpanError, match=r"overlaps Person at 0-11"):
        check_new_span(TEXT, existing, Span(6, 17, "Organization"), "none")


def test_overlap_is_allowed_when_the_project_allows_it():
    check_new_span(TEXT, [Span(0, 11, "Person")], Span(6, 11, "Surname"), "allow")


def test_exact_duplicate_is_rejected_under_every_policy():
    for policy in ("none", "allow"):
        with pytest.raises(SpanError, match="already tagged"):
            check_new_span(TEXT, [Span(0, 11, "Person")], Span(0, 11, "Person"), policy)


def test_touching_spans_do_not_overlap():
    assert find_conflict([Span(0, 5, "A")], Span(5, 11, "B"), "none") is None


def test_span_problems_lists_every_problem_once():
    spans = [Span(0, 11, "Person"), Span(6, 17, "Org"), Span(40, 99, "Loc"), Span(21, 28, "Org")]
    problems = span_problems(TEXT, spans, "none")
    assert len(problems) == 2
    assert any("overlaps Person" in p for p in problems)
    assert any("outside the document" in p for p in problems)


def test_span_verdicts_say_which_span_breaks_which_rule_in_sorted_order():
    spans = [Span(40, 99, "Loc"), Span(6, 17, "Org"), Span(0, 11, "Person")]
    verdicts = span_verdicts(TEXT, spans, "none")
    assert [span for span, _ in verdicts] == sorted(spans)
    assert verdicts[0][1] is None
    assert "overlaps Person" in (verdicts[1][1] or "")
    assert "outside the document" in (verdicts[2][1] or "")


TOKENS = [(0, 5), (6, 11), (12, 17), (18, 20), (21, 28), (29, 32), (33, 35), (36, 41), (41, 42)]


@pytest.mark.parametrize(
    ("selection", "snapped"),
    [
        ((2, 8), (0, 11)),  # inside two tokens -> both whole
        ((0, 11), (0, 11)),  # already on boundaries
        ((5, 11), (6, 11)),  # leading space dropped
        ((6, 12), (6, 11)),  # trailing space dropped
        ((37, 42), (36, 42)),  # word and its punctuation
        ((11, 12), (11, 12)),  # only whitespace: unchanged, check_bounds rejects it
    ],
)
def test_selection_snaps_to_whole_tokens(selection, snapped):
    assert snap_to_tokens(*selection, TOKENS) == snapped


@pytest.mark.parametrize(
    ("selection", "whole", "character"),
    [
        ((2, 8), (0, 11), (2, 8)),  # inside two tokens: token mode widens, character mode keeps the selection
        ((5, 12), (6, 11), (6, 11)),  # whitespace at both ends dropped in either mode
        ((37, 42), (36, 42), (37, 42)),
        ((11, 12), None, None),  # only whitespace: nothing to tag
        ((42, 42), None, None),
    ],
)
def test_selection_bounds_trim_whitespace_and_snap_in_token_mode(selection, whole, character):
    assert selection_bounds(*selection, TOKENS, whole_tokens=True) == whole
    assert selection_bounds(*selection, TOKENS, whole_tokens=False) == character


def test_selection_bounds_trim_exactly_what_python_calls_whitespace():
    # The page learns what whitespace is from the token bounds: the same characters as str.strip(), which
    # check_bounds uses to refuse a whitespace-only span (NBSP, ideographic space, NEL, ...).
    text = "\u00a0Alice\u3000 Smith\u0085\t é\u2003 \ufeffx \u200b"
    bounds = token_bounds(text, "en")
    for start in range(len(text)):
        for end in range(start + 1, len(text) + 1):
            piece = text[start:end]
            stripped = piece.strip()
            expected = (
                None if not stripped else (start + piece.index(stripped), start + piece.index(stripped) + len(stripped))
            )
            assert selection_bounds(start, end, bounds, whole_tokens=False) == expected, (start, end)

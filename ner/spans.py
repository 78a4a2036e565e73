"""The span rules: bounds, length, overlap. Every path that creates a span calls these."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Literal

from ner.limits import ENTITY_CHARS_MAX
from ner.types import Span

OverlapPolicy = Literal["none", "allow"]
OVERLAP_POLICIES: tuple[OverlapPolicy, ...] = ("none", "allow")


class SpanError(ValueError):
    """A span breaks a rule; the message says which, in the user's words."""


def check_bounds(span: Span, text: str) -> None:
    if span.start < 0 or span.end > len(text):
        raise SpanError(f"span {span.start}-{span.end} is outside the document (0-{len(text)} characters)")
    if span.end <= span.start:
        raise SpanError(f"span {span.start}-{span.end} is empty: its end must come after its start")
    if span.length > ENTITY_CHARS_MAX:
        raise SpanError(
            f"span {span.start}-{span.end} is {span.length} characters long; "
            f"an entity may be at most {ENTITY_CHARS_MAX}"
        )
    if not text[span.start : span.end].strip():
        raise SpanError(f"span {span.start}-{span.end} covers only whitespace")


def find_conflict(existing: Iterable[Span], new: Span, policy: OverlapPolicy) -> Span | None:
    """The existing span that makes ``new`` unacceptable, or None.

    The same region with the same label is always a conflict (a duplicate); under the "none" policy any
    overlapping span is one too, because spaCy's NER cannot learn overlapping entities.
    """
    for span in existing:
        if span == new:
            return span
        if policy == "none" and span.overlaps(new):
            return span
    return None


def conflict_message(conflict: Span, new: Span) -> str:
    if conflict == new:
        return f"{new.label} at {new.start}-{new.end} is already tagged"
    return (
        f"{new.label} at {new.start}-{new.end} overlaps {conflict.label} at "
        f"{conflict.start}-{conflict.end}; this project does not allow overlapping spans"
    )


def check_new_span(text: str, existing: Iterable[Span], new: Span, policy: OverlapPolicy) -> None:
    check_bounds(new, text)
    conflict = find_conflict(existing, new, policy)
    if conflict is not None:
        raise SpanError(conflict_message(conflict, new))


def span_verdicts(text: str, spans: Sequence[Span], policy: OverlapPolicy) -> list[tuple[Span, str | None]]:
    """Each span, sorted, with the rule it breaks (None when it is acceptable beside the ones before it)."""
    verdicts: list[tuple[Span, str | None]] = []
    accepted: list[Span] = []
    for span in sorted(spans):
        try:
            check_bounds(span, text)
        except SpanError as error:
            verdicts.append((span, str(error)))
            continue
        # Sorted by start, so only spans starting before this one ends can overlap it.
        conflict = find_conflict(reversed(accepted), span, policy)
        if conflict is not None:
            verdicts.append((span, conflict_message(conflict, span)))
            continue
        accepted.append(span)
        verdicts.append((span, None))
    return verdicts


def span_problems(text: str, spans: Sequence[Span], policy: OverlapPolicy) -> list[str]:
    """Every rule a set of spans breaks, one message each (for validating an import before writing)."""
    return [problem for _, problem in span_verdicts(text, spans, policy) if problem is not None]


def tokens_touched(start: int, end: int, token_bounds: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """The indices (first, last) of the tokens that [start, end) touches, or None when it touches none.

    ``token_bounds`` are sorted (start, end) pairs with the whitespace between them left out (``ner.tokens``).
    """
    ends = [token_end for _, token_end in token_bounds]
    first = bisect_left(ends, start + 1)  # the first token ending after start
    if first == len(token_bounds) or token_bounds[first][0] >= end:
        return None
    starts = [token_start for token_start, _ in token_bounds]
    last = bisect_left(starts, end) - 1  # the last token starting before end
    return first, last


def snap_to_tokens(start: int, end: int, token_bounds: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """Widen [start, end) to the tokens it touches; ``token_bounds`` are sorted (start, end) pairs.

    A selection that touches no token (only whitespace) is returned unchanged for check_bounds to reject.
    """
    touched = tokens_touched(start, end, token_bounds)
    if touched is None:
        return start, end
    first, last = touched
    return token_bounds[first][0], token_bounds[last][1]


def selection_bounds(
    start: int, end: int, token_bounds: Sequence[tuple[int, int]], *, whole_tokens: bool
) -> tuple[int, int] | None:
    """What a selection on the tagging page is tagged as, or None when it holds only whitespace.

    Whitespace at either end is dropped and, with ``whole_tokens`` (a project labelling tokens), the rest is
    widened to the tokens it touches, as ``snap_to_tokens`` does on save. Tokens leave out exactly the
    whitespace (``ner.tokens``: they cover every other character), so trimming is keeping the selection within
    the tokens it touches: the page needs the token bounds the server sends and no whitespace rule of its own.
    static/js/annotate/tokens.js applies this over those bounds.
    """
    touched = tokens_touched(start, end, token_bounds)
    if touched is None:
        return None
    first_start, last_end = token_bounds[touched[0]][0], token_bounds[touched[1]][1]
    if whole_tokens:
        return first_start, last_end
    return max(start, first_start), min(end, last_end)

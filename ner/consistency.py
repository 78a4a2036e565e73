"""Consistency checks over a project's tags: the FAQ's "precisely, consistently and completely", made checkable.

Three kinds of finding, each about one *surface* (the tagged text, whitespace runs read as one space, case kept):

- ``type``: the surface is tagged with different entity types across the project ("Jordan" PERSON 12 times,
  LOCATION twice);
- ``untagged``: the surface is tagged somewhere and appears untagged elsewhere, on word boundaries and touching
  no tag at all;
- ``boundary``: the surface appears where other tags cut it differently: a part of it is tagged ("America" inside
  "Bank of America"), or a tag crosses its edge. An occurrence that lies *inside* a longer tag is nesting, not a
  boundary problem ("America" inside a tagged "Bank of America" is reported, if at all, under "Bank of America").

Word boundaries: a match may not start or end inside a word. Two neighbouring characters belong to one word when
both are letters, digits or underscores of a script written with spaces between words (so "Ann" is not found in
"Annual"), or when the second is a combining mark (a match never splits "é" written as e + U+0301). Scripts
written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) have no such boundaries in plain text, so
there any position between two characters counts: "北京" is found in "我在北京", and an occurrence inside a longer
tagged name is still left out by the overlap rule.

Speed: one pass over the spans collects the surfaces; one compiled regular expression (a trie of all surfaces,
so each text position costs a few character comparisons, not one per surface) finds where they may start, and a
walk down the same trie finds every surface starting there, shorter ones included. Every occurrence of every
surface is found, overlapping ones too, so checking one surface alone gives the same answer as checking all.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

from ner.types import LabeledDoc, Span

FindingKind = Literal["type", "untagged", "boundary"]
FINDING_KINDS: Final[tuple[FindingKind, ...]] = ("type", "untagged", "boundary")

# Examples kept per finding: enough to judge it, few enough that 10,000 documents stay cheap to report on.
EXAMPLES_MAX: Final = 8
# Surfaces shorter than this are not searched for untagged occurrences: a tagged "A" or "5" would match everywhere.
SEARCH_CHARS_MIN: Final = 2
# Longer tagged texts are almost never repeated word for word; searching for them only grows the expression.
SEARCH_CHARS_MAX: Final = 100

# Scripts written without spaces between words, as code point ranges.
_NO_SPACE_RANGES: Final = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),  # iteration mark, closing mark, ideographic zero
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3031, 0x303C),  # kana repeat marks
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31A0, 0x31FF),  # Bopomofo extended, Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G
)


def _class_body(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges
    )


def _ranges(code_points: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for point in code_points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return ranges


@lru_cache(maxsize=1)
def _classes() -> tuple[str, str]:
    """(spaced word character class, combining mark class) as regular expression classes.

    Built once per process from the Unicode database (about a quarter of a second).
    """
    marks = _ranges(point for point in range(0x110000) if unicodedata.category(chr(point)).startswith("M"))
    spaced_word = f"[^\\W{_class_body(_NO_SPACE_RANGES)}]"
    mark = f"[{_class_body(marks)}]"
    return spaced_word, mark


@lru_cache(maxsize=1)
def _char_tests() -> tuple[re.Pattern[str], re.Pattern[str]]:
    spaced_word, mark = _classes()
    return re.compile(spaced_word), re.compile(mark)


_OTHER, _SPACED_WORD, _MARK = 0, 1, 2
# Character -> its kind; texts use a few thousand distinct characters, so this stays small.
_char_kinds: dict[str, int] = {}


def _kind(char: str) -> int:
    kind = _char_kinds.get(char)
    if kind is None:
        spaced_word, mark = _char_tests()
        kind = _SPACED_WORD if spaced_word.match(char) else _MARK if mark.match(char) else _OTHER
        _char_kinds[char] = kind
    return kind


def is_word_boundary(text: str, index: int) -> bool:
    """Whether a match may start or end at ``index`` of ``text`` (see the module's notes on word boundaries)."""
    if index <= 0 or index >= len(text):
        return True
    after = _kind(text[index])
    if after == _MARK:
        return False
    return not (after == _SPACED_WORD and _kind(text[index - 1]) != _OTHER)


def normalize_surface(text: str) -> str:
    """The key a tagged text is grouped under: whitespace runs become one space, ends are trimmed, case is kept."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where a finding's surface is: ``doc`` indexes the documents checked; offsets are code points.

    ``label`` is the type of the tag covering exactly ``[start, end)``, None when there is none. For a boundary
    finding, ``overlapping`` holds the tags there whose bounds differ from the surface's.
    """

    doc: int
    start: int
    end: int
    label: str | None
    overlapping: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One inconsistency about one surface.

    ``label_counts`` counts the tags covering exactly the surface, per type, most frequent first. ``other_count``
    is what the finding is about besides them: untagged occurrences (``untagged``) or occurrences where tags cut
    the surface differently (``boundary``); 0 for ``type``. ``occurrences`` are examples, at most
    ``EXAMPLES_MAX``, the ones a fix would change first.
    """

    kind: FindingKind
    surface: str
    label_counts: tuple[tuple[str, int], ...]
    other_count: int
    occurrences: tuple[Occurrence, ...]

    @property
    def tagged_count(self) -> int:
        return sum(count for _, count in self.label_counts)

    @property
    def total(self) -> int:
        return self.tagged_count + self.other_count

    @property
    def majority(self) -> str | None:
        """The most frequent type of the exact tags (ties go to the alphabetically first), None if none."""
        return self.label_counts[0][0] if self.label_counts else None

    @property
    def is_tie(self) -> bool:
        return len(self.label_counts) > 1 and self.label_counts[0][1] == self.label_counts[1][1]

    @property
    def labels(self) -> tuple[str, ...]:
        """Every type the finding involves: its exact tags' and, for boundary findings, the differing tags'."""
        names = {label for label, _ in self.label_counts}
        for occurrence in self.occurrences:
            names.update(span.label for span in occurrence.overlapping)
        return tuple(sorted(names))

    @property
    def suggestion(self) -> str:
        """The suggested fix, in the user's words."""
        majority = self.majority
        surface = f"“{self.surface}”"
        if self.kind == "type":
            share = f"{self.label_counts[0][1]} of {self.tagged_count}"
            if self.is_tie:
                return f"{surface} is tagged as {' and '.join(self.labels)} equally often: choose one type for all."
            others = self.tagged_count - self.label_counts[0][1]
            return f"Retype the other {others} tag{_s(others)} of {surface} as {majority} ({share} are {majority})."
        if self.kind == "untagged":
            if self.other_count > self.tagged_count:
                return (
                    f"{surface} is untagged {self.other_count} times and tagged {self.tagged_count}: "
                    f"remove the tag{_s(self.tagged_count)} if it is not an entity, or tag the rest as {majority}."
                )
            return f"Tag the {self.other_count} untagged occurrence{_s(self.other_count)} of {surface} as {majority}."
        if self.other_count > self.tagged_count:
            return (
                f"Tags cut {surface} differently {self.other_count} times, and cover it whole {self.tagged_count}: "
                f"decide which bounds are right; remove the whole tag{_s(self.tagged_count)} if the shorter ones are."
            )
        return (
            f"Tag the whole of {surface} as {majority} in the {self.other_count} place{_s(self.other_count)} "
            "where tags cut it differently."
        )


def _s(count: int) -> str:
    return "" if count == 1 else "s"


# --- the surface trie -----------------------------------------------------------------------------------------------

# A whitespace run in the text is one edge of the trie, under this key.
_SPACE: Final = " "
_END: Final = ""  # the key marking "a surface ends here"

_Trie = dict[str, "_Trie"]


def _trie(surfaces: Iterable[str]) -> _Trie:
    root: _Trie = {}
    for surface in surfaces:
        node = root
        for char in surface:
            node = node.setdefault(char, {})
        node[_END] = {}
    return root


def _literal(char: str) -> str:
    return r"\s+" if char == _SPACE else re.escape(char)


def _node_pattern(node: _Trie) -> str:
    # Longer surfaces first, though the expression only has to find where one may start: the trie walk in
    # ``_surfaces_at`` then finds every surface starting there and checks the word boundaries at both ends.
    branches: list[str] = []
    for char in sorted(key for key in node if key != _END):
        child, run = node[char], char
        # Collapse chains with one way on (a radix tree), so nesting stays as shallow as the branching.
        while len(child) == 1 and _END not in child:
            ((next_char, child),) = child.items()
            run += next_char
        branches.append("".join(_literal(c) for c in run) + _node_pattern(child))
    if _END in node:
        branches.append("")
    if not branches:
        return ""
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _start_pattern(root: _Trie) -> re.Pattern[str] | None:
    """An expression matching where some surface may start: the text of a whole surface, boundaries unchecked.

    The boundary checks stay out of it on purpose: Python compiles a character class of every combining mark
    slowly, and a copy at each of thousands of surfaces took seconds; checked in ``_surfaces_at`` they cost a
    dictionary step per matched character.
    """
    if not root:
        return None
    # Top-level alternatives that each begin with a distinct literal let the engine skip, in C, every position
    # whose character starts no surface.
    return re.compile(_node_pattern(root))


def _surfaces_at(text: str, start: int, root: _Trie) -> list[tuple[str, int]]:
    """Every (surface, end) of the trie that matches ``text`` from ``start`` and ends on a word boundary."""
    found: list[tuple[str, int]] = []
    if not is_word_boundary(text, start):
        return []
    node, index, length = root, start, len(text)
    spaced = False
    while index < length:
        char = text[index]
        if char.isspace():
            step = node.get(_SPACE)
            while index < length and text[index].isspace():
                index += 1
            spaced = True
        else:
            step = node.get(char)
            index += 1
        if step is None:
            break
        node = step
        if _END in node and is_word_boundary(text, index):
            surface = text[start:index]
            found.append((normalize_surface(surface) if spaced else surface, index))
    return found


# --- the check -----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """What one pass learned about one surface."""

    labels: Counter[str] = field(default_factory=Counter)
    tagged: list[Occurrence] = field(default_factory=list)
    untagged: list[Occurrence] = field(default_factory=list)
    untagged_count: int = 0
    boundary: list[Occurrence] = field(default_factory=list)
    boundary_count: int = 0


class _DocSpans:
    """One document's spans, for "which tags overlap [a, b)" in logarithmic time."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = sorted(spans)
        self.starts = [span.start for span in self.spans]
        self.longest = max((span.length for span in self.spans), default=0)

    def overlapping(self, start: int, end: int) -> list[Span]:
        index = bisect_left(self.starts, end)
        found: list[Span] = []
        # Sorted by start, and no span is longer than the longest: only spans starting after start - longest
        # can reach into [start, end).
        while index > 0 and self.starts[index - 1] > start - self.longest:
            index -= 1
            span = self.spans[index]
            if span.end > start:
                found.append(span)
        return found


def _sorted_counts(labels: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(labels.items(), key=lambda item: (-item[1], item[0])))


def _examples(first: Sequence[Occurrence], second: Sequence[Occurrence]) -> tuple[Occurrence, ...]:
    """Up to EXAMPLES_MAX examples: those a fix would change (``first``), then up to two of ``second`` to compare."""
    keep = min(2, len(second))
    return (*first[: EXAMPLES_MAX - keep], *second[:keep])


def check_consistency(
    docs: Sequence[LabeledDoc],
    *,
    search_in: Collection[int] | None = None,
    surfaces: Collection[str] | None = None,
    kinds: Collection[FindingKind] = FINDING_KINDS,
) -> list[Finding]:
    """The inconsistencies in ``docs``, most frequent first (then by kind and surface: a deterministic order).

    ``search_in`` limits the search for untagged and differently cut occurrences to those document indexes (a
    project leaves out documents nobody has started tagging); their tags count everywhere. ``surfaces`` limits
    the check to those (normalized) surfaces, with the same result for them as a check of all.
    """
    wanted = {normalize_surface(surface) for surface in surfaces} if surfaces is not None else None
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for index, doc in enumerate(docs):
        for span in doc.sorted_spans():
            surface = normalize_surface(span.text_in(doc.text))
            if not surface or (wanted is not None and surface not in wanted):
                continue
            tally = tallies[surface]
            tally.labels[span.label] += 1
            tally.tagged.append(Occurrence(index, span.start, span.end, span.label))

    search = "untagged" in kinds or "boundary" in kinds
    root = _trie(surface for surface in tallies if _searchable(surface))
    pattern = _start_pattern(root) if search else None
    allowed = frozenset(search_in) if search_in is not None else None
    if pattern is not None:
        for index, doc in enumerate(docs):
            if allowed is not None and index not in allowed:
                continue
            _search_doc(index, doc, pattern, root, tallies)

    findings: list[Finding] = []
    for surface, tally in tallies.items():
        counts = _sorted_counts(tally.labels)
        majority = counts[0][0]
        if "type" in kinds and len(counts) > 1:
            minority = [occurrence for occurrence in tally.tagged if occurrence.label != majority]
            examples = _examples(minority, [occurrence for occurrence in tally.tagged if occurrence.label == majority])
            findings.append(Finding("type", surface, counts, 0, examples))
        if "untagged" in kinds and tally.untagged_count:
            examples = _examples(tally.untagged, tally.tagged)
            findings.append(Finding("untagged", surface, counts, tally.untagged_count, examples))
        if "boundary" in kinds and tally.boundary_count:
            examples = _examples(tally.boundary, tally.tagged)
            findings.append(Finding("boundary", surface, counts, tally.boundary_count, examples))
    order = {kind: position for position, kind in enumerate(FINDING_KINDS)}
    findings.sort(key=lambda finding: (-finding.total, order[finding.kind], finding.surface))
    return findings


def _searchable(surface: str) -> bool:
    # A tag starting with a combining mark splits a character: it can never start on a word boundary.
    return SEARCH_CHARS_MIN <= len(surface) <= SEARCH_CHARS_MAX and not _char_tests()[1].match(surface[0])


def _differing_occurrences(
    index: int, doc: LabeledDoc, pattern: re.Pattern[str], root: _Trie
) -> Iterable[tuple[str, Occurrence]]:
    """(surface, occurrence) for every occurrence in ``doc`` not tagged exactly: untagged, or cut differently."""
    text = doc.text
    spans = _DocSpans(doc.spans)
    exact = {(span.start, span.end) for span in doc.spans}
    # The furthest end of the tags starting at each offset. The expression matches the longest surface starting
    # where it matches (the trie has one path per text), so when a tag starting there covers that match, every
    # surface starting there lies inside a tag: most tagged mentions are skipped without walking the trie.
    reach: dict[int, int] = {}
    for span in doc.spans:
        reach[span.start] = max(span.end, reach.get(span.start, 0))
    position = 0
    while (match := pattern.search(text, position)) is not None:
        start = match.start()
        position = start + 1
        if reach.get(start, -1) >= match.end():
            continue
        for surface, end in _surfaces_at(text, start, root):
            if (start, end) in exact:
                continue  # a tag covers exactly this: counted in the spans pass
            touching = spans.overlapping(start, end)
            if any(span.start <= start and span.end >= end for span in touching):
                continue  # inside a longer tag: nesting, not an inconsistency of this surface
            yield surface, Occurrence(index, start, end, None, tuple(sorted(touching)))


def _search_doc(index: int, doc: LabeledDoc, pattern: re.Pattern[str], root: _Trie, tallies: dict[str, _Tally]) -> None:
    for surface, occurrence in _differing_occurrences(index, doc, pattern, root):
        tally = tallies[surface]
        if not occurrence.overlapping:
            tally.untagged_count += 1
            if len(tally.untagged) < EXAMPLES_MAX:
                tally.untagged.append(occurrence)
        else:
            tally.boundary_count += 1
            if len(tally.boundary) < EXAMPLES_MAX:
                tally.boundary.append(occurrence)


def surface_occurrences(
    docs: Sequence[LabeledDoc], surface: str, *, search_in: Collection[int] | None = None
) -> tuple[list[Occurrence], list[Occurrence], list[Occurrence]]:
    """Every occurrence of one surface, uncapped: (exact tags, untagged, differently cut), for a fix to act on.

    The same rules as ``check_consistency``; a fix re-reads the current tags and asks this right before it writes.
    """
    key = normalize_surface(surface)
    tagged: list[Occurrence] = []
    untagged: list[Occurrence] = []
    boundary: list[Occurrence] = []
    root = _trie([key]) if key and _searchable(key) else {}
    pattern = _start_pattern(root)
    allowed = frozenset(search_in) if search_in is not None else None
    for index, doc in enumerate(docs):
        for span in doc.sorted_spans():
            if normalize_surface(span.text_in(doc.text)) == key:
                tagged.append(Occurrence(index, span.start, span.end, span.label))
        if pattern is None or (allowed is not None and index not in allowed):
            continue
        for _, occurrence in _differing_occurrences(index, doc, pattern, root):
            (boundary if occurrence.overlapping else untagged).append(occurrence)
    return tagged, untagged, boundary

"""The consistency rules: each kind of finding, word boundaries, Unicode, overlapping tags, order and caps."""

from __future__ import annotations

from ner.consistency import (
    EXAMPLES_MAX,
    Occurrence,
    check_consistency,
    is_word_boundary,
    normalize_surface,
    surface_occurrences,
)
from ner.types import LabeledDoc, Span


def doc(text: str, *tags: tuple[str, str] | tuple[str, str, int]) -> LabeledDoc:
    """A document with tags given as (surface, label) or (surface, label, nth occurrence)."""
    spans = []
    for tag in tags:
        surface, label = tag[0], tag[1]
        nth = tag[2] if len(tag) == 3 else 0
        start = -1
        for _ in range(nth + 1):
            start = text.index(surface, start + 1)
        spans.append(Span(start, start + len(surface), label))
    return LabeledDoc(text=text, spans=tuple(spans))


def by_kind(findings, kind):
    return {finding.surface: finding for finding in findings if finding.kind == kind}


def test_same_string_with_different_types_is_reported_with_counts_and_majority():
    docs = [
        doc("Jordan scored twice.", ("Jordan", "PERSON")),
        doc("Jordan won again.", ("Jordan", "PERSON")),
        doc("They flew to Jordan.", ("Jordan", "LOCATION")),
    ]
    finding = by_kind(check_consistency(docs), "type")["Jordan"]
    assert finding.label_counts == (("PERSON", 2), ("LOCATION", 1))
    assert finding.majority == "PERSON"
    assert not finding.is_tie
    # The tag a fix would change comes first.
    assert finding.occurrences[0] == Occurrence(2, 13, 19, "LOCATION")
    assert "Retype the other 1 tag of “Jordan” as PERSON" in finding.suggestion


def test_a_tie_is_said_to_be_one_and_majority_is_deterministic():
    docs = [doc("Paris Hilton", ("Paris", "PERSON")), doc("in Paris", ("Paris", "LOCATION"))]
    finding = by_kind(check_consistency(docs), "type")["Paris"]
    assert finding.is_tie and finding.majority == "LOCATION"
    assert "equally often" in finding.suggestion


def test_consistent_tags_give_no_finding():
    docs = [
        doc("Acme hired Bob.", ("Acme", "ORG"), ("Bob", "PER")),
        doc("Bob left Acme.", ("Bob", "PER"), ("Acme", "ORG")),
    ]
    assert check_consistency(docs) == []


def test_untagged_occurrence_is_reported_on_word_boundaries_only():
    docs = [
        doc("Ann signed the lease.", ("Ann", "PERSON")),
        doc("The Annual report was written by Ann, not Joanne or Anna."),
    ]
    finding = by_kind(check_consistency(docs), "untagged")["Ann"]
    # "Annual", "Joanne" and "Anna" hold "Ann" but not as a word: only the one after "by" counts.
    assert finding.other_count == 1
    assert finding.occurrences[0] == Occurrence(1, 33, 36, None)
    assert finding.label_counts == (("PERSON", 1),)
    assert "Tag the 1 untagged occurrence of “Ann” as PERSON" in finding.suggestion


def test_untagged_matching_is_case_sensitive():
    docs = [doc("Apple sells phones.", ("Apple", "ORG")), doc("an apple a day")]
    assert by_kind(check_consistency(docs), "untagged") == {}


def test_untagged_occurrence_inside_another_tag_is_not_reported():
    docs = [
        doc("America is big.", ("America", "LOC")),
        doc("Bank of America reported.", ("Bank of America", "ORG")),
    ]
    findings = check_consistency(docs)
    assert by_kind(findings, "untagged") == {}
    # Nesting is not a boundary problem either: "America" inside a tagged bank name is simply part of it.
    assert by_kind(findings, "boundary") == {}


def test_untagged_occurrence_touching_another_tag_is_a_boundary_finding_not_untagged():
    docs = [
        doc("Bank of America reported.", ("Bank of America", "ORG")),
        doc("Bank of America again.", ("America", "LOC")),
    ]
    findings = check_consistency(docs)
    assert "Bank of America" not in by_kind(findings, "untagged")
    finding = by_kind(findings, "boundary")["Bank of America"]
    assert finding.other_count == 1
    assert finding.occurrences[0] == Occurrence(1, 0, 15, None, (Span(8, 15, "LOC"),))
    assert finding.labels == ("LOC", "ORG")
    assert "Tag the whole of “Bank of America” as ORG" in finding.suggestion


def test_trailing_suffix_boundary_is_reported_under_the_longer_string():
    docs = [
        doc("Apple Inc. shipped.", ("Apple Inc.", "ORG")),
        doc("Apple Inc. shipped more.", ("Apple", "ORG")),
    ]
    findings = check_consistency(docs)
    assert list(by_kind(findings, "boundary")) == ["Apple Inc."]
    # "Apple" in the first document lies inside the longer tag: not untagged, not a boundary finding of its own.
    assert by_kind(findings, "untagged") == {}


def test_crossing_tag_is_a_boundary_finding():
    docs = [
        doc("New York Times", ("New York", "LOC")),
        doc("the New York Times", ("York Times", "ORG")),
    ]
    finding = by_kind(check_consistency(docs), "boundary")["New York"]
    assert finding.occurrences[0].overlapping == (Span(8, 18, "ORG"),)


def test_whitespace_runs_count_as_one_space():
    docs = [doc("Bank of America", ("Bank of America", "ORG")), doc("Bank  of\nAmerica said")]
    finding = by_kind(check_consistency(docs), "untagged")["Bank of America"]
    assert finding.occurrences[0] == Occurrence(1, 0, 16, None)
    assert normalize_surface(" Bank\tof \n America ") == "Bank of America"


def test_unicode_text_and_combining_marks():
    docs = [
        doc("Zoë Müller ran 🏃 to Köln.", ("Zoë Müller", "PER"), ("Köln", "LOC")),
        doc("Later 🏃 Zoë Müller left Kölner Dom and Köln."),
        # "Jose" followed by a combining acute accent is "José" written in two code points: not "Jose".
        doc("Jose came; Jose\u0301 did not.", ("Jose", "PER")),
    ]
    findings = check_consistency(docs)
    untagged = by_kind(findings, "untagged")
    assert untagged["Zoë Müller"].occurrences[0] == Occurrence(1, 8, 18, None)
    assert [o.start for o in untagged["Köln"].occurrences if o.label is None] == [39]  # not inside "Kölner"
    assert "Jose" not in untagged


def test_scripts_without_spaces_match_inside_running_text():
    docs = [doc("我在北京工作。", ("北京", "LOC")), doc("北京很大\uff0c我爱北京。")]
    finding = by_kind(check_consistency(docs), "untagged")["北京"]
    assert finding.other_count == 2


def test_word_boundary_rule():
    assert is_word_boundary("Ann met", 3)
    assert not is_word_boundary("Annual", 3)
    assert is_word_boundary("Ann-Marie", 3)
    assert not is_word_boundary("e\u0301", 1)  # never before a combining mark
    assert is_word_boundary("在北京", 1)


def test_short_surfaces_are_not_searched_but_still_compared_for_types():
    docs = [doc("A wins", ("A", "X")), doc("A loses", ("A", "Y"))]
    findings = check_consistency(docs)
    assert [finding.kind for finding in findings] == ["type"]


def test_search_in_limits_where_untagged_occurrences_are_looked_for():
    docs = [doc("Acme sells.", ("Acme", "ORG")), doc("Acme buys."), doc("Acme waits.")]
    finding = by_kind(check_consistency(docs, search_in={0, 1}), "untagged")["Acme"]
    assert finding.other_count == 1


def test_order_is_most_frequent_first_and_examples_are_capped():
    docs = [doc("Acme " * 30, ("Acme", "ORG")), doc("Bob and Bob", ("Bob", "PER"))]
    findings = check_consistency(docs)
    assert [(f.kind, f.surface) for f in findings] == [("untagged", "Acme"), ("untagged", "Bob")]
    assert findings[0].other_count == 29
    assert len(findings[0].occurrences) == EXAMPLES_MAX
    assert check_consistency(docs) == findings  # deterministic


def test_checking_one_surface_gives_the_same_answer_as_checking_all():
    docs = [
        doc("Bank of America and Bank", ("Bank of America", "ORG")),
        doc("Bank of America, the Bank", ("Bank", "ORG", 1)),
    ]
    every = {(f.kind, f.surface): f for f in check_consistency(docs)}
    for kind, surface in every:
        alone = check_consistency(docs, surfaces=[surface], kinds=[kind])
        assert alone == [every[(kind, surface)]]
    # The untagged "Bank" inside the untagged "Bank of America" is found though a longer surface starts there.
    assert every[("untagged", "Bank")].other_count == 2


def test_surface_occurrences_lists_everything_uncapped():
    docs = [doc("Acme " * 30, ("Acme", "ORG")), doc("Acme Corp and Acme", ("Acme Corp", "ORG"))]
    tagged, untagged, boundary = surface_occurrences(docs, "Acme")
    assert [o.label for o in tagged] == ["ORG"]
    assert len(untagged) == 30  # 29 in the first document, the last one in the second
    assert boundary == []


def test_ten_thousand_documents_are_checked_in_one_pass():
    # Scale, not speed: a timed assertion would fail on a busy machine rather than on slow code.
    names = [f"Person{index} Surname{index % 97}" for index in range(500)]
    docs = []
    for index in range(10_000):
        first, second = names[index % 500], names[(index * 7) % 500]
        text = f"On day {index} {first} met {second} in the city of Town{index % 50}. " * 3
        docs.append(doc(text, (first, "PER"), (f"Town{index % 50}", "LOC" if index % 7 else "ORG")))
    findings = check_consistency(docs)
    assert {f.kind for f in findings} == {"type", "untagged"}

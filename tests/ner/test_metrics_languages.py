"""Per-language scores: a multilingual model's test set scored per document language (issue 11, item 7)."""

from __future__ import annotations

import json

import pytest

from ner.metrics import Counts, EvaluationReport, LanguageScores, evaluate, language_key, score_languages
from ner.types import LabeledDoc, Span


def doc(text: str, language: str | None, *spans: tuple[str, str]) -> LabeledDoc:
    return LabeledDoc(
        text=text,
        spans=tuple(Span(text.index(f), text.index(f) + len(f), label) for f, label in spans),
        language=language,
    )


def span(text: str, fragment: str, label: str) -> Span:
    start = text.index(fragment)
    return Span(start, start + len(fragment), label)


EN = "Angela Merkel met Joe Biden in Washington."
DE = "Angela Merkel traf Olaf Scholz in Berlin."
FR = "Emmanuel Macron est à Paris."

PAIRS = [
    # English: both people found, the place missed -> tp 2, fp 0, fn 1.
    (
        doc(EN, "en-US", ("Angela Merkel", "PER"), ("Joe Biden", "PER"), ("Washington", "LOC")),
        [span(EN, "Angela Merkel", "PER"), span(EN, "Joe Biden", "PER")],
    ),
    # German: one right, one with the wrong boundary (fp + fn), Berlin typed ORG (fp + fn) -> tp 1, fp 2, fn 2.
    (
        doc(DE, "de", ("Angela Merkel", "PER"), ("Olaf Scholz", "PER"), ("Berlin", "LOC")),
        [span(DE, "Angela Merkel", "PER"), span(DE, "Olaf", "PER"), span(DE, "Berlin", "ORG")],
    ),
    # More English, written en-GB: same language as en-US -> tp 1.
    (doc("Paris is big.", "en-GB", ("Paris", "LOC")), [Span(0, 5, "LOC")]),
    # French: nothing found -> fn 2.
    (doc(FR, "fr", ("Emmanuel Macron", "PER"), ("Paris", "LOC")), []),
]


def test_score_languages_groups_the_micro_counts_by_document_language() -> None:
    scores = {item.language: item for item in score_languages(PAIRS)}
    assert list(scores) == ["de", "en", "fr"]
    assert scores["en"] == LanguageScores("en", documents=2, exact=Counts(tp=3, fp=0, fn=1))
    assert scores["de"] == LanguageScores("de", documents=1, exact=Counts(tp=1, fp=2, fn=2))
    assert scores["fr"] == LanguageScores("fr", documents=1, exact=Counts(tp=0, fp=0, fn=2))
    assert scores["en"].exact.f1 == pytest.approx(6 / 7)
    assert scores["de"].exact.precision == pytest.approx(1 / 3)
    assert scores["de"].exact.recall == pytest.approx(1 / 3)
    assert scores["fr"].exact.gold == 2  # the support


def test_languages_add_up_to_the_micro_scores() -> None:
    report = evaluate(PAIRS, resamples=0)
    assert sum((item.exact for item in report.languages), Counts()) == report.micro
    assert sum(item.documents for item in report.languages) == report.documents


def test_a_test_set_in_one_language_reports_no_languages() -> None:
    english = [pair for pair in PAIRS if pair[0].language in ("en-US", "en-GB")]
    assert evaluate(english, resamples=0).languages == ()
    # score_languages itself still lists the one language.
    assert [item.language for item in score_languages(english)] == ["en"]


def test_documents_without_a_language_score_as_undetermined() -> None:
    pairs = [(doc("Berlin", None, ("Berlin", "LOC")), [Span(0, 6, "LOC")]), PAIRS[3]]
    assert [(item.language, item.exact.tp) for item in evaluate(pairs, resamples=0).languages] == [
        ("fr", 0),
        ("und", 1),
    ]
    # Bare-span gold carries no language at all: one group, so no per-language table.
    assert evaluate([([Span(0, 6, "LOC")], [Span(0, 6, "LOC")])], resamples=0).languages == ()


def test_language_key_is_the_primary_subtag() -> None:
    assert [language_key(code) for code in ("en-US", "pt_BR", "DE", "zh-Hans", "", None)] == [
        "en",
        "pt",
        "de",
        "zh",
        "und",
        "und",
    ]


def test_languages_round_trip_through_json_and_old_reports_still_load() -> None:
    report = evaluate(PAIRS, resamples=0)
    stored = json.loads(json.dumps(report.to_dict()))
    assert stored["languages"][0] == {
        "language": "de",
        "documents": 1,
        "support": 3,
        "tp": 1,
        "fp": 2,
        "fn": 2,
        "precision": pytest.approx(1 / 3),
        "recall": pytest.approx(1 / 3),
        "f1": pytest.approx(1 / 3),
    }
    assert EvaluationReport.from_dict(stored) == report
    del stored["languages"]  # an evaluation stored before languages were scored
    assert EvaluationReport.from_dict(stored).languages == ()

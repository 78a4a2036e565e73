"""ner.metrics against Azure's published numbers, seqeval, and the cases a reviewer of an evaluation meets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ner.metrics import (
    NONE,
    ComparedSpan,
    Counts,
    EvaluationReport,
    MetricsError,
    azure_summary,
    bootstrap_micro_f1,
    compare_documents,
    count_confusion,
    evaluate,
    score_types,
    weighted_confusion,
)
from ner.types import LabeledDoc, Span


def at(text: str, fragment: str, label: str, occurrence: int = 0) -> Span:
    """The span of the n-th occurrence of ``fragment`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(fragment, start + 1)
    return Span(start, start + len(fragment), label)


# ------------------------------------------------------------------------------ Azure's worked example (§5.1)

WORKED_TEXT = (
    "The first party of this contract is John Smith, resident of 5678 Main Rd., City of Frederick, state of "
    "Nebraska. And the second party is Forrest Ray, resident of 123-345 Integer Rd., City of Corona, state of "
    "New Mexico. There is also Fannie Thomas resident of 7890 River Road, city of Colorado Springs, State of "
    "Colorado."
)


def worked_example() -> list[tuple[LabeledDoc, list[Span]]]:
    t = WORKED_TEXT
    gold = (
        at(t, "John Smith", "Person"),
        at(t, "Forrest", "Person"),
        at(t, "Fannie Thomas", "Person"),
        at(t, "Frederick", "City"),
        at(t, "Colorado Springs", "City"),
    )
    predicted = [
        at(t, "John Smith", "Person"),
        at(t, "Fannie Thomas", "Person"),
        at(t, "Frederick", "Person"),  # right span, wrong type: FP for Person and FN for City
        at(t, "Forrest", "City"),  # right span, wrong type: FP for City and FN for Person
        at(t, "Colorado Springs", "City"),
    ]
    return [(LabeledDoc(text=t, spans=gold, name="contract.txt"), predicted)]


def test_metrics_azure_worked_example_counts_wrong_type_twice() -> None:
    report = evaluate(worked_example(), resamples=0)
    person, city = report.type_scores("Person"), report.type_scores("City")
    assert person.exact == Counts(tp=2, fp=1, fn=1)
    assert person.exact.precision == person.exact.recall == person.exact.f1 == pytest.approx(2 / 3)
    assert city.exact == Counts(tp=1, fp=1, fn=1)
    assert (city.exact.precision, city.exact.recall, city.exact.f1) == (0.5, 0.5, 0.5)
    assert report.micro == Counts(tp=3, fp=2, fn=2)
    assert report.micro.f1 == pytest.approx(0.6)
    # The "why" beyond Azure: both errors are wrong-type errors, charged to the gold type.
    assert person.wrong_type_errors == 1 and city.wrong_type_errors == 1
    assert person.boundary_errors == city.boundary_errors == 0


# ------------------------------------------------------------------- Microsoft's LoanAgreements evaluation (§5.2)

# Microsoft's evaluation summary for its LoanAgreements sample project, verbatim (reference §4.3).
AZURE_SUMMARY = json.loads((Path(__file__).parent / "azure_loan_agreements_summary.json").read_text())[
    "customEntityRecognitionEvaluation"
]

LOAN_TYPES = (
    "Date",
    "BorrowerName",
    "BorrowerAddress",
    "BorrowerCity",
    "BorrowerState",
    "LenderName",
    "LenderAddress",
    "LenderCity",
    "LenderState",
    "LoanAmountWords",
    "LoanAmountNumbers",
    "Interest",
)

# 11.txt's expected entities, verbatim from Microsoft's per-document result (category, offset, length).
DOC_11_EXPECTED = [
    ("Date", 5, 9),
    ("BorrowerName", 160, 13),
    ("BorrowerAddress", 181, 34),
    ("BorrowerCity", 225, 6),
    ("BorrowerState", 242, 8),
    ("LenderName", 271, 12),
    ("LenderAddress", 310, 20),
    ("LenderCity", 340, 8),
    ("LenderState", 359, 11),
    ("LoanAmountWords", 448, 52),
    ("LoanAmountNumbers", 502, 10),
    ("Interest", 588, 2),
]


def filler(solid: int) -> str:
    """Words of text with exactly ``solid`` non-whitespace characters."""
    words = []
    while solid > 0:
        words.append("w" * min(solid, 7))
        solid -= len(words[-1])
    return " ".join(words)


def document_11() -> tuple[LabeledDoc, list[Span]]:
    """A stand-in for 11.txt with the real offsets and the real BorrowerAddress text (1780 characters)."""
    chars = list(filler(1780)[:1780].ljust(1780, "w"))
    for label, offset, length in DOC_11_EXPECTED:
        chars[offset : offset + length] = list(("X" * length) if label != "BorrowerAddress" else "")
        if label == "BorrowerAddress":
            chars[offset:offset] = list("mailing address of 2948 Ben Street")
        chars[offset - 1] = " "
        chars[offset + length] = " "
    chars[501] = "("  # the 2-character stretch between the loan amount in words and in numbers: " ("
    text = "".join(chars)
    assert len(text) == 1780 and text[181:215] == "mailing address of 2948 Ben Street"
    gold = tuple(Span(offset, offset + length, label) for label, offset, length in DOC_11_EXPECTED)
    predicted = [span for span in gold if span.label != "BorrowerAddress"] + [Span(200, 215, "BorrowerAddress")]
    assert predicted[-1].text_in(text) == "2948 Ben Street"
    return LabeledDoc(text=text, spans=gold, name="11.txt"), predicted


def loan_document(
    name: str, *, gaps: dict[int, str] | None = None, tail: str = "signed."
) -> tuple[LabeledDoc, list[Span]]:
    """A document with one entity of each of the 12 types, separated by filler (13 stretches of $none)."""
    gaps = gaps or {}
    parts: list[str] = []
    gold: list[Span] = []
    position = 0
    for index, label in enumerate(LOAN_TYPES):
        gap = gaps.get(index, "the parties agree") + " "
        parts.append(gap)
        position += len(gap)
        value = "10" if label == "Interest" else f"{label}Value"
        gold.append(Span(position, position + len(value), label))
        parts.append(value)
        position += len(value)
    parts.append(tail)
    text = "".join(parts)
    return LabeledDoc(text=text, spans=tuple(gold), name=name), list(gold)


def loan_agreements_test_set() -> list[tuple[LabeledDoc, list[Span]]]:
    """Four test documents consistent with every number in Microsoft's evaluation summary.

    01.txt is all correct (as in Microsoft's per-document result). In 02.txt the model also tags two
    characters of a 21-character stretch as BorrowerAddress; in 03.txt it predicts Interest as "10%" where
    the label is "10", spilling one character into the 959-character tail.
    """
    doc_01 = loan_document("01.txt")
    doc_02, predicted_02 = loan_document("02.txt", gaps={4: "abcdefghijklmnopqrs 12"})
    extra = at(doc_02.text, "12", "BorrowerAddress")
    doc_03, predicted_03 = loan_document("03.txt", tail="% " + filler(958))
    interest = next(span for span in predicted_03 if span.label == "Interest")
    predicted_03 = [span for span in predicted_03 if span != interest] + [
        Span(interest.start, interest.end + 1, "Interest")
    ]
    return [document_11(), doc_01, (doc_02, [*predicted_02, extra]), (doc_03, predicted_03)]


def test_metrics_rebuild_microsoft_borrower_address_cell_from_non_whitespace_overlap() -> None:
    matrix = weighted_confusion([document_11()])
    # `mailing address of 2948 Ben Street`: 29 non-whitespace characters, 13 of them predicted.
    assert matrix.value("BorrowerAddress", "BorrowerAddress") == pytest.approx(13 / 29)
    assert matrix.value("BorrowerAddress", NONE) == pytest.approx(16 / 29)
    # With the three other test documents' BorrowerAddress entities predicted exactly: Microsoft's numbers.
    full = weighted_confusion(loan_agreements_test_set())
    assert full.value("BorrowerAddress", "BorrowerAddress") == pytest.approx(3.4482758, rel=1e-7)
    assert full.value("BorrowerAddress", NONE) == pytest.approx(0.55172414, rel=1e-7)
    assert full.normalized("BorrowerAddress", "BorrowerAddress") == pytest.approx(86.206894, rel=1e-7)


def test_metrics_rebuild_microsoft_loan_agreements_summary() -> None:
    summary = azure_summary(evaluate(loan_agreements_test_set(), resamples=0))
    for key in ("microF1", "microPrecision", "microRecall", "macroF1", "macroPrecision", "macroRecall"):
        assert summary[key] == pytest.approx(AZURE_SUMMARY[key], rel=1e-6), key
    assert summary["entities"].keys() == AZURE_SUMMARY["entities"].keys()
    for label, expected in AZURE_SUMMARY["entities"].items():
        assert summary["entities"][label] == pytest.approx(expected, rel=1e-6), label
    # Every cell of the confusion matrix, including the $none row's tiny values (2/21 and 1/959).
    matrix = summary["confusionMatrix"]
    assert {gold: set(row) for gold, row in matrix.items()} == {
        gold: set(row) for gold, row in AZURE_SUMMARY["confusionMatrix"].items()
    }
    for gold, row in AZURE_SUMMARY["confusionMatrix"].items():
        for predicted, cell in row.items():
            assert matrix[gold][predicted] == pytest.approx(cell, rel=1e-6), (gold, predicted)


def test_metrics_macro_f1_is_mean_of_type_f1s_not_harmonic_mean() -> None:
    report = evaluate(loan_agreements_test_set(), resamples=0)
    assert report.macro.f1 == pytest.approx(0.9513889, rel=1e-6)
    harmonic = 2 * report.macro.precision * report.macro.recall / (report.macro.precision + report.macro.recall)
    assert harmonic == pytest.approx(0.952042, rel=1e-5)
    assert report.macro.f1 != pytest.approx(harmonic, rel=1e-6)


def test_metrics_loan_agreements_boundary_errors_explain_the_misses() -> None:
    report = evaluate(loan_agreements_test_set(), resamples=0)
    address, interest = report.type_scores("BorrowerAddress"), report.type_scores("Interest")
    assert address.boundary_errors == 1 and interest.boundary_errors == 1
    # Overlap counts as a match in the partial score: only the stray "12" stays wrong.
    assert address.partial == Counts(tp=4, fp=1, fn=0)
    assert interest.partial == Counts(tp=4, fp=0, fn=0)
    comparisons = compare_documents(loan_agreements_test_set())
    assert [(d.name, d.error_count) for d in comparisons] == [
        ("11.txt", 1),
        ("01.txt", 0),
        ("02.txt", 1),
        ("03.txt", 1),
    ]
    rows = compare_documents([document_11()])[0].rows
    assert [row for row in rows if row.outcome != "tp"] == [
        ComparedSpan("wrong_boundary", Span(181, 215, "BorrowerAddress"), Span(200, 215, "BorrowerAddress"))
    ]


# ----------------------------------------------------------------------------------- confusion matrix views


def test_metrics_count_matrix_counts_each_gold_entity_once() -> None:
    matrix = count_confusion(worked_example())
    assert matrix.value("Person", "Person") == 2
    assert matrix.value("Person", "City") == 1
    assert matrix.value("City", "Person") == 1
    assert matrix.value("City", "City") == 1
    assert matrix.row_total("Person") == 3 and matrix.row_total("City") == 2
    assert matrix.normalized("Person", "Person") == pytest.approx(200 / 3)
    assert matrix.labels == ("City", "Person", NONE)


def test_metrics_count_matrix_spurious_and_missed_entities_use_none() -> None:
    text = "Alice met Bob in Paris yesterday"
    doc = LabeledDoc(text=text, spans=(at(text, "Alice", "PER"), at(text, "Paris", "LOC")))
    predicted = [at(text, "Alice", "PER"), at(text, "yesterday", "DATE")]
    matrix = count_confusion([(doc, predicted)])
    assert matrix.value("LOC", NONE) == 1
    assert matrix.value(NONE, "DATE") == 1
    assert matrix.value(NONE, NONE) == 0


def test_metrics_count_matrix_picks_largest_overlap() -> None:
    text = "New York City Hall"
    doc = LabeledDoc(text=text, spans=(Span(0, 18, "FAC"),))
    predicted = [Span(0, 13, "GPE"), Span(14, 18, "FAC")]
    assert count_confusion([(doc, predicted)]).value("FAC", "GPE") == 1


def test_metrics_weighted_matrix_rows_sum_to_units() -> None:
    text = "Alice met Bob in Paris yesterday"
    doc = LabeledDoc(text=text, spans=(at(text, "Alice", "PER"), at(text, "Paris", "LOC")))
    predicted = [at(text, "Alice", "PER"), Span(at(text, "Paris", "LOC").start, len(text), "LOC")]
    matrix = weighted_confusion([(doc, predicted)])
    assert matrix.row_total("PER") == pytest.approx(1.0)
    assert matrix.row_total("LOC") == pytest.approx(1.0)
    # Three stretches outside gold entities: "", " met Bob in ", " yesterday" -> 2 units (the empty one is none).
    assert matrix.row_total(NONE) == pytest.approx(2.0)
    assert matrix.value(NONE, "LOC") == pytest.approx(1.0)  # " yesterday" entirely predicted LOC
    assert matrix.value(NONE, NONE) == pytest.approx(1.0)


def test_metrics_weighted_matrix_shares_characters_of_overlapping_predictions() -> None:
    text = "abcd"
    doc = LabeledDoc(text=text, spans=(Span(0, 4, "A"),))
    matrix = weighted_confusion([(doc, [Span(0, 4, "A"), Span(0, 2, "B")])])
    assert matrix.value("A", "A") == pytest.approx(0.75)
    assert matrix.value("A", "B") == pytest.approx(0.25)


def test_metrics_matrix_filters_split_errors_from_matches() -> None:
    matrix = count_confusion(worked_example())
    errors = {(c.gold, c.predicted) for c in matrix.cells("errors")}
    matches = {(c.gold, c.predicted) for c in matrix.cells("matches")}
    assert errors == {("Person", "City"), ("City", "Person")}
    assert matches == {("Person", "Person"), ("City", "City")}
    assert len(matrix.cells("all")) == 4
    with pytest.raises(MetricsError, match="unknown matrix filter"):
        matrix.cells("some")  # type: ignore[arg-type]


def test_metrics_weighted_matrix_needs_text() -> None:
    with pytest.raises(MetricsError, match="needs the document text"):
        weighted_confusion([([Span(0, 3, "A")], [])])
    # evaluate() still works on bare spans, without that matrix.
    report = evaluate([([Span(0, 3, "A")], [Span(0, 3, "A")])], resamples=0)
    assert report.weighted_matrix is None and report.micro.f1 == 1.0
    assert azure_summary(report)["confusionMatrix"] == {"A": {"A": {"normalizedValue": 100.0, "rawValue": 1.0}}}


# ------------------------------------------------------------------------------- review page and error kinds


def test_metrics_compare_documents_marks_every_span() -> None:
    text = "Ann Lee flew from Rome to Oslo on Monday with Tom"
    doc = LabeledDoc(
        text=text,
        name="trip.txt",
        spans=(
            at(text, "Ann Lee", "PER"),
            at(text, "Rome", "LOC"),
            at(text, "Oslo", "LOC"),
            at(text, "Monday", "DATE"),
            at(text, "Tom", "PER"),
        ),
    )
    predicted = [
        at(text, "Ann Lee", "PER"),  # tp
        at(text, "Rome", "ORG"),  # wrong type
        Span(at(text, "Oslo", "LOC").start, at(text, "Monday", "DATE").start - 1, "LOC"),  # "Oslo on": boundary
        at(text, "flew", "EVENT"),  # fp
        # Monday and Tom: fn
    ]
    comparison = compare_documents([(doc, predicted)])[0]
    assert comparison.name == "trip.txt"
    assert [row.outcome for row in comparison.rows] == ["tp", "fp", "wrong_type", "wrong_boundary", "fn", "fn"]
    assert comparison.error_count == 5
    assert comparison.outcome_counts() == {"tp": 1, "fp": 1, "fn": 2, "wrong_type": 1, "wrong_boundary": 1}
    assert (at(text, "Rome", "LOC"), "wrong_type") in comparison.gold_marks()
    assert (at(text, "flew", "EVENT"), "fp") in comparison.predicted_marks()
    assert json.loads(json.dumps(comparison.to_dict()))["rows"][2]["predicted"]["label"] == "ORG"


def test_metrics_compare_documents_sorts_worst_first() -> None:
    text = "a b c"
    good = (LabeledDoc(text=text, spans=(Span(0, 1, "X"),)), [Span(0, 1, "X")])
    bad = (LabeledDoc(text=text, spans=(Span(0, 1, "X"), Span(2, 3, "X"))), [Span(4, 5, "X")])
    ordered = sorted(compare_documents([good, bad]), key=lambda d: -d.error_count)
    assert [d.index for d in ordered] == [1, 0]
    assert [d.name for d in ordered] == ["document 2", "document 1"]


def test_metrics_partial_match_is_one_to_one() -> None:
    # Two predictions inside one gold span: only one of them can be credited.
    gold = [Span(0, 20, "X")]
    predicted = [Span(0, 5, "X"), Span(10, 15, "X")]
    (scores,) = score_types([(gold, predicted)])
    assert scores.partial == Counts(tp=1, fp=1, fn=0)
    assert scores.exact == Counts(tp=0, fp=2, fn=1)


def test_metrics_partial_match_finds_maximum_matching() -> None:
    # Greedy pairing of the first gold with the long prediction would leave the second gold unmatched.
    gold = [Span(0, 10, "X"), Span(12, 20, "X")]
    predicted = [Span(5, 15, "X"), Span(0, 3, "X")]
    (scores,) = score_types([(gold, predicted)])
    assert scores.partial == Counts(tp=2, fp=0, fn=0)


# ----------------------------------------------------------------------------------------------- edge cases


def test_metrics_no_predictions_scores_zero_not_nan() -> None:
    report = evaluate([(LabeledDoc(text="Ann", spans=(Span(0, 3, "PER"),)), [])], resamples=10)
    assert report.micro == Counts(tp=0, fp=0, fn=1)
    assert (report.micro.precision, report.micro.recall, report.micro.f1) == (0.0, 0.0, 0.0)
    assert report.type_scores("PER").exact.precision == 0.0
    assert report.micro_f1_interval is not None and report.micro_f1_interval.high == 0.0


def test_metrics_no_gold_counts_false_positives() -> None:
    report = evaluate([(LabeledDoc(text="Ann"), [Span(0, 3, "PER")])], resamples=0)
    assert report.micro == Counts(tp=0, fp=1, fn=0)
    assert report.macro.f1 == 0.0
    assert report.weighted_matrix is not None and report.weighted_matrix.value(NONE, "PER") == 1.0


def test_metrics_empty_test_set_and_empty_documents() -> None:
    for pairs in ([], [(LabeledDoc(text=""), [])], [(LabeledDoc(text="   "), [])]):
        report = evaluate(pairs, resamples=5)
        assert report.types == ()
        assert (report.micro.f1, report.macro.f1, report.partial_micro.f1) == (0.0, 0.0, 0.0)
        assert report.weighted_matrix is not None and report.weighted_matrix.cells() == []
        assert azure_summary(report)["entities"] == {}


def test_metrics_macro_leaves_out_types_absent_from_the_test_set() -> None:
    # "Entities that aren't labeled or predicted in the test set aren't part of the displayed results."
    text = "Ann Lee"
    report = evaluate([(LabeledDoc(text=text, spans=(Span(0, 3, "PER"),)), [Span(0, 3, "PER")])], resamples=0)
    assert [t.label for t in report.types] == ["PER"]
    assert report.macro.f1 == 1.0


def test_metrics_prediction_only_type_lowers_macro() -> None:
    text = "Ann Lee"
    report = evaluate(
        [(LabeledDoc(text=text, spans=(Span(0, 3, "PER"),)), [Span(0, 3, "PER"), Span(4, 7, "ORG")])], resamples=0
    )
    assert [t.label for t in report.types] == ["ORG", "PER"]
    assert report.macro.f1 == pytest.approx(0.5)


def test_metrics_duplicate_spans_count_once() -> None:
    report = evaluate([([Span(0, 3, "A"), Span(0, 3, "A")], [Span(0, 3, "A"), Span(0, 3, "A")])], resamples=0)
    assert report.micro == Counts(tp=1, fp=0, fn=0)


def test_metrics_span_outside_text_is_reported() -> None:
    with pytest.raises(MetricsError, match="outside the text"):
        evaluate([(LabeledDoc(text="abc", name="a.txt"), [Span(2, 9, "X")])])
    with pytest.raises(MetricsError, match="not a \\(gold, predicted\\) pair"):
        evaluate([LabeledDoc(text="abc")])  # type: ignore[list-item]


# ------------------------------------------------------------------------------------ serialisation, bootstrap


def test_metrics_report_round_trips_through_json() -> None:
    report = evaluate(loan_agreements_test_set(), resamples=50, seed=3)
    stored = json.loads(json.dumps(report.to_dict()))
    assert EvaluationReport.from_dict(stored) == report
    assert stored["micro"]["f1"] == pytest.approx(0.94845366, rel=1e-6)


def test_metrics_azure_summary_shape() -> None:
    summary = azure_summary(evaluate(worked_example(), resamples=0))
    assert set(summary) == {
        "confusionMatrix",
        "entities",
        "microF1",
        "microPrecision",
        "microRecall",
        "macroF1",
        "macroPrecision",
        "macroRecall",
    }
    assert summary["entities"]["City"] == {
        "f1": 0.5,
        "precision": 0.5,
        "recall": 0.5,
        "truePositiveCount": 1,
        "trueNegativeCount": 0,
        "falsePositiveCount": 1,
        "falseNegativeCount": 1,
    }
    assert set(summary["confusionMatrix"]["City"]["City"]) == {"normalizedValue", "rawValue"}
    json.dumps(summary)


def many_documents(n: int, seed: int) -> list[tuple[LabeledDoc, list[Span]]]:
    import random

    rng = random.Random(seed)
    docs = []
    for index in range(n):
        text = " ".join(f"w{i}" for i in range(30))
        starts = sorted(rng.sample(range(0, 30, 3), 4))
        gold = tuple(Span(s * 3, s * 3 + 2, rng.choice("AB")) for s in starts)
        predicted = [span for span in gold if rng.random() < 0.8]
        if rng.random() < 0.3:
            predicted.append(Span(3, 5, "B"))  # a stray or wrong-type prediction on the second word
        docs.append((LabeledDoc(text=text, spans=gold, name=f"d{index}"), predicted))
    return docs


def test_metrics_bootstrap_interval_contains_estimate_and_is_deterministic() -> None:
    pairs = many_documents(200, seed=1)
    report = evaluate(pairs, resamples=1000, seed=7)
    interval = report.micro_f1_interval
    assert interval is not None
    assert interval.low < report.micro.f1 < interval.high
    assert interval.high - interval.low < 0.2
    assert bootstrap_micro_f1(pairs, resamples=1000, seed=7) == interval
    assert bootstrap_micro_f1(pairs, resamples=1000, seed=8) != interval
    narrower = bootstrap_micro_f1(pairs, resamples=1000, seed=7, confidence=0.5)
    assert interval.low <= narrower.low <= narrower.high <= interval.high


def test_metrics_bootstrap_rejects_bad_settings() -> None:
    with pytest.raises(MetricsError, match="at least one resample"):
        bootstrap_micro_f1([], resamples=0)
    with pytest.raises(MetricsError, match="confidence level"):
        bootstrap_micro_f1([], confidence=95)

"""ner.advice: what the evaluation page tells a user to do next. No database."""

from __future__ import annotations

from ner.advice import evaluation_advice
from ner.metrics import evaluate
from ner.types import LabeledDoc, Span


def _report(pairs):
    return evaluate(pairs, resamples=20)


def test_advice_flags_rare_missing_imbalance_drift_and_confusion():
    text = "Alice met Bob in Paris and Carol in Rome."
    gold = LabeledDoc(
        text=text,
        spans=(Span(0, 5, "Person"), Span(10, 13, "Person"), Span(17, 22, "City"), Span(27, 32, "Person")),
    )
    # The model calls two of the three people Cities.
    predicted = [Span(0, 5, "City"), Span(10, 13, "City"), Span(17, 22, "City"), Span(27, 32, "Person")]
    report = _report([(gold, predicted)])
    advice = evaluation_advice(
        report=report, train_counts={"Person": 200, "City": 30, "Date": 4}, test_counts={"Person": 3, "City": 1}
    )
    kinds = {item.kind: item for item in advice}
    assert set(kinds) == {"few_examples", "missing_in_test", "imbalance", "confusion"} | (
        {"distribution"} if "distribution" in kinds else set()
    )
    assert "Date (4)" in kinds["few_examples"].message
    assert "Date" in kinds["missing_in_test"].message
    # Its predictions are still scored (as false positives), so the advice must not say it goes unevaluated.
    assert "recall cannot be measured" in kinds["missing_in_test"].message
    assert "Person has 200 training examples, Date only 4" in kinds["imbalance"].message
    assert kinds["confusion"].labels == ("Person", "City")


def test_advice_distribution_mismatch():
    report = _report([([Span(0, 1, "A")], [Span(0, 1, "A")])])
    advice = evaluation_advice(report=report, train_counts={"A": 90, "B": 90}, test_counts={"A": 50, "B": 2})
    assert any(item.kind == "distribution" and "B" in item.message for item in advice)


def test_advice_flags_a_type_the_model_leaves_unfound():
    text = "Contoso and Fabrikam and Litware signed with Alice."
    gold = LabeledDoc(
        text=text,
        spans=(Span(0, 7, "Org"), Span(12, 20, "Org"), Span(25, 32, "Org"), Span(45, 50, "Person")),
    )
    report = _report([(gold, [Span(45, 50, "Person")])])
    advice = evaluation_advice(
        report=report, train_counts={"Org": 60, "Person": 60}, test_counts={"Org": 3, "Person": 1}
    )
    missed = [item for item in advice if item.kind == "missed"]
    assert [item.labels for item in missed] == [("Org",)]
    assert "100% of them were not predicted" in missed[0].message

from __future__ import annotations

import pytest

from ner.calibration import CalibrationError, calibration_from_pairs, calibration_report
from ner.predict import ScoredSpan
from ner.types import Span


def test_calibration_perfect_scores_have_zero_error():
    # 0.25 confidence and 1 in 4 right; 1.0 confidence and all right.
    pairs = [(0.25, True), (0.25, False), (0.25, False), (0.25, False), (1.0, True), (1.0, True)]
    report = calibration_from_pairs(pairs, bins=4)
    assert report.ece == pytest.approx(0.0)
    assert report.entity_count == 6
    assert report.correct_count == 3
    assert [row.count for row in report.bins] == [0, 4, 0, 2]  # 1.0 falls into the last bin


def test_calibration_over_confidence_is_the_weighted_gap():
    # 4 entities at 0.9 with 2 right (gap 0.4), 1 at 0.15 and right (gap 0.85): ECE = 4/5*0.4 + 1/5*0.85.
    pairs = [(0.9, True), (0.9, True), (0.9, False), (0.9, False), (0.15, True)]
    report = calibration_from_pairs(pairs, bins=10)
    assert report.ece == pytest.approx(4 / 5 * 0.4 + 1 / 5 * 0.85)
    assert report.max_calibration_error == pytest.approx(0.85)
    row = report.bins[9]
    assert (row.count, row.correct, row.accuracy) == (4, 2, 0.5)
    assert row.mean_confidence == pytest.approx(0.9)
    assert row.gap == pytest.approx(-0.4)
    assert report.bins[0].mean_confidence is None and report.bins[0].gap is None


def test_calibration_report_counts_only_exact_matches_as_correct():
    predicted = [
        [ScoredSpan(0, 5, "PER", 0.8), ScoredSpan(10, 15, "LOC", 0.6)],
        [ScoredSpan(0, 3, "ORG", 0.7)],
    ]
    gold = [[Span(0, 5, "PER"), Span(10, 16, "LOC")], [Span(0, 3, "LOC")]]
    report = calibration_report(predicted, gold)
    assert report.entity_count == 3
    assert report.correct_count == 1  # a boundary off by one and a wrong label are both wrong
    assert report.to_dict()["bins"][8]["correct"] == 1


def test_calibration_without_entities_is_empty_not_an_error():
    report = calibration_report([[]], [[Span(0, 1, "X")]])
    assert report.entity_count == 0 and report.ece == 0.0 and report.accuracy is None


def test_calibration_rejects_missing_confidence_and_mismatched_documents():
    with pytest.raises(CalibrationError, match="no confidence"):
        calibration_report([[ScoredSpan(0, 1, "X")]], [[]])
    with pytest.raises(CalibrationError, match="2 predicted documents but 1 gold"):
        calibration_report([[], []], [[]])
    with pytest.raises(CalibrationError, match="outside"):
        calibration_from_pairs([(1.5, True)])

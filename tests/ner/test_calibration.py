from __future__ import annotations

import json

import pytest

from ner.calibration import (
    MIN_FIT_ENTITIES,
    CalibrationError,
    CalibrationReport,
    calibration_from_pairs,
    calibration_map_fit,
    calibration_map_load,
    calibration_map_save,
    calibration_report,
)
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


def _pairs(groups: list[tuple[float, int, int]]) -> list[tuple[float, bool]]:
    """(raw score, how many, how many of them right) -> pairs."""
    return [(raw, index < right) for raw, count, right in groups for index in range(count)]


def test_calibration_map_turns_over_confident_scores_into_accuracies():
    # The raw scores say 0.9 and 0.99 but only 50 % and 80 % are right.
    pairs = _pairs([(0.9, 100, 50), (0.99, 100, 80)])
    fitted = calibration_map_fit(pairs, score="s")
    assert fitted is not None and fitted.score == "s"
    assert fitted.apply(0.9) == pytest.approx(0.5, abs=0.01)
    assert fitted.apply(0.99) == pytest.approx(0.8, abs=0.01)
    assert fitted.apply(0.5) == fitted.apply(0.9)  # flat beyond the outermost knots
    assert 0.5 < fitted.apply(0.95) < 0.8  # linear in between
    assert fitted.ece_before > 0.2 and fitted.ece_after < 0.01
    after = calibration_from_pairs([(fitted.apply(raw), right) for raw, right in pairs])
    assert after.ece == pytest.approx(fitted.ece_after)


def test_calibration_map_is_monotone_and_pools_violations():
    # 0.6 is more often right than 0.7: isotonic regression pools them instead of reordering the entities.
    pairs = _pairs([(0.3, 40, 4), (0.6, 40, 30), (0.7, 40, 20), (0.95, 40, 38)])
    fitted = calibration_map_fit(pairs, score="s")
    assert fitted is not None
    values = [fitted.apply(raw / 100) for raw in range(101)]
    assert values == sorted(values)
    assert len(fitted.raw) == 3 and fitted.raw[1] == pytest.approx(0.65)  # one knot at the pooled block's centre
    assert fitted.apply(0.65) == pytest.approx(50 / 80, abs=0.02)
    # Shrinkage: a perfect block does not map to exactly 1.0.
    perfect = calibration_map_fit(_pairs([(0.2, 30, 3), (0.9, 30, 30)]), score="s")
    assert perfect is not None and 0.95 < perfect.apply(0.9) < 1.0


def test_calibration_map_needs_enough_entities_and_is_deterministic():
    assert calibration_map_fit(_pairs([(0.9, MIN_FIT_ENTITIES - 1, 8)]), score="s") is None
    assert calibration_map_fit(_pairs([(0.9, MIN_FIT_ENTITIES, 8)]), score="s") is not None
    pairs = _pairs([(0.42, 30, 10), (0.8, 30, 25)])
    assert calibration_map_fit(pairs, score="s") == calibration_map_fit(list(reversed(pairs)), score="s")
    with pytest.raises(CalibrationError, match="outside"):
        calibration_map_fit([*pairs, (1.5, True)], score="s")


def test_calibration_map_saves_beside_the_model_and_loads_back(tmp_path):
    assert calibration_map_load(tmp_path) is None  # models trained before calibration still load
    fitted = calibration_map_fit(_pairs([(0.5, 40, 10), (0.9, 40, 36)]), score="s")
    assert fitted is not None
    path = calibration_map_save(fitted, tmp_path)
    assert path.name == "calibration.json"
    assert calibration_map_load(tmp_path) == fitted
    path.write_text(json.dumps({**fitted.to_dict(), "calibrated": [0.9, 0.1]}))
    with pytest.raises(CalibrationError, match="must not decrease"):
        calibration_map_load(tmp_path)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(CalibrationError, match="not a calibration map this version of nerlab can read"):
        calibration_map_load(tmp_path)


def test_calibration_report_round_trips_through_a_dict():
    report = calibration_from_pairs([(0.95, True), (0.9, False), (0.15, False)], bins=5)
    assert CalibrationReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    with pytest.raises(CalibrationError, match="not a calibration report"):
        CalibrationReport.from_dict({"ece": 0.1})

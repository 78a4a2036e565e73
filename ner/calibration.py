"""How far a model's entity confidence scores can be trusted: expected calibration error and a reliability table.

A score is *calibrated* when, of all the entities predicted with confidence about 0.8, about 80 % are right. Here
a predicted entity is right when the gold spans hold exactly the same entity (same start, end and label), the same
strict match Azure's metrics use. Entities are sorted into ``bins`` equal-width confidence bins over [0, 1]
(a score of exactly 1.0 goes into the last bin); for each bin the table gives the number of entities, their mean
confidence and the share that is right (accuracy). The expected calibration error is the gap between accuracy and
mean confidence averaged over bins, weighted by how many entities each bin holds:

    ECE = sum over bins b of (n_b / N) * |accuracy_b - confidence_b|

(Guo et al., 2017, "On Calibration of Modern Neural Networks"). 0 is perfect; the maximum calibration error is
the largest gap in any non-empty bin. Note that calibration says nothing about the entities the model missed:
recall is the metrics' job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_BINS = 10


class CalibrationError(ValueError):
    """The inputs cannot be scored (mismatched lengths, a missing or out-of-range confidence)."""


class _Scored(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def label(self) -> str: ...

    @property
    def confidence(self) -> float | None: ...


class _Gold(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One row of the reliability table; ``lower <= confidence < upper`` (the last bin includes 1.0)."""

    lower: float
    upper: float
    count: int
    correct: int
    mean_confidence: float | None  # None when the bin is empty
    accuracy: float | None

    @property
    def gap(self) -> float | None:
        """accuracy - mean confidence: negative when the model is over-confident in this range."""
        if self.accuracy is None or self.mean_confidence is None:
            return None
        return self.accuracy - self.mean_confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "count": self.count,
            "correct": self.correct,
            "mean_confidence": self.mean_confidence,
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    ece: float
    max_calibration_error: float
    entity_count: int
    correct_count: int
    mean_confidence: float | None
    bins: tuple[ReliabilityBin, ...]

    @property
    def accuracy(self) -> float | None:
        return self.correct_count / self.entity_count if self.entity_count else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ece": self.ece,
            "max_calibration_error": self.max_calibration_error,
            "entity_count": self.entity_count,
            "correct_count": self.correct_count,
            "mean_confidence": self.mean_confidence,
            "bins": [row.to_dict() for row in self.bins],
        }


def calibration_from_pairs(pairs: Iterable[tuple[float, bool]], bins: int = DEFAULT_BINS) -> CalibrationReport:
    """The report for (confidence, correct) pairs, one per predicted entity."""
    if bins < 1:
        raise CalibrationError(f"bins must be at least 1, got {bins}")
    counts = [0] * bins
    correct = [0] * bins
    sums = [0.0] * bins
    for confidence, right in pairs:
        if not 0.0 <= confidence <= 1.0:
            raise CalibrationError(f"confidence {confidence} is outside [0, 1]")
        index = min(int(confidence * bins), bins - 1)
        counts[index] += 1
        correct[index] += int(right)
        sums[index] += confidence
    total = sum(counts)
    rows = []
    ece = 0.0
    mce = 0.0
    for index in range(bins):
        n = counts[index]
        mean = sums[index] / n if n else None
        accuracy = correct[index] / n if n else None
        rows.append(ReliabilityBin(index / bins, (index + 1) / bins, n, correct[index], mean, accuracy))
        if n and mean is not None and accuracy is not None:
            gap = abs(accuracy - mean)
            ece += n / total * gap
            mce = max(mce, gap)
    return CalibrationReport(
        ece=ece,
        max_calibration_error=mce,
        entity_count=total,
        correct_count=sum(correct),
        mean_confidence=sum(sums) / total if total else None,
        bins=tuple(rows),
    )


def calibration_report(
    predicted: Sequence[Sequence[_Scored]], gold: Sequence[Sequence[_Gold]], bins: int = DEFAULT_BINS
) -> CalibrationReport:
    """Calibration of predicted entities (``ner.predict.ScoredSpan`` lists, with confidence) against gold spans,
    document by document (``predicted[i]`` and ``gold[i]`` describe the same text)."""
    if len(predicted) != len(gold):
        raise CalibrationError(f"{len(predicted)} predicted documents but {len(gold)} gold documents")
    pairs: list[tuple[float, bool]] = []
    for position, (found, expected) in enumerate(zip(predicted, gold, strict=True)):
        truth = {(span.start, span.end, span.label) for span in expected}
        for span in found:
            if span.confidence is None:
                raise CalibrationError(
                    f"document {position + 1}: an entity has no confidence (predict with with_confidence=True)"
                )
            pairs.append((float(span.confidence), (span.start, span.end, span.label) in truth))
    return calibration_from_pairs(pairs, bins)

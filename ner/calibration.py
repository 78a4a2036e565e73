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

A model's raw scores are rarely calibrated as they come (on CoNLL-2003 the greedy parser's own probabilities are
over-confident by about 0.13 ECE), so training fits a *calibration map* on the dev set: ``calibration_map_fit``
runs isotonic regression (pool-adjacent-violators) from the raw score to "this entity is exactly right" and the
map is stored beside the model as ``calibration.json``. The map is monotone, so it never reorders entities; it is
piecewise linear between the centres of the pooled blocks and flat beyond the outermost ones. Block accuracies
are shrunk a little towards the overall dev accuracy (``_PRIOR_WEIGHT`` pseudo-entities), so a block of three
entities that happen to be all right does not map to a confidence of exactly 1.0. Below ``MIN_FIT_ENTITIES`` dev
entities no map is fitted (it would describe noise) and predictions keep their raw scores.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ner.types import Region, ScoredRegion

DEFAULT_BINS = 10
# The file, inside a model folder, that holds the model's calibration map.
CALIBRATION_FILE = "calibration.json"
# Fewer dev entities than this and no map is fitted: isotonic regression on a handful of points maps noise. Small
# projects' raw scores are far worse than a map fitted on a few entities, though: on WikiANN-fr at 50 mentions per
# type (14 dev entities) the CNN's raw test ECE was 0.544 and 0.040 with a map, on CoNLL-2003 at 50 per type (20)
# 0.484 and 0.156 (measured with bench/low_data.py's samples; README, "confidenceScore"). The floor was 50 before.
MIN_FIT_ENTITIES = 10
# Below this many tagged dev entities the calibration map is also fitted on out-of-fold predictions of the training
# side. On CoNLL-2003 at 50 mentions per type (20-22 dev entities; bench/low_data.py's samples 0-2, the CNN, one
# thread) a map fitted on the dev set alone left test ECE 0.237/0.097/0.277; with 4 fold models' 217-253
# out-of-fold entities added, 0.082/0.061/0.086 (docs/calibration.md). 400, not the 100 of earlier releases: the
# map's level is the accuracy of the entities it is fitted on, and n entities pin an accuracy near 0.5 to within
# 2 * sqrt(0.25 / n), which is 0.05 (the ECE the calibration aims at) from 400 up. Between 100 and 400 the dev map
# missed, model for model (bench/low_data.py's ece_dev_map): the demo project's seeds 0 and 1 (105 and 116 dev
# entities from 9 documents) served 0.099/0.081 (CNN), 0.170/0.082 (e5-small) and 0.128/0.164 (MiniLM) with the dev
# map, 0.024/0.042, 0.048/0.032 and 0.065/0.058 with the fold models; WNUT-17 (241) 0.143 and 0.112 on the CNN.
CROSS_FIT_BELOW_DEV_ENTITIES = 400
# What the app and the benchmarks train with: the fold models, each trained to the kept model's step, take about 2-3x
# the run's own training time: seconds to a minute or two at 50 mentions per type, several minutes near 400 dev
# entities (a training side of about 3,600 entities).
CALIBRATION_FOLDS = 4
# Pseudo-entities (at the overall dev accuracy) added to every pooled block before taking its accuracy.
_PRIOR_WEIGHT = 1.0
_FORMAT_VERSION = 1


class CalibrationError(ValueError):
    """The inputs cannot be scored (mismatched lengths, a missing or out-of-range confidence)."""


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

    @classmethod
    def from_dict(cls, data: Any) -> ReliabilityBin:
        def optional(value: Any) -> float | None:
            return None if value is None else float(value)

        return cls(
            lower=float(data["lower"]),
            upper=float(data["upper"]),
            count=int(data["count"]),
            correct=int(data["correct"]),
            mean_confidence=optional(data["mean_confidence"]),
            accuracy=optional(data["accuracy"]),
        )


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

    @classmethod
    def from_dict(cls, data: Any) -> CalibrationReport:
        """The report ``to_dict`` wrote (stored with an evaluation); CalibrationError when it is not one."""
        try:
            mean = data["mean_confidence"]
            return cls(
                ece=float(data["ece"]),
                max_calibration_error=float(data["max_calibration_error"]),
                entity_count=int(data["entity_count"]),
                correct_count=int(data["correct_count"]),
                mean_confidence=None if mean is None else float(mean),
                bins=tuple(ReliabilityBin.from_dict(row) for row in data["bins"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CalibrationError(f"not a calibration report: {error!r}") from error


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
    predicted: Sequence[Sequence[ScoredRegion]], gold: Sequence[Sequence[Region]], bins: int = DEFAULT_BINS
) -> CalibrationReport:
    """Calibration of predicted entities (``ner.predict.ScoredSpan`` lists, with confidence) against gold spans,
    document by document (``predicted[i]`` and ``gold[i]`` describe the same text)."""
    return calibration_from_pairs(calibration_pairs(predicted, gold), bins)


def calibration_pairs(
    predicted: Sequence[Sequence[ScoredRegion]], gold: Sequence[Sequence[Region]]
) -> list[tuple[float, bool]]:
    """(confidence, exactly right) for every predicted entity, document by document."""
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
    return pairs


@dataclass(frozen=True, slots=True)
class CalibrationMap:
    """A monotone map from a raw score to the probability that the entity is exactly right.

    ``score`` names the raw score the map was fitted on (``ner.predict.GREEDY_SCORE``); a map is only ever applied
    to that score. ``raw`` and ``calibrated`` are the knots (``raw`` strictly increasing, ``calibrated``
    non-decreasing, both in [0, 1]); ``ece_before`` / ``ece_after`` describe the fitting (dev) set.
    """

    score: str
    raw: tuple[float, ...]
    calibrated: tuple[float, ...]
    entity_count: int
    correct_count: int
    ece_before: float
    ece_after: float
    # How many fold models gave out-of-fold pairs besides the dev set's (0: the dev set alone; ``ner.train``).
    folds: int = 0

    def __post_init__(self) -> None:
        if not self.raw or len(self.raw) != len(self.calibrated):
            raise CalibrationError("a calibration map needs as many calibrated values as raw knots, at least one")
        if any(later <= earlier for earlier, later in zip(self.raw, self.raw[1:], strict=False)):
            raise CalibrationError("calibration map knots must be strictly increasing")
        if any(later < earlier for earlier, later in zip(self.calibrated, self.calibrated[1:], strict=False)):
            raise CalibrationError("calibrated values must not decrease")
        if not all(0.0 <= value <= 1.0 for value in (*self.raw, *self.calibrated)):
            raise CalibrationError("calibration map values must lie in [0, 1]")

    def apply(self, raw: float) -> float:
        """The calibrated confidence for a raw score (linear between knots, flat outside them)."""
        knots = self.raw
        if raw <= knots[0]:
            return self.calibrated[0]
        if raw >= knots[-1]:
            return self.calibrated[-1]
        right = bisect.bisect_right(knots, raw)
        x0, x1 = knots[right - 1], knots[right]
        y0, y1 = self.calibrated[right - 1], self.calibrated[right]
        return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": _FORMAT_VERSION,
            "method": "isotonic",
            "score": self.score,
            "raw": list(self.raw),
            "calibrated": list(self.calibrated),
            "entity_count": self.entity_count,
            "correct_count": self.correct_count,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "folds": self.folds,
        }

    @classmethod
    def from_dict(cls, data: Any) -> CalibrationMap:
        if not isinstance(data, dict) or data.get("version") != _FORMAT_VERSION:
            raise CalibrationError("not a calibration map this version of nerlab can read")
        try:
            return cls(
                score=str(data["score"]),
                raw=tuple(float(value) for value in data["raw"]),
                calibrated=tuple(float(value) for value in data["calibrated"]),
                entity_count=int(data["entity_count"]),
                correct_count=int(data["correct_count"]),
                ece_before=float(data["ece_before"]),
                ece_after=float(data["ece_after"]),
                folds=int(data.get("folds", 0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CalibrationError(f"the calibration map is incomplete: {error!r}") from error


def pooled_blocks(pairs: Sequence[tuple[float, bool]]) -> list[list[float]]:
    """Pool adjacent violators over the pairs sorted by raw score: blocks ``[sum of raw, sum of right, count]`` whose
    accuracy rises strictly from one to the next. Equal raw scores start in one block: the map must give them one
    value."""
    grouped: dict[float, list[float]] = {}
    for raw, right in pairs:
        entry = grouped.setdefault(raw, [0.0, 0.0])
        entry[0] += float(right)
        entry[1] += 1.0
    blocks: list[list[float]] = []
    for raw in sorted(grouped):
        right_sum, count = grouped[raw]
        blocks.append([raw * count, right_sum, count])
        # Merge while the newest block is not more accurate than the one before.
        while len(blocks) > 1 and blocks[-2][1] * blocks[-1][2] >= blocks[-1][1] * blocks[-2][2]:
            last = blocks.pop()
            for index in range(3):
                blocks[-1][index] += last[index]
    return blocks


def calibration_map_fit(pairs: Sequence[tuple[float, bool]], *, score: str, folds: int = 0) -> CalibrationMap | None:
    """Isotonic regression of correctness on the raw score; None with fewer than MIN_FIT_ENTITIES pairs. ``folds``
    records how many fold models gave some of the pairs.

    Deterministic: the same pairs give the same map (ties are pooled, never ordered by chance)."""
    if len(pairs) < MIN_FIT_ENTITIES:
        return None
    for raw, _ in pairs:
        if not 0.0 <= raw <= 1.0 or math.isnan(raw):
            raise CalibrationError(f"raw score {raw} is outside [0, 1]")
    overall = sum(1 for _, right in pairs if right) / len(pairs)
    blocks = pooled_blocks(pairs)
    knots_raw = [raw_sum / count for raw_sum, _, count in blocks]
    knots_calibrated = [
        (right_sum + _PRIOR_WEIGHT * overall) / (count + _PRIOR_WEIGHT) for _, right_sum, count in blocks
    ]
    # Shrinkage keeps the order of block accuracies; float rounding could still tie neighbours, which is fine.
    for index in range(1, len(knots_calibrated)):
        knots_calibrated[index] = max(knots_calibrated[index], knots_calibrated[index - 1])
    fitted = CalibrationMap(
        score=score,
        raw=tuple(knots_raw),
        calibrated=tuple(knots_calibrated),
        entity_count=len(pairs),
        correct_count=sum(1 for _, right in pairs if right),
        ece_before=0.0,
        ece_after=0.0,
    )
    # Built first with placeholder errors: measuring the error after calibration needs the map itself.
    before = calibration_from_pairs(pairs).ece
    after = calibration_from_pairs([(fitted.apply(raw), right) for raw, right in pairs]).ece
    return replace(fitted, ece_before=before, ece_after=after, folds=folds)


def calibration_map_save(calibration: CalibrationMap, folder: Path) -> Path:
    path = Path(folder) / CALIBRATION_FILE
    path.write_text(json.dumps(calibration.to_dict(), indent=1) + "\n", encoding="utf-8")
    return path


def calibration_map_load(folder: Path) -> CalibrationMap | None:
    """The map saved in a model folder, None when the folder has none (models trained before calibration)."""
    path = Path(folder) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CalibrationError(f"{path} cannot be read: {error}") from error
    return CalibrationMap.from_dict(data)

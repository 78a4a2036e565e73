"""What to do next, read from an evaluation and the entity counts of the snapshot it was made on.

Each piece of advice names a problem a user can fix by tagging (too few examples, a type missing from the test
set, unbalanced types, train and test sets that differ, two types the model confuses, a type it leaves unfound)
and says how. The evaluation page shows them; the thresholds are written beside each rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ner import limits
from ner.metrics import NONE, EvaluationReport, MatrixCell

# A type with at least this many times the training examples of another makes the set unbalanced.
IMBALANCE_RATIO = 10
# A type's share of the entities differs between training and test by more than this (and by half): a drift.
DRIFT_SHARE = 0.15
# A gold type predicted as another type for at least this percentage of its entities (and at least twice).
CONFUSION_PERCENT = 20
# A gold type left unpredicted for at least this percentage of its entities (and at least twice).
MISSED_PERCENT = 50
_REPEATED = 2


@dataclass(frozen=True)
class Advice:
    kind: str  # few_examples | missing_in_test | imbalance | distribution | confusion | missed
    message: str
    labels: tuple[str, ...] = ()


def evaluation_advice(
    *, report: EvaluationReport, train_counts: Mapping[str, int], test_counts: Mapping[str, int]
) -> list[Advice]:
    """The advice for a model evaluated by ``report``, whose snapshot held these entity counts per type."""
    errors = report.count_matrix.cells("errors")
    return [
        *_few_examples(train_counts, test_counts),
        *_missing_in_test(train_counts, test_counts),
        *_imbalance(train_counts),
        *_distribution(train_counts, test_counts),
        *_confusions(errors),
        *_missed(errors),
    ]


def _few_examples(train_counts: Mapping[str, int], test_counts: Mapping[str, int]) -> list[Advice]:
    labels = sorted(set(train_counts) | set(test_counts))
    few = [label for label in labels if train_counts.get(label, 0) < limits.FEW_INSTANCES_WARNING]
    if not few:
        return []
    return [
        Advice(
            "few_examples",
            f"Fewer than {limits.FEW_INSTANCES_WARNING} training examples for "
            + ", ".join(f"{label} ({train_counts.get(label, 0)})" for label in few)
            + f". Tag more: {limits.RECOMMENDED_INSTANCES_PER_TYPE} or more per type is a good target.",
            tuple(few),
        )
    ]


def _missing_in_test(train_counts: Mapping[str, int], test_counts: Mapping[str, int]) -> list[Advice]:
    missing = [label for label in sorted(train_counts) if not test_counts.get(label)]
    if not missing:
        return []
    return [
        Advice(
            "missing_in_test",
            "Not tagged in the test set, so their recall cannot be measured (what the model predicts of them "
            "counts as false positives): "
            + ", ".join(missing)
            + ". Put documents with these types in the test set to measure them.",
            tuple(missing),
        )
    ]


def _imbalance(train_counts: Mapping[str, int]) -> list[Advice]:
    present = {label: count for label, count in train_counts.items() if count}
    if len(present) < 2:
        return []
    most, least = max(present, key=present.__getitem__), min(present, key=present.__getitem__)
    if present[most] < IMBALANCE_RATIO * present[least]:
        return []
    return [
        Advice(
            "imbalance",
            f"Unbalanced types: {most} has {present[most]} training examples, {least} only {present[least]}. "
            "The model will favour the frequent types; tag more of the rare ones.",
            (most, least),
        )
    ]


def _distribution(train_counts: Mapping[str, int], test_counts: Mapping[str, int]) -> list[Advice]:
    train_total, test_total = sum(train_counts.values()), sum(test_counts.values())
    if not (train_total and test_total):
        return []
    drift = []
    for label in sorted(set(train_counts) | set(test_counts)):
        train_share = train_counts.get(label, 0) / train_total
        test_share = test_counts.get(label, 0) / test_total
        difference = abs(train_share - test_share)
        if difference > DRIFT_SHARE and difference > 0.5 * max(train_share, test_share):
            drift.append(f"{label} ({train_share:.0%} of training vs {test_share:.0%} of test entities)")
    if not drift:
        return []
    return [
        Advice(
            "distribution",
            "The training and test sets differ in their mix of types: "
            + "; ".join(drift)
            + ". The test score may not reflect real use; make both sides alike.",
        )
    ]


def _confusions(errors: list[MatrixCell]) -> list[Advice]:
    """One piece of advice per pair of types the model mixes up, the worst first."""
    pairs = sorted(
        (
            (cell.normalized, cell.gold, cell.predicted)
            for cell in errors
            if NONE not in (cell.gold, cell.predicted)
            and cell.raw >= _REPEATED
            and cell.normalized >= CONFUSION_PERCENT
        ),
        reverse=True,
    )
    return [
        Advice(
            "confusion",
            f"The model confuses {gold} with {predicted} ({share:.0f}% of {gold} entities were predicted as "
            f"{predicted}). If they mean the same thing, merge them; otherwise describe the difference and tag "
            "more examples of both.",
            (gold, predicted),
        )
        for share, gold, predicted in pairs
    ]


def _missed(errors: list[MatrixCell]) -> list[Advice]:
    # Azure's "unclear distinction" check also covers a type confused with untagged text ($none): the model
    # leaves at least half of its entities unfound.
    return [
        Advice(
            "missed",
            f"The model finds too few {cell.gold} entities ({cell.normalized:.0f}% of them were not "
            f"predicted at all). Tag more examples of {cell.gold}, and check that it is tagged consistently "
            "and completely: an untagged occurrence teaches the model that it is not an entity.",
            (cell.gold,),
        )
        for cell in errors
        if cell.predicted == NONE and cell.gold != NONE and cell.raw >= _REPEATED and cell.normalized >= MISSED_PERCENT
    ]

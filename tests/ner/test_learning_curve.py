"""Nested training shares and the learning-curve projection (no Django, no training)."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from ner.learning_curve import (
    LearningCurveError,
    Projection,
    check_percents,
    count_instances,
    fit_projection,
    instances_by_type,
    nested_subsets,
    subset_size,
    types_by_gain,
)
from ner.types import LabeledDoc, Span


def corpus(count: int = 40) -> list[LabeledDoc]:
    """Documents with one PERSON each, a CITY in every other one, and a single rare DATE."""
    docs = []
    for index in range(count):
        text = f"Doc {index:03d}: Alice went to Paris on Monday."
        spans = [Span(12, 17, "PERSON")]
        if index % 2:
            spans.append(Span(26, 31, "CITY"))
        if index == 37:
            spans.append(Span(35, 41, "DATE"))
        docs.append(LabeledDoc(text=text, spans=tuple(spans), name=f"d{index}"))
    return docs


def names(docs) -> list[str]:
    return [doc.name for doc in docs]


def test_subsets_are_nested_and_sized_by_percent():
    docs = corpus()
    subsets = nested_subsets(docs, (25, 50, 75, 100), seed=0)
    assert [s.percent for s in subsets] == [25, 50, 75, 100]
    assert [len(s.docs) for s in subsets] == [10, 20, 30, 40]
    for smaller, larger in itertools.pairwise(subsets):
        assert set(names(smaller.docs)) < set(names(larger.docs))
    assert names(subsets[-1].docs) == names(docs)  # all of it, in input order
    # Whole documents: every chosen document keeps all its spans.
    assert all(doc in docs for doc in subsets[0].docs)


def test_subsets_are_deterministic_and_depend_on_the_seed_not_the_order():
    docs = corpus()
    first = nested_subsets(docs, (25, 50, 100), seed=3)
    again = nested_subsets(list(reversed(docs)), (25, 50, 100), seed=3)
    assert set(names(first[0].docs)) == set(names(again[0].docs))
    other = nested_subsets(docs, (25, 50, 100), seed=4)
    assert set(names(first[0].docs)) != set(names(other[0].docs))


@pytest.mark.parametrize("seed", range(6))
def test_smallest_subset_keeps_every_entity_type_when_it_has_room(seed):
    subsets = nested_subsets(corpus(), (10, 100), seed=seed)
    assert set(subsets[0].per_type) == {"PERSON", "CITY", "DATE"}  # DATE is in one document of forty


def test_smallest_subset_with_no_room_for_every_type_keeps_the_rarest():
    docs = [
        LabeledDoc(text="a", spans=(Span(0, 1, "A"),), name="a1"),
        LabeledDoc(text="b", spans=(Span(0, 1, "B"),), name="b1"),
        LabeledDoc(text="bb", spans=(Span(0, 1, "B"),), name="b2"),
        LabeledDoc(text="c", spans=(), name="empty"),
    ]
    first = nested_subsets(docs, (25, 100), seed=0)[0]
    assert names(first.docs) == ["a1"]


def test_instance_counts_follow_the_subsets():
    subsets = nested_subsets(corpus(), (50, 100), seed=1)
    whole = subsets[-1]
    assert whole.instances == count_instances(corpus()) == 40 + 20 + 1
    assert whole.per_type == instances_by_type(corpus()) == {"CITY": 20, "DATE": 1, "PERSON": 40}
    assert subsets[0].instances == sum(subsets[0].per_type.values())


def test_subset_size_rounds_up_and_never_drops_to_zero():
    assert subset_size(25, 12) == 3
    assert subset_size(25, 3) == 1
    assert subset_size(1, 5) == 1
    assert subset_size(100, 7) == 7
    assert subset_size(50, 0) == 0


def test_percents_are_checked_with_clear_messages():
    assert check_percents([50, 25, 25]) == (25, 50, 100)
    assert check_percents([25, 50, 75, 100]) == (25, 50, 75, 100)
    with pytest.raises(LearningCurveError, match="whole percent from 1 to 100"):
        check_percents([0, 50])
    with pytest.raises(LearningCurveError, match="whole percent"):
        check_percents([12.5])
    with pytest.raises(LearningCurveError, match="at least one share below 100%"):
        check_percents([100])
    with pytest.raises(LearningCurveError, match="At most 10 shares"):
        check_percents(range(5, 100, 5))
    with pytest.raises(LearningCurveError, match="training side is empty"):
        nested_subsets([], (50,), seed=0)


def power_law(n: float, a: float = 0.9, b: float = 2.0, c: float = 0.5) -> float:
    return a - b * n**-c


def test_projection_recovers_a_known_power_law():
    sizes = (100, 200, 300, 400)
    projection = fit_projection([(n, power_law(n)) for n in sizes])
    assert projection.method == "power_law"
    assert projection.points == 4 and projection.current_instances == 400
    assert projection.params["a"] == pytest.approx(0.9, abs=0.005)
    assert projection.params["c"] == pytest.approx(0.5, abs=0.02)
    assert projection.at_2x == pytest.approx(power_law(800), abs=0.003)
    assert projection.at_4x == pytest.approx(power_law(1600), abs=0.005)
    assert projection.plateau == pytest.approx(0.9, abs=0.005)
    # +5 points from 0.8 is 0.85, which the law reaches at n = (2 / 0.05)^2 = 1600.
    assert projection.target_f1 == pytest.approx(0.85)
    assert projection.instances_for_target == pytest.approx(1600, rel=0.05)
    assert projection.more_instances == projection.instances_for_target - 400
    assert projection.extrapolated


def test_projection_is_roughly_right_on_a_noisy_curve():
    rng = random.Random(7)
    sizes = (50, 100, 150, 200, 400)
    projection = fit_projection([(n, power_law(n) + rng.gauss(0, 0.01)) for n in sizes])
    assert projection.method in {"power_law", "log_linear"}
    assert projection.at_2x == pytest.approx(power_law(800), abs=0.05)
    assert projection.current_f1 < projection.at_2x <= projection.at_4x <= 1.0


def test_two_points_fall_back_to_a_log_linear_trend():
    projection = fit_projection([(10, 0.5), (20, 0.6)])
    assert projection.method == "log_linear"
    assert projection.at_2x == pytest.approx(0.7)
    assert projection.at_4x == pytest.approx(0.8)
    assert "log-linear" in projection.note


@pytest.mark.parametrize(
    "points",
    [
        [],
        [(0, 0.0), (0, 0.0)],
        [(10, 0.4)],
        [(10, 0.5), (20, 0.5), (30, 0.5)],
        [(10, 0.0), (20, 0.0), (30, 0.0)],
        [(10, 0.7), (20, 0.6), (30, 0.5)],
        [(10, float("nan")), (20, float("inf")), (30, 0.5)],
        [(5, 0.2), (5, 0.4)],
        [(1, 0.0), (2, 1.0), (3, 1.0)],
        [(10, 0.2), (20, 0.4), (30, 0.6), (40, 0.8)],
    ],
)
def test_degenerate_curves_do_not_crash_and_stay_in_range(points):
    projection = fit_projection(points)
    for value in (projection.current_f1, projection.at_2x, projection.at_4x, projection.plateau, projection.target_f1):
        assert value is None or (math.isfinite(value) and 0.0 <= value <= 1.0)
    assert Projection.from_dict(projection.to_dict()) == projection


def test_a_falling_or_flat_curve_projects_no_gain():
    projection = fit_projection([(10, 0.7), (20, 0.6), (30, 0.5)])
    assert projection.method == "flat"
    assert projection.gain_2x == 0.0
    assert projection.instances_for_target is None
    assert "did not rise" in projection.note
    perfect = fit_projection([(10, 1.0), (20, 1.0), (30, 1.0)])
    assert perfect.method == "flat" and perfect.target_f1 is None
    assert "already at the top" in perfect.note


def test_a_target_beyond_the_plateau_is_out_of_reach():
    # Saturates at 0.62: +5 points from ~0.6 is never reached.
    projection = fit_projection([(n, power_law(n, a=0.62, b=1.0, c=1.0)) for n in (100, 200, 400, 800)])
    assert projection.method == "power_law"
    assert projection.instances_for_target is None
    assert projection.at_4x < 0.62 + 1e-6


def test_per_type_projections_rank_the_types_that_gain_most():
    overall = [(n, power_law(n)) for n in (100, 200, 300, 400)]
    projection = fit_projection(
        overall,
        per_type={
            "PERSON": [(50, 0.90), (100, 0.91), (150, 0.915), (200, 0.918)],
            "CITY": [(20, 0.20), (40, 0.40), (60, 0.50), (80, 0.56)],
            "DATE": [(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0)],
        },
    )
    ranked = [label for label, _ in types_by_gain(projection)]
    assert ranked[0] == "CITY"
    assert ranked[-1] == "DATE"
    assert projection.per_type["DATE"].method == "flat"
    restored = Projection.from_dict(projection.to_dict())
    assert restored == projection
    assert restored.predict(800) == pytest.approx(projection.at_2x)

"""Choosing a step limit from a time budget and a measured speed (no training, no clock)."""

from __future__ import annotations

import pytest

from ner.budget import MIN_STEPS, SAFETY_SHARE, BudgetTooShort, Speed, plan_steps, step_words
from ner.sizing import evaluation_frequency

SPEED = Speed(
    words_per_second=10_000,
    step_overhead_s=0.01,
    eval_words_per_second=50_000,
    prepare_characters_per_second=1_000_000,
    words_per_character=0.18,
)


def plan(**overrides):
    arguments = {
        "budget_s": 600.0,
        "elapsed_s": 5.0,
        "speed": SPEED,
        "cap_steps": 30_000,
        "prepare_characters": 2_000_000,
        "words_per_epoch": 300_000,
        "dev_words": 30_000,
        "predict_after_words": 60_000,
        "batch_size_start": 100,
        "batch_size_stop": 1_000,
        "compound": 1.001,
        "evaluation_frequency": evaluation_frequency,
        **overrides,
    }
    return plan_steps(**arguments)


def test_the_chosen_steps_fit_the_budget_and_one_hundred_more_would_not():
    chosen = plan()
    assert chosen.estimated_s <= 600 * (1 - SAFETY_SHARE)
    assert chosen.max_steps % 100 == 0
    longer = plan(cap_steps=chosen.max_steps + 100)
    assert longer.max_steps == chosen.max_steps  # the next hundred does not fit
    assert "fit in 10 minutes at 10,000 training words/s" in chosen.reason


def test_a_faster_machine_or_a_longer_budget_gets_more_steps():
    base = plan().max_steps
    faster = plan(speed=Speed(**{**SPEED.to_dict(), "words_per_second": 20_000})).max_steps
    assert faster > base
    assert plan(budget_s=1_200).max_steps > base
    assert plan(budget_s=300).max_steps < base


def test_evaluations_preparation_and_the_time_already_spent_count():
    base = plan()
    assert plan(dev_words=600_000).max_steps < base.max_steps  # a dev set that costs 12 s per evaluation
    assert plan(elapsed_s=120).max_steps < base.max_steps
    assert plan(prepare_characters=60_000_000).max_steps < base.max_steps
    assert plan(predict_after_words=6_000_000).max_steps < base.max_steps
    assert base.final_s == pytest.approx((30_000 + 60_000) / 50_000)


def test_the_step_limit_caps_a_generous_budget():
    chosen = plan(budget_s=24 * 3600, cap_steps=6_000)
    assert chosen.max_steps == 6_000 and chosen.cap_steps == 6_000
    assert "the step limit; more would fit" in chosen.reason
    assert plan(budget_s=3600, cap_steps=37).max_steps == 37  # a short user limit is kept as it is


def test_a_budget_too_short_for_any_training_says_how_long_it_would_take():
    with pytest.raises(BudgetTooShort, match=r"A time budget of 0\.5 minutes is too short .* about [\d.]+ minutes"):
        plan(budget_s=30, prepare_characters=50_000_000)
    with pytest.raises(ValueError, match="must be positive"):
        plan(budget_s=0)


def test_batches_keep_growing_across_epochs():
    sizes = step_words(6, words_per_epoch=450, batch_size_start=100, batch_size_stop=1_000, compound=2.0)
    assert sizes[:3] == [100, 200, 150]  # the third batch ends the epoch (450 words)
    # The schedule carries on in the next epoch (it is not restarted); each batch holds at most an epoch.
    assert sizes[3:6] == [450, 450, 450]
    longer = step_words(4, words_per_epoch=10**6, batch_size_start=100, batch_size_stop=1_000, compound=2.0)
    assert longer == [100, 200, 400, 800]
    assert step_words(3, words_per_epoch=10**6, batch_size_start=100, batch_size_stop=150, compound=2.0) == [
        100,
        150,
        150,
    ]


def test_long_examples_make_early_batches_larger_and_leave_fewer_steps():
    # Chunks of whole documents (370 words) are a batch each while the schedule's size is below their length.
    sizes = step_words(
        3, words_per_epoch=10**6, batch_size_start=100, batch_size_stop=1_000, compound=2.0, words_per_example=370
    )
    assert sizes == [370, 370, 400]
    documents = Speed(**{**SPEED.to_dict(), "words_per_example": 370.0})
    assert plan(speed=documents).max_steps < plan().max_steps


def test_plan_records_what_it_was_chosen_from():
    recorded = plan().to_dict()
    assert recorded["budget_minutes"] == 10 and recorded["speed"]["words_per_second"] == 10_000
    assert recorded["max_steps"] >= MIN_STEPS and recorded["reason"].startswith(f"{recorded['max_steps']:,} steps")

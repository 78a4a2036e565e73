"""Choosing a step limit from a time budget and a measured speed (no training, no clock)."""

from __future__ import annotations

import pytest

from ner.budget import (
    EVALUATION_SHARE,
    EVALUATIONS_MIN,
    FULL_BATCH_WORDS,
    MIN_STEPS,
    REPLAN_SAFETY_SHARE,
    SAFETY_SHARE,
    BudgetTooShort,
    Speed,
    evaluations,
    full_batch_size,
    plan_steps,
    replan,
    step_words,
)
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
    longer = plan(
        cap_steps=chosen.max_steps + 100,
        batch_size_start=chosen.batch_size_start,
        batch_size_stop=chosen.batch_size_stop,
    )
    assert longer.max_steps == chosen.max_steps  # the next hundred does not fit
    # A step limit the growing batches reach in time is the unbudgeted run itself, even where full-size batches
    # would have fitted a hundred steps more than that limit.
    assert plan(cap_steps=chosen.max_steps + 100).batch_size_start == 100
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


def test_after_the_loop_the_calibration_pass_and_each_load_of_the_saved_model_count():
    # Calibration loads the model and predicts the dev set with confidence (slower than an evaluation); a caller
    # predicting the test set after training loads the model again.
    measured = Speed(**{**SPEED.to_dict(), "model_load_s": 5.0, "calibration_words_per_second": 5_000})
    both = plan(speed=measured)
    assert both.final_s == pytest.approx(5.0 + 30_000 / 5_000 + 5.0 + 60_000 / 50_000)
    assert plan(speed=measured, predict_after_words=0).final_s == pytest.approx(5.0 + 30_000 / 5_000)
    assert both.max_steps < plan().max_steps


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
    generous = {"budget_s": 24 * 3600, "cap_steps": 3_000}
    assert plan(speed=documents, **generous).estimated_s > plan(**generous).estimated_s


def test_growing_batches_when_they_reach_the_step_limit_in_time_full_ones_when_the_budget_binds():
    reached = plan(budget_s=24 * 3600, cap_steps=3_000)
    assert reached.max_steps == 3_000 and not reached.full_batches
    assert (reached.batch_size_start, reached.batch_size_stop) == (100, 1_000)  # the unbudgeted run's batches

    binding = plan()
    assert binding.max_steps < 30_000 and binding.full_batches
    assert (binding.batch_size_start, binding.batch_size_stop) == (FULL_BATCH_WORDS, FULL_BATCH_WORDS)
    assert "in batches of 2,000 words from the first step" in binding.reason
    assert binding.to_dict()["batch_size_start"] == 2_000 and binding.to_dict()["full_batches"] is True
    # Full batches fit fewer steps than growing ones would, each of more words; the estimate still fits.
    assert binding.estimated_s <= 600 * (1 - SAFETY_SHARE)
    full_step_s = SPEED.step_overhead_s + 2_000 / SPEED.words_per_second
    assert binding.max_steps == pytest.approx(
        (binding.estimated_s - 5 - 2 - (90_000 / 50_000) - 0.6 * evaluations(binding.max_steps, 200, 0)) / full_step_s,
        abs=2,
    )


def test_full_size_is_two_thousand_words_at_most_a_twentieth_of_an_epoch_and_never_below_the_largest_batch():
    assert full_batch_size(words_per_epoch=2_600_000, batch_size_stop=1_000) == FULL_BATCH_WORDS == 2_000
    assert full_batch_size(words_per_epoch=30_000, batch_size_stop=1_000) == 1_500  # a twentieth, rounded to 50
    assert full_batch_size(words_per_epoch=9_000, batch_size_stop=450) == 450  # small projects keep their batches
    assert full_batch_size(words_per_epoch=10**7, batch_size_stop=3_000) == 3_000  # a user's larger batches stay


def test_settings_that_already_start_at_full_size_or_a_budget_too_short_for_full_batches_keep_their_batches():
    same = plan(batch_size_start=2_000, batch_size_stop=2_000)
    assert same.batch_size_start == 2_000 and not same.full_batches
    # 100 full-size steps (2,000 words at 10 words/s: over 5 hours) do not fit; 100 of 20 words do: those run.
    slow = Speed(**{**SPEED.to_dict(), "words_per_second": 10.0, "step_overhead_s": 0.0})
    short = plan(speed=slow, budget_s=600, cap_steps=1_000, compound=1.0, batch_size_start=20)
    assert not short.full_batches and short.batch_size_start == 20 and short.max_steps >= MIN_STEPS


def test_plan_records_what_it_was_chosen_from():
    recorded = plan().to_dict()
    assert recorded["budget_minutes"] == 10 and recorded["speed"]["words_per_second"] == 10_000
    assert recorded["max_steps"] >= MIN_STEPS and recorded["reason"].startswith(f"{recorded['max_steps']:,} steps")


def test_a_large_dev_set_is_evaluated_less_often_within_a_share_of_the_budget_unless_the_frequency_is_fixed():
    assert plan().evaluation_frequency == evaluation_frequency(plan().max_steps) == 200  # cheap evaluations: the rule
    # 15 s an evaluation (750,000 dev words at 50,000 words/s): 3% of 10 minutes pays for 1 of them; 5 at least.
    large_dev = plan(dev_words=750_000)
    assert large_dev.max_steps // large_dev.evaluation_frequency == EVALUATIONS_MIN
    assert large_dev.evaluation_frequency % 10 == 0 and large_dev.to_dict()["evaluation_frequency"] > 200
    ruled = plan(dev_words=750_000, frequency_fixed=True)
    assert ruled.evaluation_frequency == 200 and ruled.max_steps < large_dev.max_steps  # 20+ passes cost steps
    # The share of two hours pays for 14 (or a few fewer, the frequency rounded up to tens): the frequency follows.
    two_hours = plan(dev_words=750_000, budget_s=7_200, cap_steps=200_000)
    assert 12 <= two_hours.max_steps // two_hours.evaluation_frequency <= EVALUATION_SHARE * 7_200 / 15


def test_how_full_the_batcher_makes_full_size_batches_and_checkpoint_writes_count_in_the_plan():
    base = plan()
    fuller = plan(speed=Speed(**{**SPEED.to_dict(), "batch_fill": 1.1}))
    assert base.full_batches and fuller.full_batches and fuller.max_steps < base.max_steps
    assert step_words(
        2, words_per_epoch=10**6, batch_size_start=2_000, batch_size_stop=2_000, compound=1.0, fill=1.1
    ) == [
        pytest.approx(2_200),
        pytest.approx(2_200),
    ]
    # The growing batches are counted at their named sizes: the fill was measured at full size only.
    generous = {"budget_s": 24 * 3600, "cap_steps": 3_000}
    assert (
        plan(**generous).estimated_s
        == plan(speed=Speed(**{**SPEED.to_dict(), "batch_fill": 1.1}), **generous).estimated_s
    )
    # A checkpoint written at each evaluation: 2 s more per evaluation, fewer steps.
    writing = plan(speed=Speed(**{**SPEED.to_dict(), "checkpoint_s": 2.0}))
    assert writing.max_steps < base.max_steps


def test_a_run_replans_from_its_own_steps_within_the_narrower_share_and_keeps_its_evaluations():
    first = plan(budget_s=900.0, cap_steps=20_000)
    assert first.full_batches and not first.replanned
    measured = replan(first, elapsed_s=60.0, last_step=250, step_s=0.05, evaluation_s=2.0, min_steps=2_500)
    assert measured.replanned and measured.probe_max_steps == first.max_steps
    assert measured.replanned_after_step == 250 and measured.measured_step_s == 0.05
    assert measured.evaluation_frequency == first.evaluation_frequency and measured.max_steps % 100 == 0
    frequency = first.evaluation_frequency

    def predicted(steps: int) -> float:
        evaluations = steps // frequency - 250 // frequency
        return 60.0 + (steps - 250) * 0.05 + evaluations * 2.0 + first.final_s

    target = 900 * (1 - REPLAN_SAFETY_SHARE)
    assert measured.estimated_s == pytest.approx(predicted(measured.max_steps))
    assert predicted(measured.max_steps) <= target < predicted(measured.max_steps + 100)
    assert "measured on the run's first 251 steps" in measured.reason
    assert f"had chosen {first.max_steps:,} steps" in measured.reason
    assert measured.to_dict()["probe_max_steps"] == first.max_steps


def test_a_probes_limit_just_short_of_replanning_is_raised_to_it_when_it_fits_the_replans_margin():
    # 600 s: the probe fits 2,300 full-size steps in 85% of the budget (about 500 s).
    probed = plan()
    assert probed.full_batches and probed.max_steps == 2_300
    # 2,400 steps take ~521 s, 2,760 would take ~600: the first fits in 95% (the re-plan's margin), the second not.
    raised = plan(replan_min_steps=2_400)
    assert raised.max_steps == 2_400 and raised.full_batches
    assert 600 * (1 - SAFETY_SHARE) < raised.estimated_s <= 600 * (1 - REPLAN_SAFETY_SHARE)
    assert raised.evaluation_frequency == plan(cap_steps=2_400).evaluation_frequency
    assert plan(replan_min_steps=2_760).max_steps == 2_300
    # Nothing to raise: a limit that re-plans already, or growing batches (they do not re-plan).
    assert plan(replan_min_steps=2_000).max_steps == 2_300
    growing = plan(budget_s=24 * 3600, cap_steps=3_000, replan_min_steps=5_000)
    assert growing.max_steps == 3_000 and not growing.full_batches


def test_a_replan_stays_within_the_cap_and_never_below_the_steps_that_keep_the_warm_up():
    first = plan(budget_s=900.0, cap_steps=20_000)
    fast = replan(first, elapsed_s=10.0, last_step=250, step_s=0.001, evaluation_s=0.0, min_steps=2_500)
    assert fast.max_steps == 20_000
    slow = replan(first, elapsed_s=60.0, last_step=250, step_s=5.0, evaluation_s=2.0, min_steps=2_500)
    assert slow.max_steps == 2_500 and slow.estimated_s > 900


def test_the_plan_counts_step_0_every_frequency_th_step_and_a_last_step_the_frequency_skips():
    assert evaluations(5_400, 200, 0) == 28  # 0, 200, ..., 5,400
    assert evaluations(5_500, 200, 0) == 29  # and 5,500
    assert evaluations(5_500, 200, 251) == 27  # 400, ..., 5,400 and 5,500
    assert evaluations(5_400, 200, 251) == 26

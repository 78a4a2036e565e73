"""A training on a time budget: the machine's speed (injected here, never measured) chooses the step limit, the
model records it, and training again with that limit instead of the minutes gives the same model."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest

import ner.train
from ner.budget import Speed, full_batch_size, plan_steps
from ner.predict import load
from ner.train import TrainError, TrainSettings, measure_speed, train
from tests.ner.synthetic_docs import QUICK, labeled_docs, train_quick

pytestmark = pytest.mark.slow

# One second per step whatever its size; evaluating and tokenizing cost next to nothing.
ONE_SECOND_PER_STEP = Speed(
    words_per_second=1e9,
    step_overhead_s=1.0,
    eval_words_per_second=1e9,
    prepare_characters_per_second=1e9,
    words_per_character=0.2,
)
# A probe that planned steps far faster than the (fake) clock will run them: the budget, not the limit, ends the run.
ONE_MILLISECOND_PER_STEP = Speed(**{**ONE_SECOND_PER_STEP.to_dict(), "step_overhead_s": 0.001})


def _frozen_clock() -> float:
    return 0.0


def _files(folder):
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "meta.json"
    }


def test_the_budget_chooses_the_steps_and_retraining_with_them_gives_the_same_model(tmp_path):
    budgeted = replace(QUICK, max_steps=300, eval_frequency=None, time_budget_s=126, chosen_by="test rule")
    result = train_quick(
        tmp_path / "budget",
        settings=budgeted,
        speed=ONE_SECOND_PER_STEP,
        clock=_frozen_clock,
    )
    # 126 s less the 15% safety share leaves 107.1 s: 107 one-second steps (limit 106), rounded down to tens.
    assert result.budget is not None and result.settings.max_steps == result.budget.max_steps == 100
    assert result.steps <= 101 and not result.stopped_at_time_limit
    meta = json.loads((result.model_path / "meta.json").read_text())["nerlab"]
    assert meta["settings"]["max_steps"] == 100 and meta["settings"]["eval_frequency"] == 20
    assert meta["settings"]["chosen_by"] == "test rule"
    assert meta["budget"]["budget_minutes"] == 2.1 and meta["budget"]["speed"]["step_overhead_s"] == 1.0
    assert meta["budget"]["max_steps"] == 100 and "fit in 2.1 minutes" in meta["budget"]["reason"]
    # The budget binds (300 steps would not fit): full-size batches from the first step, recorded as the settings.
    assert meta["budget"]["full_batches"] and meta["settings"]["batch_size_start"] == QUICK.batch_size_stop

    fixed = TrainSettings(**{**meta["settings"], "chosen_by": ""}, progress_interval_s=0)
    again = train_quick(tmp_path / "fixed", settings=fixed)
    assert again.budget is None and again.steps == result.steps and again.best_step == result.best_step
    assert _files(again.model_path) == _files(result.model_path)
    texts = ["Carol White drove to Vienna.", "nobody went anywhere"]
    assert load(again.model_path).predict(texts, with_confidence=True) == load(result.model_path).predict(
        texts, with_confidence=True
    )


def test_a_run_on_full_batches_replans_from_its_own_steps_and_retraining_with_the_new_limit_is_the_same(
    tmp_path, monkeypatch
):
    # A tenth of the real warm-up (250 steps, re-planning from 2,500), so the two runs take seconds, not minutes.
    monkeypatch.setattr(ner.train, "WARMUP_STEPS_MAX", 25)
    monkeypatch.setattr(ner.train, "REPLAN_MIN_STEPS", 250)
    ticks = itertools.count()  # every look at the clock: 0.8 s more, so a step takes 0.8 s where the probe said 1 s
    budgeted = replace(QUICK, max_steps=400, eval_frequency=None, patience=0, time_budget_s=320)
    result = train_quick(
        tmp_path / "budget",
        settings=budgeted,
        speed=ONE_SECOND_PER_STEP,
        clock=lambda: 0.8 * next(ticks),
    )
    plan = result.budget
    # The probe's 1 s a step fits 270 steps in 85% of the budget; after the warm-up (steps 0-25) the run has
    # measured 0.8 s a step and fits 370 in 95%: it trains on past the first limit to the new one.
    assert plan is not None and plan.full_batches and plan.replanned
    assert plan.probe_max_steps == 270 and plan.replanned_after_step == 25
    assert plan.measured_step_s == pytest.approx(0.8)
    assert result.settings.max_steps == plan.max_steps == 370 and result.steps == 371
    assert not result.stopped_at_time_limit
    meta = json.loads((result.model_path / "meta.json").read_text())["nerlab"]
    assert meta["settings"]["max_steps"] == 370 and meta["budget"]["probe_max_steps"] == 270
    assert "measured on the run's first 26 steps" in meta["budget"]["reason"]
    assert "max_steps = 370" in (result.model_path / "config.cfg").read_text()

    fixed = TrainSettings(**{**meta["settings"], "chosen_by": ""}, progress_interval_s=0)
    again = train_quick(tmp_path / "fixed", settings=fixed)
    assert again.budget is None and again.steps == result.steps and again.best_step == result.best_step
    assert _files(again.model_path) == _files(result.model_path)


def test_a_probe_that_chose_a_limit_just_short_of_replanning_gets_it_and_the_run_corrects_the_probe(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(ner.train, "WARMUP_STEPS_MAX", 15)
    monkeypatch.setattr(ner.train, "REPLAN_MIN_STEPS", 150)
    budgeted = replace(QUICK, max_steps=400, eval_frequency=None, patience=0, time_budget_s=170)
    # The probe's 1 s a step fits 140 steps in 85% of 170 s, and 150 in 95% (the re-plan's margin): the run takes 150
    # and re-plans after its warm-up. At 0.8 s a step it then fits more; had it kept 140 it could not have re-planned.
    ticks = itertools.count()
    faster = train_quick(
        tmp_path / "faster", settings=budgeted, speed=ONE_SECOND_PER_STEP, clock=lambda: 0.8 * next(ticks)
    )
    plan = faster.budget
    assert plan is not None and plan.replanned and plan.probe_max_steps == 150 and plan.replanned_after_step == 15
    assert faster.settings.max_steps == plan.max_steps > 170 and faster.steps == plan.max_steps + 1
    assert not faster.stopped_at_time_limit

    # The probe was right: the re-plan keeps about its limit, which ends inside the budget.
    ticks = itertools.count()
    probed = train_quick(tmp_path / "probed", settings=budgeted, speed=ONE_SECOND_PER_STEP, clock=lambda: next(ticks))
    assert probed.budget is not None and probed.budget.replanned and 150 <= probed.budget.max_steps < 170
    assert probed.steps == probed.budget.max_steps + 1 and not probed.stopped_at_time_limit
    assert probed.duration_s <= 170


def test_a_machine_slower_than_measured_stops_at_the_budget_with_the_best_checkpoint(tmp_path):
    ticks = itertools.count()  # every look at the clock: one more second

    result = train_quick(
        tmp_path / "model",
        settings=replace(QUICK, max_steps=200, time_budget_s=40),
        speed=ONE_MILLISECOND_PER_STEP,
        clock=lambda: float(next(ticks)),
    )
    assert result.budget is not None and result.budget.max_steps == 200
    assert result.stopped_at_time_limit and result.steps < 40
    assert (result.model_path / "meta.json").is_file() and result.best_dev_f1 is not None
    assert any("stopped at its time budget" in warning for warning in result.warnings)


def test_a_budget_too_short_fails_before_training_and_a_budget_needs_a_step_limit(tmp_path):
    docs = labeled_docs()
    with pytest.raises(TrainError, match=r"too short for this project: 100 steps would take about 2\.0 minutes"):
        train_quick(
            tmp_path / "model",
            settings=replace(QUICK, max_steps=1_000, time_budget_s=30),
            speed=ONE_SECOND_PER_STEP,
            clock=_frozen_clock,
        )
    assert not (tmp_path / "model").exists()
    with pytest.raises(TrainError, match="A time budget needs a step limit"):
        train(
            docs,
            [],
            language="en",
            output_dir=tmp_path / "m",
            settings=replace(QUICK, max_steps=0, max_epochs=3, time_budget_s=60),
        )
    with pytest.raises(TrainError, match="must be positive"):
        train(docs, [], language="en", output_dir=tmp_path / "m", settings=replace(QUICK, time_budget_s=-1))


def test_the_probe_times_the_smallest_batches_and_the_full_size_a_budgeted_run_may_train_with(monkeypatch):
    docs = labeled_docs(400)
    settings = replace(QUICK, batch_size_start=10, batch_size_stop=50)
    timed: list[int] = []
    batches = ner.train._probe_batches

    def spy(examples, words, count, tolerance):
        made = batches(examples, words, count, tolerance)
        assert len(made) == count and all(sum(len(example) for example in batch) >= words for batch in made)
        timed.append(words)
        return made

    monkeypatch.setattr(ner.train, "_probe_batches", spy)
    speed = measure_speed(docs[:380], docs[380:], language="en", settings=settings)
    words = speed.words_per_character * sum(len(doc.text) for doc in docs[:380])
    full = full_batch_size(words_per_epoch=words, batch_size_stop=50)
    assert full > 50 and timed == [10, full]  # a twentieth of the training side's words, measured, not extrapolated
    assert speed.words_per_second > 0 and speed.eval_words_per_second > 0 and speed.step_overhead_s >= 0
    assert speed.prepare_characters_per_second > 0 and speed.words_per_example > 0
    # Batches close once they reach their size: a little over it, never above the batcher's tolerance.
    assert 1.0 <= speed.batch_fill <= 1.2 and speed.checkpoint_s > 0
    assert speed.model_load_s > 0 and speed.calibration_words_per_second > 0


def test_probe_batches_are_the_batchers_and_leave_out_a_passs_partial_last_batch():
    examples = ner.train._examples(__import__("spacy").blank("en"), labeled_docs(40), ner.train._SpanReport())
    words = sum(len(example) for example in examples)
    made = ner.train._probe_batches(examples, words // 3, 7, 0.2)
    assert len(made) == 7 and all(sum(len(example) for example in batch) >= words // 3 for batch in made)
    # A sample smaller than one batch: its one batch, again and again.
    whole = ner.train._probe_batches(examples[:3], 10_000, 2, 0.2)
    assert whole == [examples[:3], examples[:3]]
    with pytest.raises(TrainError, match="no words to measure"):
        ner.train._probe_batches([], 100, 2, 0.2)


def test_the_replan_times_a_step_by_the_median_so_a_few_slow_steps_do_not_shorten_the_run():
    times = ner.train._StepTimes(last=0.0)
    now = 0.0
    for step_s in [2.0, 0.1, 0.1, 1.5, 0.1, 0.1, 0.1]:  # the first step's one-time costs, a stall
        now += step_s
        times.record(now, evaluated=False)
    plan = plan_steps(
        budget_s=600.0, elapsed_s=1.0, speed=ONE_SECOND_PER_STEP, cap_steps=30_000, prepare_characters=0,
        words_per_epoch=10**6, dev_words=0, predict_after_words=0, batch_size_start=1_000, batch_size_stop=1_000,
        compound=1.0, evaluation_frequency=lambda steps: 200,
    )  # fmt: skip
    replanned = times.replanned(plan, elapsed_s=now, last_step=6)
    assert replanned.measured_step_s == pytest.approx(0.1)  # the mean, 0.57 s, would have planned 5x fewer steps


def test_the_replan_counts_evaluations_at_the_probes_prediction_when_only_step_0_has_evaluated():
    # Step 0 evaluated for 3 s beyond its step (first prediction, first checkpoint); the probe predicted 0.5 s.
    speed = Speed(**{**ONE_SECOND_PER_STEP.to_dict(), "eval_words_per_second": 2_000.0})
    plan = plan_steps(
        budget_s=600.0, elapsed_s=1.0, speed=speed, cap_steps=30_000, prepare_characters=0,
        words_per_epoch=10**6, dev_words=1_000, predict_after_words=0, batch_size_start=1_000, batch_size_stop=1_000,
        compound=1.0, evaluation_frequency=lambda steps: 10,
    )  # fmt: skip
    assert plan.planned_evaluation_s == pytest.approx(0.5) and plan.to_dict()["planned_evaluation_s"] == 0.5

    def times_of(evaluations: list[bool], step_s: float = 0.1, evaluation_s: float = 0.0, first_s: float = 3.0):
        times = ner.train._StepTimes(last=0.0)
        now = 0.0
        for step, evaluated in enumerate(evaluations):
            now += step_s + (first_s if step == 0 else evaluation_s if evaluated else 0.0)
            times.record(now, evaluated=evaluated)
        return times, now

    only_step_0, now = times_of([True] + [False] * 9)
    replanned = only_step_0.replanned(plan, elapsed_s=now, last_step=9)
    assert replanned.measured_evaluation_s == pytest.approx(0.5)  # not step 0's 3 s
    as_step_0 = only_step_0.replanned(replace(plan, planned_evaluation_s=0.0), elapsed_s=now, last_step=9)
    assert as_step_0.measured_evaluation_s == pytest.approx(3.0) and as_step_0.max_steps < replanned.max_steps
    # A later evaluation is measured, and wins over the prediction.
    later, now = times_of([True] + [False] * 9 + [True] + [False] * 9, evaluation_s=1.5)
    assert later.replanned(plan, elapsed_s=now, last_step=19).measured_evaluation_s == pytest.approx(1.5)


def test_a_run_stopping_at_its_deadline_keeps_twice_the_predicted_work_after_the_loop():
    plan = plan_steps(
        budget_s=600.0, elapsed_s=1.0, speed=Speed(**{**ONE_SECOND_PER_STEP.to_dict(), "model_load_s": 2.0}),
        cap_steps=30_000, prepare_characters=0, words_per_epoch=10**6, dev_words=0, predict_after_words=1_000,
        batch_size_start=1_000, batch_size_stop=1_000, compound=1.0, evaluation_frequency=lambda steps: 200,
    )  # fmt: skip
    assert plan.final_s == pytest.approx(4.0, abs=1e-3)  # two loads: calibration's and the caller's
    assert ner.train.FINAL_RESERVE == 2.0
    assert ner.train.loop_deadline(plan, started=10.0) == pytest.approx(10.0 + 600.0 - 8.0, abs=1e-3)


def test_a_run_stops_before_a_step_it_could_not_score_in_time_and_scores_the_last_model(tmp_path, monkeypatch):
    seconds = [0.0]  # the fake time: every look at the clock 1 s more (a step), every evaluation 5 s more
    scored_at: list[float] = []
    make_evaluation = ner.train._evaluation

    def slow(*args, **kwargs):
        evaluate = make_evaluation(*args, **kwargs)

        def evaluate_slowly():
            seconds[0] += 5.0
            scored_at.append(seconds[0])
            return evaluate()

        return evaluate_slowly

    def clock() -> float:
        seconds[0] += 1.0
        return seconds[0]

    monkeypatch.setattr(ner.train, "_evaluation", slow)
    settings = replace(QUICK, max_steps=200, eval_frequency=10, patience=0, time_budget_s=60)
    result = train_quick(
        tmp_path / "model",
        settings=settings,
        speed=ONE_MILLISECOND_PER_STEP,
        clock=clock,
    )
    assert result.budget is not None and result.budget.max_steps == 200 and result.stopped_at_time_limit
    # The run started at the first look (1 s). Steps 0, 10, 20 and 30 evaluated; after step 31 (55 s) one more step
    # and its scoring (6 s) would have ended past the budget, so the run stopped and scored step 31's model.
    assert len(scored_at) == 5 and result.steps == 32
    assert 60 - 6 < scored_at[-1] - 1.0 <= 60
    assert (result.model_path / "meta.json").is_file() and result.best_dev_f1 is not None

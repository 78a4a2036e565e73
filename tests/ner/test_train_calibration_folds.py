"""Cross-fitting the calibration map (issue 11, item 8: ECE <= 0.05): a dev set with few entities cannot tell a
map from noise, so fold models trained on the training side less one fold each add the entities they predict in the
fold they did not learn from."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from thinc.optimizers import Optimizer

import ner.train
from ner.budget import BudgetPlan
from ner.calibration import CROSS_FIT_BELOW_DEV_ENTITIES
from ner.train import Progress, TrainCancelled, _calibration_folds, train
from tests.ner.synthetic_docs import QUICK, labeled_docs

pytestmark = pytest.mark.slow

FOLDS = replace(QUICK, calibration_folds=2)


def test_a_small_dev_set_is_helped_by_the_folds_predictions_reproducibly(tmp_path):
    docs = labeled_docs(30)
    progress: list[Progress] = []
    result = train(
        docs[:27], docs[27:], language="en", output_dir=tmp_path / "m", settings=FOLDS, on_progress=progress.append
    )
    # 3 dev documents hold 6 entities, too few for a map alone (test_train.py: raw scores kept); the 2 fold models
    # each predicted about half of the 27 training documents (2 entities each).
    calibration = result.calibration
    assert calibration is not None and calibration.folds == 2
    assert 6 + 40 <= calibration.entity_count <= 6 + 2 * 27 + 10
    saved = json.loads((result.model_path / "calibration.json").read_text())
    assert saved["folds"] == 2 and saved["entity_count"] == calibration.entity_count
    assert not any("calibrate" in warning for warning in result.warnings)
    # The bar covers the folds: the loop's updates stay within its third, the folds' fill the rest, never back.
    percents = [update.percent for update in progress]
    assert percents == sorted(percents) and percents[-1] == 100.0
    during_folds = [update for update in progress if 34 < update.percent < 100]
    # Meanwhile the run's own figures stay where its loop left them.
    assert during_folds and all(update.step == result.steps for update in during_folds)
    assert {update.phase for update in during_folds} == {"calibrating"} and progress[0].phase == "training"
    # The same run writes the same map (the folds come from a shuffle seeded with the run's seed).
    again = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "again", settings=FOLDS)
    assert (again.model_path / "calibration.json").read_bytes() == (result.model_path / "calibration.json").read_bytes()


def test_the_fold_models_stop_where_the_kept_model_was_kept(tmp_path, monkeypatch):
    """A small model's raw scores sharpen as it trains: fold models early-stopped on their own best dev score
    described another model than the one kept, so each fold model trains the run's schedule to the kept step."""
    folds: list[tuple[int | None, ner.train.TrainResult]] = []
    inner = ner.train._train

    def recording(*args, **kwargs):
        result = inner(*args, **kwargs)
        if kwargs.get("keep_step") is not None:
            folds.append((kwargs["keep_step"], result))
        return result

    monkeypatch.setattr(ner.train, "_train", recording)
    docs = labeled_docs(30)
    progress: list[Progress] = []
    # Patience short enough that the run stops long before its step limit.
    settings = replace(FOLDS, patience=20, max_steps=200)
    result = train(
        docs[:27], docs[27:], language="en", output_dir=tmp_path / "m", settings=settings, on_progress=progress.append
    )
    assert result.stopped_early and result.best_step < 100
    assert [keep_step for keep_step, _fold in folds] == [result.best_step - 1] * 2
    for _keep_step, fold in folds:
        # Trained to that step, past any dev score (no patience), with the run's step limit for the learning rate.
        assert fold.steps == result.best_step
        assert fold.settings.patience == 0 and fold.settings.max_steps == result.settings.max_steps
    # The bar counts each fold model's steps against the step it stops at: it reaches the end of each fold's share.
    percents = [update.percent for update in progress if update.phase == "calibrating"]
    assert percents == sorted(percents) and any(66 <= percent < 67 for percent in percents)


def test_the_eta_counts_each_fold_model_to_the_step_it_will_train_to(tmp_path, monkeypatch):
    """While the loop runs, the early end of the ETA range is the loop to its patience stop and each fold model to the
    checkpoint kept so far, the late end everything to the step limit; during the folds, the ETA is their steps left.
    The clock counts training steps, the loop's and the fold models' alike, so each figure can be checked exactly."""
    steps_trained = 0
    step_schedules = Optimizer.step_schedules

    def counting(self):
        nonlocal steps_trained
        steps_trained += 1
        return step_schedules(self)

    monkeypatch.setattr(Optimizer, "step_schedules", counting)
    docs = labeled_docs(30)
    progress: list[Progress] = []
    settings = replace(FOLDS, patience=20, max_steps=200, processes=1)
    result = train(
        docs[:27],
        docs[27:],
        language="en",
        output_dir=tmp_path / "m",
        settings=settings,
        on_progress=progress.append,
        clock=lambda: float(steps_trained),
    )
    assert result.stopped_early and result.best_step < 100
    fold_steps = result.best_step  # each fold model trains steps 0 to the kept one
    assert steps_trained == result.steps + 2 * fold_steps
    loop = [update for update in progress if update.phase == "training" and update.percent < 100]
    last = loop[-1]  # patience ends the loop here: the early end is what came
    assert last.step == result.steps == last.stop_step
    assert last.eta_early_s == pytest.approx(2 * fold_steps)
    # The late end counted the two fold models at the step limit, and the loop to it.
    assert last.eta_s == pytest.approx((201 - result.steps) + 2 * 201, rel=0.02)
    assert all(update.eta_early_s is None or update.eta_early_s <= update.eta_s for update in loop)
    folds = [update for update in progress if update.phase == "calibrating"]
    assert folds and all(update.eta_early_s is None for update in folds)
    for update in folds:
        steps_left = steps_trained - update.elapsed_s
        assert update.eta_s == pytest.approx(steps_left, abs=1.0)
    # The bar counts steps too: the loop's, then each fold model's to the kept step.
    assert folds[0].percent == pytest.approx(100 * (result.steps + 1) / (result.steps + 2 * fold_steps), abs=1.0)


def test_a_cancel_during_the_folds_leaves_nothing(tmp_path):
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 100  # past the run's own 61 steps: inside the first fold model

    docs = labeled_docs(30)
    output = tmp_path / "model"
    with pytest.raises(TrainCancelled):
        train(docs[:27], docs[27:], language="en", output_dir=output, settings=FOLDS, should_stop=should_stop)
    assert calls == 100 and not output.exists() and list(tmp_path.iterdir()) == []


def test_folds_only_for_a_small_dev_set_without_a_time_budget():
    docs = labeled_docs(100 + CROSS_FIT_BELOW_DEV_ENTITIES // 2)
    small_dev, large_dev = docs[100:103], docs[100:]
    assert _calibration_folds(FOLDS, None, docs[:27], small_dev) == 2
    assert _calibration_folds(FOLDS, None, docs[:27], large_dev) == 0  # 400 entities: the dev set suffices
    assert _calibration_folds(FOLDS, None, docs[:27], large_dev[:-1]) == 2  # 398: still under the line
    assert _calibration_folds(QUICK, None, docs[:27], small_dev) == 0  # off unless asked for
    assert _calibration_folds(FOLDS, None, docs[:3], small_dev) == 0  # too few documents to split
    assert _calibration_folds(FOLDS, None, docs[:27], []) == 0
    plan = BudgetPlan.__new__(BudgetPlan)  # any plan: a budgeted run has no room for fold models
    assert _calibration_folds(FOLDS, plan, docs[:27], small_dev) == 0

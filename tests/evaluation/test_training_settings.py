"""Training settings: the step limit and patience follow the training side's size unless given, a time budget is
accepted (and bad ones refused, clearly) by the page, the API, nerlab_train and the Azure :train setting, and a
model's settings can be reused, the steps its budget chose rather than the minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation import services
from evaluation.models import TrainedModel, TrainingRun
from labeling.models import Document
from ner.budget import Speed
from ner.sizing import RULE, settings_for_corpus
from ner.train import train
from portability.models import AuthoringJob
from projects.services import api_key_create

BASE = "/api/v1/projects/contracts"
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def queued_only(monkeypatch):
    """Runs are queued but no worker picks them up."""
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)


@pytest.fixture
def owner_api(user, project):
    api = APIClient()
    api.force_authenticate(user)
    return api


def _train_characters(project) -> int:
    snapshot = services.snapshot_create(project=project)
    return sum(
        len(text) for text in Document.objects.filter(pk__in=snapshot.train_document_ids).values_list("text", flat=True)
    )


def test_settings_left_empty_follow_the_corpus_size_and_given_ones_are_kept(trainable, user, queued_only):
    expected = settings_for_corpus(characters=_train_characters(trainable))
    run = services.training_run_start(project=trainable, user=user, model_name="sized")
    assert (run.max_steps, run.patience) == (expected.max_steps, expected.patience) == (1_000, 400)
    assert run.settings_rule == RULE
    assert run.settings_reason.startswith("The step limit and patience from the size of the training side: ")
    assert "floor of 1,000 steps" in run.settings_reason

    half = services.training_run_start(project=trainable, user=user, model_name="half", max_steps=50)
    assert (half.max_steps, half.patience) == (50, 400)
    assert half.settings_reason.startswith("The patience from the size")

    mine = services.training_run_start(project=trainable, user=user, model_name="mine", max_steps=50, patience=0)
    # Dropout and batch sizes follow the size even when the user gives the step limit and patience.
    assert (mine.max_steps, mine.patience, mine.settings_rule) == (50, 0, RULE)
    assert mine.settings_reason.startswith("Dropout and batch sizes from the size of the training side: ")


def test_a_small_training_side_gets_more_dropout_and_smaller_batches_down_to_the_model(
    trainable, user, monkeypatch, queued_only
):
    expected = settings_for_corpus(characters=_train_characters(trainable))
    run = services.training_run_start(project=trainable, user=user, model_name="small")
    assert (run.dropout, run.batch_size_start, run.batch_size_stop) == (0.2, 100, expected.batch_size_stop)
    assert "dropout 0.2 (below 100,000 characters" in run.settings_reason
    seen = []

    def stop_at_the_settings(*args, settings, **kwargs):
        seen.append(settings)
        raise services.TrainCancelled("enough: the settings were seen")

    monkeypatch.setattr(services, "train", stop_at_the_settings)
    with pytest.raises(services.TrainCancelled):
        services._train_and_save(run, ROOT / "unused")
    assert (seen[0].dropout, seen[0].batch_size_start, seen[0].batch_size_stop) == (0.2, 100, run.batch_size_stop)


@pytest.mark.parametrize("minutes", [0, -3, 1_441])
def test_a_time_budget_out_of_range_is_refused_and_nothing_is_queued(trainable, user, minutes, queued_only):
    with pytest.raises(ValidationError, match=rf"from 1 to 1,440 minutes \(got {minutes}\)") as error:
        services.training_run_start(project=trainable, user=user, time_budget_minutes=minutes)
    assert "time_budget_minutes" in error.value.message_dict
    assert not TrainingRun.objects.exists()


def test_a_time_budget_needs_a_step_limit_to_stay_under(trainable, user, queued_only):
    with pytest.raises(ValidationError, match="A time budget chooses the step limit up to this one"):
        services.training_run_start(project=trainable, user=user, time_budget_minutes=5, max_steps=0, max_epochs=3)
    run = services.training_run_start(project=trainable, user=user, time_budget_minutes=5)
    assert run.time_budget_minutes == 5 and run.max_steps == 1_000 and run.budget == {}


def test_the_training_page_shows_the_sized_settings_and_refuses_a_bad_budget(owner_client, trainable, queued_only):
    page = owner_client.get(reverse("evaluation:training_run_list", args=[trainable.name])).content.decode()
    assert 'id="sized-settings"' in page and "floor of 1,000 steps" in page
    assert "Dropout and batch sizes follow it too: " in page and "dropout 0.2 (below 100,000 characters" in page
    assert 'placeholder="1000 (from the corpus size)"' in page and 'name="time_budget_minutes"' in page

    url = reverse("evaluation:training_run_start", args=[trainable.name])
    response = owner_client.post(url, {"seed": 0, "max_epochs": 0, "time_budget_minutes": 0})
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    response = owner_client.post(url, {"seed": 0, "max_epochs": 3, "max_steps": 0, "time_budget_minutes": 5})
    assert response.status_code == 400
    assert "A time budget chooses the step limit up to this one" in response.content.decode()
    assert not TrainingRun.objects.exists()

    response = owner_client.post(url, {"seed": 0, "max_epochs": 0, "time_budget_minutes": 20, "patience": 600})
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert (run.time_budget_minutes, run.max_steps, run.patience) == (20, 1_000, 600)
    detail = owner_client.get(reverse("evaluation:training_run_detail", args=[trainable.name, run.pk])).content
    assert b"at most 20 minutes" in detail and b"The step limit from the size of the training side" in detail


def test_the_api_accepts_a_budget_and_names_the_field_of_a_bad_one(owner_api, trainable, queued_only):
    for bad in (0, 5_000, "soon"):
        response = owner_api.post(f"{BASE}/training-runs/", {"time_budget_minutes": bad}, format="json")
        assert response.status_code == 400 and "time_budget_minutes" in response.json(), response.json()
    response = owner_api.post(f"{BASE}/training-runs/", {"time_budget_minutes": 15}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["time_budget_minutes"] == 15 and body["settings_rule"] == RULE and body["max_steps"] == 1_000
    assert body["budget"] == {} and "from the size of the training side" in body["settings_reason"]

    response = owner_api.post(f"{BASE}/training-runs/", {"same_settings_as": 999}, format="json")
    assert response.status_code == 400
    assert "has no trained model with id 999" in str(response.json()["same_settings_as"])
    response = owner_api.post(f"{BASE}/training-runs/", {"same_settings_as": 1, "seed": 4}, format="json")
    assert response.status_code == 400 and "leave out seed" in str(response.json()["same_settings_as"])


def test_nerlab_train_refuses_a_bad_budget_and_an_unknown_model_to_copy(trainable, queued_only, capsys):
    with pytest.raises(CommandError, match=r"The time budget must be from 1 to 1,440 minutes \(got 0\)"):
        call_command("nerlab_train", trainable.name, "--model", "m", "--budget-minutes", "0")
    with pytest.raises(CommandError, match="has no model named 'nope'"):
        call_command("nerlab_train", trainable.name, "--model", "m", "--same-settings-as", "nope")
    call_command("nerlab_train", trainable.name, "--model", "m", "--budget-minutes", "30")
    assert "The step limit and patience from the size of the training side" in capsys.readouterr().out
    run = TrainingRun.objects.get()
    assert run.time_budget_minutes == 30 and run.max_steps == 1_000


def test_azure_train_takes_the_budget_from_the_setting(db, project, user, settings, queued_only):
    from tests.evaluation.conftest import make_trainable

    make_trainable(project, user)
    settings.NERLAB_AZURE_TRAIN_BUDGET_MINUTES = 7
    _, key = api_key_create(user=user, name="k")
    azure = APIClient(headers={"Ocp-Apim-Subscription-Key": key})
    response = azure.post(
        f"/language/authoring/analyze-text/projects/{project.name}/:train?api-version=2023-04-01",
        {"modelLabel": "m", "evaluationOptions": {"kind": "manual"}},
        format="json",
    )
    assert response.status_code == 202, response.content
    run = AuthoringJob.objects.get(kind=AuthoringJob.Kind.TRAIN).training_run
    assert run.time_budget_minutes == 7 and run.settings_rule == RULE


def _check_with(variable: str, value: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NERLAB_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test", variable: value},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_azure_budget_setting_stops_the_server_with_its_name():
    result = _check_with("NERLAB_AZURE_TRAIN_BUDGET_MINUTES", "-5")
    assert result.returncode != 0
    assert "NERLAB_AZURE_TRAIN_BUDGET_MINUTES must be from 0 (no budget) to 1440 minutes (got -5)" in result.stderr


def test_a_training_process_count_other_than_one_or_two_stops_the_server_with_its_name():
    result = _check_with("NERLAB_TRAINING_PROCESSES", "3")
    assert result.returncode != 0
    assert "NERLAB_TRAINING_PROCESSES must be 1 or 2 (got 3)" in result.stderr


# One second per step whatever its size (injected: no test measures this machine).
ONE_SECOND_PER_STEP = Speed(
    words_per_second=1e9,
    step_overhead_s=1.0,
    eval_words_per_second=1e9,
    prepare_characters_per_second=1e9,
    words_per_character=0.2,
)


@pytest.mark.slow
def test_a_budgeted_run_records_its_steps_and_retraining_reuses_them(
    trainable, user, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "train", partial(train, speed=ONE_SECOND_PER_STEP, clock=lambda: 0.0))
    with django_capture_on_commit_callbacks(execute=True):
        run = services.training_run_start(
            project=trainable, user=user, model_name="budget", seed=3, max_steps=300, time_budget_minutes=2
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    # 120 s less the 15% safety share: 102 one-second steps fit (limit 101), rounded down to tens.
    assert run.budget["max_steps"] == run.trained_steps == 100 and run.max_steps == 300
    assert "100 steps fit in 2 minutes" in run.budget["reason"]
    model = TrainedModel.objects.get(run=run)
    with default_storage.open(f"{model.storage_path}/meta.json") as handle:
        meta = json.load(handle)["nerlab"]
    assert meta["settings"]["max_steps"] == 100 and meta["budget"]["speed"]["step_overhead_s"] == 1.0
    assert meta["settings"]["chosen_by"].startswith("corpus-size-v2: The patience from the size of the training side")

    with django_capture_on_commit_callbacks(execute=True):
        again = services.training_run_start(project=trainable, user=user, model_name="again", same_settings_as=model)
    again.refresh_from_db()
    assert again.status == "succeeded", again.error
    assert (again.max_steps, again.patience, again.seed, again.time_budget_minutes) == (100, run.patience, 3, None)
    assert again.eval_frequency == run.budget["evaluation_frequency"] == meta["settings"]["eval_frequency"]
    assert (again.dropout, again.batch_size_stop) == (run.dropout, run.batch_size_stop)
    assert again.settings_rule == "same-as-model" and "the settings of model budget" in again.settings_reason
    assert again.budget == {} and again.snapshot_id == run.snapshot_id
    assert TrainedModel.objects.get(run=again).evaluation.report == model.evaluation.report


def test_retrain_from_the_model_page_reuses_the_steps_its_budget_chose(owner_client, trainable, monkeypatch):
    from tests.serving.factories import model_row

    monkeypatch.setattr(services, "training_run_dispatch", lambda **kwargs: None)  # queued, never run here
    model = model_row(trainable, "budgeted")
    TrainingRun.objects.filter(pk=model.run_id).update(
        seed=5,
        max_steps=21_000,
        patience=5_400,
        time_budget_minutes=10,
        batch_size_start=100,
        batch_size_stop=1_000,
        budget={
            "max_steps": 12_300,
            "batch_size_start": 2_000,
            "batch_size_stop": 2_000,
            "full_batches": True,
            "evaluation_frequency": 2_400,
        },
    )
    url = reverse("evaluation:trained_model_retrain", args=[trainable.name, model.pk])
    page = owner_client.get(url).content.decode()
    assert "at most 12300 steps (the steps and batch sizes its 10-minute budget chose)" in page

    assert owner_client.post(url).status_code == 302
    run = TrainingRun.objects.exclude(pk=model.run_id).get()
    assert (run.seed, run.max_steps, run.patience, run.time_budget_minutes) == (5, 12_300, 5_400, None)
    # The budget trained on full-size batches from the first step, evaluating every 2,400: so does the retraining.
    assert (run.batch_size_start, run.batch_size_stop, run.eval_frequency) == (2_000, 2_000, 2_400)
    assert run.settings_rule == "same-as-model" and "the settings of model budgeted" in run.settings_reason

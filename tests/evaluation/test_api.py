from __future__ import annotations

import pytest

from evaluation.models import TrainedModel, TrainingRun
from projects.roles import Role
from tests.evaluation.conftest import TINY

BASE = "/api/v1/projects/contracts"


@pytest.fixture
def owner_api(api, user, project):
    api.force_authenticate(user)
    return api


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.mark.slow
def test_train_progress_and_evaluation(owner_api, trainable, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(f"{BASE}/training-runs/", {**TINY, "model_name": "api-model"}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued" and response.json()["snapshot"]["test_documents"] == 4

    run = owner_api.get(f"{BASE}/training-runs/{run_id}/").json()
    assert run["status"] == "succeeded" and run["percent"] == 100.0 and run["model_id"]
    listed = owner_api.get(f"{BASE}/training-runs/").json()
    assert listed["count"] == 1

    models = owner_api.get(f"{BASE}/models/").json()["results"]
    assert [m["name"] for m in models] == ["api-model"]
    model_id = models[0]["id"]
    native = owner_api.get(f"{BASE}/models/{model_id}/evaluation/").json()
    assert native["format"] == "native" and native["evaluation"]["documents"] == 4
    assert {"micro", "macro", "types", "weighted_matrix", "count_matrix", "micro_f1_interval"} <= set(
        native["evaluation"]
    )
    azure = owner_api.get(f"{BASE}/models/{model_id}/evaluation/?format=azure").json()["evaluation"]
    assert azure["microF1"] == pytest.approx(native["evaluation"]["micro"]["f1"])
    assert set(azure["entities"]) <= {"PERSON", "CITY"} and "confusionMatrix" in azure
    assert owner_api.get(f"{BASE}/models/{model_id}/evaluation/?format=xml").status_code == 400

    assert owner_api.delete(f"{BASE}/models/{model_id}/").status_code == 204
    assert not TrainedModel.objects.exists()


def test_start_errors_are_readable(owner_api, project):
    response = owner_api.post(f"{BASE}/training-runs/", {"max_steps": 30}, format="json")
    assert response.status_code == 400
    assert "at least 10 documents" in response.json()["non_field_errors"][0]
    response = owner_api.post(f"{BASE}/training-runs/", {"max_steps": 0, "max_epochs": 0}, format="json")
    assert response.status_code == 400


def test_cancel_and_roles(api, owner_api, trainable, member_of, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        run_id = owner_api.post(f"{BASE}/training-runs/", TINY, format="json").json()["id"]
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(member_of(trainable, Role.ANNOTATOR))
    assert api.post(f"{BASE}/training-runs/{run_id}/cancel/").status_code == 403
    assert api.get(f"{BASE}/training-runs/{run_id}/").status_code == 200
    response = owner_api.post(f"{BASE}/training-runs/{run_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = owner_api.post(f"{BASE}/training-runs/{run_id}/cancel/")
    assert again.status_code == 400 and "already cancelled" in again.json()["non_field_errors"][0]
    assert TrainingRun.objects.get().status == "cancelled"

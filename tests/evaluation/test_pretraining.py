"""Pretraining runs: the CNN pretrained on the project's text in the background, its weights the next training's
starting point; recovered when its worker dies; kept while a training started from it; pages and API."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from evaluation import services as evaluation_services
from evaluation.models import PretrainingRun, TrainingRun
from evaluation.pretraining import services
from evaluation.selectors import trained_model_local_path
from labeling.selectors import documents_labeled
from labeling.services import documents_create
from ner.representation import RepresentationChoice
from ner.sizing import settings_for_corpus
from ner.types import LabeledDoc
from projects.exceptions import Conflict
from projects.roles import Role
from projects.services import project_delete
from tests.evaluation.conftest import TINY
from tests.projects.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.slow

BASE = "/api/v1/projects/contracts"
UNTAGGED = [f"An untagged note number {index} about the weekly meeting in the office." for index in range(6)]


@pytest.fixture
def with_untagged(trainable, user):
    result = documents_create(project=trainable, user=user, docs=[LabeledDoc(text=text) for text in UNTAGGED])
    assert result.ok, result.errors
    return trainable


def _pretrained(project, user, capture, max_steps: int = 2) -> PretrainingRun:
    with capture(execute=True):
        run = services.pretraining_run_start(project=project, user=user, max_steps=max_steps)
    run.refresh_from_db()
    return run


@pytest.fixture
def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def test_pretraining_reads_the_text_outside_the_test_side_and_stores_weights(
    with_untagged, user, django_capture_on_commit_callbacks
):
    run = _pretrained(with_untagged, user, django_capture_on_commit_callbacks)
    assert run.status == PretrainingRun.Status.SUCCEEDED, run.error
    # 16 tagged sentences (4 of them on the test side) and 6 untagged notes (on either side, by the project's split
    # rule): the test side is left out.
    sides = [doc.split for doc in documents_labeled(project=with_untagged).values()]
    assert sides.count("test") > 4
    assert (run.document_count, run.step, run.percent, run.attempts) == (sides.count("train"), 2, 100.0, 1)
    assert run.characters > 0 and run.words > 0 and run.loss and run.loss > 0
    with default_storage.open(f"{run.storage_path}/tok2vec.bin", "rb") as weights:
        assert hashlib.sha256(weights.read()).hexdigest() == run.weights_sha256
    # A redelivered message for a finished run does nothing.
    assert services.pretraining_run_execute(run_id=run.pk) == "skipped"


def test_a_training_from_a_pretraining_starts_from_its_weights_and_says_so(
    with_untagged, user, django_capture_on_commit_callbacks
):
    pretraining = _pretrained(with_untagged, user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        run = evaluation_services.training_run_start(project=with_untagged, user=user, pretraining=pretraining, **TINY)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.pretraining == pretraining and run.representation == "cnn"
    assert run.representation_reason == f"The CNN, since it starts from the weights of pretraining {pretraining.pk}."
    meta = json.loads((trained_model_local_path(model=run.trained_model) / "meta.json").read_text())
    assert meta["nerlab"]["representation"]["pretrained_sha256"] == pretraining.weights_sha256
    # Retraining with the same settings starts from the same weights.
    with django_capture_on_commit_callbacks(execute=False):
        again = evaluation_services.training_run_retrain(model=run.trained_model, user=user)
    assert again.pretraining == pretraining


def test_a_training_refuses_a_pretraining_it_cannot_use(
    with_untagged, user, monkeypatch, django_capture_on_commit_callbacks
):
    queued = PretrainingRun.objects.create(project=with_untagged, language="en")
    with pytest.raises(ValidationError, match="has not finished"):
        evaluation_services.training_run_start(project=with_untagged, user=user, pretraining=queued, **TINY)
    other = ProjectFactory(name="elsewhere")
    foreign = PretrainingRun.objects.create(project=other, language="en", status=PretrainingRun.Status.SUCCEEDED)
    with pytest.raises(ValidationError, match="belongs to another project"):
        evaluation_services.training_run_start(project=with_untagged, user=user, pretraining=foreign, **TINY)
    finished = PretrainingRun.objects.create(
        project=with_untagged, language="en", status=PretrainingRun.Status.SUCCEEDED
    )
    monkeypatch.setattr("evaluation.services.encoder_for", lambda name: None)  # "tiny" is offered
    with pytest.raises(ValidationError, match="Pretrained weights are for the CNN; tiny is a pretrained encoder"):
        evaluation_services.training_run_start(
            project=with_untagged, user=user, pretraining=finished, representation="tiny", **TINY
        )
    assert not TrainingRun.objects.exists()


def test_one_pretraining_at_a_time_and_a_bounded_step_limit(with_untagged, user, monkeypatch):
    monkeypatch.setattr("evaluation.tasks.pretraining_run_task.delay", lambda run_id: None)
    services.pretraining_run_start(project=with_untagged, user=user, max_steps=2)
    with pytest.raises(ValidationError, match="already queued or running"):
        services.pretraining_run_start(project=with_untagged, user=user, max_steps=2)
    with pytest.raises(ValidationError, match="step limit must be from 1"):
        services.pretraining_run_start(project=ProjectFactory(name="other"), user=user, max_steps=0)


def test_a_pretraining_whose_worker_died_is_queued_again_then_fails_after_its_attempts(
    with_untagged, user, monkeypatch, settings, django_capture_on_commit_callbacks
):
    sent: list[int] = []
    monkeypatch.setattr("evaluation.tasks.pretraining_run_task.delay", sent.append)
    settings.NERLAB_JOB_ATTEMPTS = 2
    lost = PretrainingRun.objects.create(
        project=with_untagged,
        language="en",
        max_steps=2,
        status=PretrainingRun.Status.RUNNING,
        attempts=1,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    assert services.pretraining_run_execute(run_id=lost.pk) == "skipped"  # a duplicate message: another has it
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pretraining_runs_recover(timezone.now() - timedelta(minutes=2)) == 1
    lost.refresh_from_db()
    assert lost.status == PretrainingRun.Status.QUEUED and sent == [lost.pk]
    # The second worker dies too: after NERLAB_JOB_ATTEMPTS starts the run fails, saying why.
    PretrainingRun.objects.filter(pk=lost.pk).update(
        status=PretrainingRun.Status.RUNNING, attempts=2, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pretraining_runs_recover(timezone.now() - timedelta(minutes=2)) == 1
    lost.refresh_from_db()
    assert lost.status == PretrainingRun.Status.FAILED and "stopped without finishing it (2 times" in lost.error
    assert sent == [lost.pk]


def test_a_requeued_pretraining_runs_to_the_end(with_untagged, user, django_capture_on_commit_callbacks):
    run = PretrainingRun.objects.create(
        project=with_untagged, language="en", max_steps=2, status=PretrainingRun.Status.QUEUED, attempts=1
    )
    assert services.pretraining_run_execute(run_id=run.pk) == PretrainingRun.Status.SUCCEEDED
    run.refresh_from_db()
    assert run.attempts == 2 and run.weights_sha256


def test_a_pretraining_a_training_started_from_is_not_deleted(
    with_untagged, user, api, owner_client, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    pretraining = _pretrained(with_untagged, user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        run = evaluation_services.training_run_start(project=with_untagged, user=user, pretraining=pretraining, **TINY)
    with pytest.raises(Conflict, match=f"starting point of the training of {run.model_name}"):
        services.pretraining_run_delete(run=pretraining)
    response = api.delete(f"{BASE}/pretraining-runs/{pretraining.pk}/")
    assert response.status_code == 409 and run.model_name in response.json()["detail"]
    page = owner_client.post(
        reverse("pretraining:run_delete", args=[with_untagged.name, pretraining.pk]), follow=True
    ).content.decode()
    assert "starting point of the training" in page
    assert PretrainingRun.objects.filter(pk=pretraining.pk).exists()
    # Once nothing starts from it, it goes, with its files; the project goes with everything in it.
    TrainingRun.objects.filter(pk=run.pk).update(pretraining=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{BASE}/pretraining-runs/{pretraining.pk}/").status_code == 204
    assert not default_storage.exists(f"{pretraining.storage_path}/tok2vec.bin")
    again = PretrainingRun.objects.create(project=with_untagged, language="en", status=PretrainingRun.Status.SUCCEEDED)
    TrainingRun.objects.filter(pk=run.pk).update(pretraining=again)
    project_delete(project=with_untagged)
    assert not PretrainingRun.objects.exists() and not TrainingRun.objects.exists()


def test_pages_start_and_watch_a_pretraining_and_the_training_page_offers_it(
    owner_client, with_untagged, django_capture_on_commit_callbacks
):
    training_page = reverse("evaluation:training_run_list", args=[with_untagged.name])
    url = reverse("pretraining:run_list", args=[with_untagged.name])
    before = owner_client.get(training_page).content.decode()
    assert 'name="pretraining"' not in before and f'href="{url}"' in before
    page = owner_client.get(url).content.decode()
    assert 'id="pretraining-form"' in page and 'id="pretraining-measured"' in page
    assert owner_client.post(url, {"max_steps": 0, "seed": 0}).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"max_steps": 2, "seed": 0})
    run = PretrainingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("pretraining:run_detail", args=[with_untagged.name, run.pk])
    detail = owner_client.get(response["Location"]).content.decode()
    assert "Succeeded" in detail and run.weights_sha256 in detail
    row = owner_client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert row.lstrip().startswith("<tr") and "<html" not in row

    training = owner_client.get(training_page).content.decode()
    # The newest finished pretraining is chosen by default when the CNN would be trained (no encoder here).
    assert "Start from pretrained weights" in training
    assert f'<option value="{run.pk}" selected>Pretraining {run.pk}' in training
    start = reverse("evaluation:training_run_start", args=[with_untagged.name])
    with django_capture_on_commit_callbacks(execute=False):
        started = owner_client.post(start, {"seed": 0, "max_epochs": 0, "max_steps": 30, "pretraining": run.pk})
    assert started.status_code == 302 and TrainingRun.objects.get().pretraining == run
    training_run = TrainingRun.objects.get()
    shown = owner_client.get(reverse("evaluation:training_run_detail", args=[with_untagged.name, training_run.pk]))
    assert "CNN, starting from the weights of" in shown.content.decode()


def test_a_viewer_sees_pretraining_but_cannot_start_one(client, with_untagged, member_of):
    client.force_login(member_of(with_untagged, Role.VIEWER))
    url = reverse("pretraining:run_list", args=[with_untagged.name])
    page = client.get(url)
    assert page.status_code == 200 and 'id="pretraining-form"' not in page.content.decode()
    assert client.post(url, {"max_steps": 2, "seed": 0}).status_code == 403


def test_api_starts_a_pretraining_and_a_training_from_it(
    api, with_untagged, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}/pretraining-runs/", {"max_steps": 2}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    detail = api.get(f"{BASE}/pretraining-runs/{run_id}/").json()
    assert detail["status"] == "succeeded" and len(detail["weights_sha256"]) == 64
    assert api.get(f"{BASE}/pretraining-runs/").json()["results"][0]["id"] == run_id

    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda pk: None)
    missing = api.post(f"{BASE}/training-runs/", {**TINY, "pretraining": run_id + 99}, format="json")
    assert missing.status_code == 400 and "no pretraining run with id" in missing.json()["pretraining"][0]
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"{BASE}/training-runs/", {**TINY, "pretraining": run_id}, format="json")
    assert started.status_code == 202 and started.json()["pretraining"] == run_id
    assert started.json()["representation"] == "cnn"


def test_a_foreign_pretraining_is_404(api, with_untagged, owner_client):
    other = ProjectFactory(name="elsewhere")
    MembershipFactory(project=other, user=api.handler._force_user, role=Role.OWNER)
    foreign = PretrainingRun.objects.create(project=other, language="en", status=PretrainingRun.Status.SUCCEEDED)
    assert api.get(f"{BASE}/pretraining-runs/{foreign.pk}/").status_code == 404
    assert owner_client.get(reverse("pretraining:run_detail", args=[with_untagged.name, foreign.pk])).status_code == 404


def test_the_training_page_leaves_pretrained_weights_unchosen_when_automatic_picks_an_encoder(
    owner_client, with_untagged, monkeypatch
):
    finished = PretrainingRun.objects.create(
        project=with_untagged, language="en", status=PretrainingRun.Status.SUCCEEDED, finished_at=timezone.now()
    )
    sized = settings_for_corpus(characters=5000)
    encoder = RepresentationChoice(representation="tiny", rule="test", reason="Pretrained encoder tiny: a test.")
    monkeypatch.setattr("evaluation.views.services.training_suggestions", lambda project: (sized, encoder))
    page = owner_client.get(reverse("evaluation:training_run_list", args=[with_untagged.name])).content.decode()
    assert f'<option value="{finished.pk}">Pretraining {finished.pk}' in page
    assert '<option value="" selected>No: random weights</option>' in page

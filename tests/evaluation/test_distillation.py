"""Teacher → student from the app (issue 11, item 5): the Training page, the API and nerlab_train take a teacher (a
model of the project trained on an encoder), the worker has it label the untagged documents before the CNN trains on
gold + its labels, the pages say which teacher a model was distilled from, and deleting a teacher never fails."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation import services
from evaluation.models import TrainedModel, TrainingRun
from labeling.services import documents_create
from ner.types import LabeledDoc
from projects.exceptions import Conflict
from tests.evaluation.conftest import TINY
from tests.evaluation.factories import TrainedModelFactory
from tests.ner.synthetic_docs import CITIES, PEOPLE
from tests.ner.tiny_encoder import write_tiny_bert

BASE = "/api/v1/projects/contracts"


@pytest.fixture
def queued_only(monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)


@pytest.fixture
def tiny_encoder(tmp_path, settings):
    folder = write_tiny_bert(tmp_path / "tiny-bert")
    settings.NERLAB_ENCODERS = {"tiny": str(folder)}
    return folder


def _untagged(project, user, count: int = 6) -> None:
    """Untagged documents on the training side, and one the user put in the test set."""
    docs = [
        LabeledDoc(
            f"Last week {PEOPLE[i % 6]} travelled to {CITIES[(i + 2) % 6]} on business, trip {i}.", split="train"
        )
        for i in range(count)
    ]
    docs.append(LabeledDoc("Next year Eve Black goes to Oslo, a test trip.", split="test"))
    result = documents_create(project=project, user=user, docs=docs)
    assert result.ok, result.errors


def _encoder_model(project, name: str = "teacher") -> TrainedModel:
    return TrainedModelFactory(project=project, name=name, run__representation="tiny")


def test_the_training_page_offers_the_projects_encoder_models_as_teachers(
    owner_client, trainable, tiny_encoder, queued_only
):
    teacher = _encoder_model(trainable)
    cnn = TrainedModelFactory(project=trainable, name="fast")
    url = reverse("evaluation:training_run_list", args=[trainable.name])
    page = owner_client.get(url).content.decode()
    assert 'name="teacher"' in page and f'<option value="{teacher.pk}">teacher (tiny)</option>' in page
    assert f'<option value="{cnn.pk}">' not in page  # a CNN teaches nothing its student could not learn alone

    start = reverse("evaluation:training_run_start", args=[trainable.name])
    response = owner_client.post(start, {"seed": 0, "max_epochs": 0, "teacher": cnn.pk})
    assert response.status_code == 400 and not TrainingRun.objects.filter(status="queued").exists()
    response = owner_client.post(start, {"seed": 0, "max_epochs": 0, "teacher": teacher.pk, "model_name": "student"})
    assert response.status_code == 302
    run = TrainingRun.objects.get(model_name="student")
    assert (run.teacher, run.teacher_name, run.silver_threshold, run.representation) == (teacher, "teacher", 0.5, "cnn")
    assert run.representation_reason.startswith("The CNN: a student of model teacher")
    detail = owner_client.get(reverse("evaluation:training_run_detail", args=[trainable.name, run.pk])).content
    assert b'id="run-teacher"' in detail and b"entities below confidence 0.5 left unknown" in detail


def test_a_student_is_sized_on_gold_and_untagged_text(trainable, user, tiny_encoder, queued_only, monkeypatch):
    teacher = _encoder_model(trainable)
    _untagged(trainable, user, count=3)
    sized: list[int] = []
    real = services.settings_for_corpus
    monkeypatch.setattr(
        services, "settings_for_corpus", lambda *, characters: sized.append(characters) or real(characters=characters)
    )
    services.training_run_start(project=trainable, user=user, model_name="a", representation="cnn")
    services.training_run_start(project=trainable, user=user, model_name="b", teacher=teacher)
    untagged_training_side = sum(
        len(f"Last week {PEOPLE[i % 6]} travelled to {CITIES[(i + 2) % 6]} on business, trip {i}.") for i in range(3)
    )
    assert sized == [sized[0], sized[0] + untagged_training_side]


def test_the_service_refuses_a_teacher_that_cannot_teach(trainable, user, tiny_encoder, queued_only, project_factory):
    cnn = TrainedModelFactory(project=trainable, name="fast")
    with pytest.raises(ValidationError, match="is a CNN, as fast as its student"):
        services.training_run_start(project=trainable, user=user, teacher=cnn)
    elsewhere = _encoder_model(project_factory(name="other"))
    with pytest.raises(ValidationError, match="must be a model of this project"):
        services.training_run_start(project=trainable, user=user, teacher=elsewhere)
    teacher = _encoder_model(trainable)
    with pytest.raises(ValidationError, match="A student is the fast CNN"):
        services.training_run_start(project=trainable, user=user, teacher=teacher, representation="tiny")
    with pytest.raises(ValidationError, match="needs a teacher model"):
        services.training_run_start(project=trainable, user=user, silver_threshold=0.3)
    assert not TrainingRun.objects.filter(status="queued").exists()


@pytest.fixture
def project_factory():
    from tests.projects.factories import ProjectFactory

    return ProjectFactory


def test_the_api_takes_a_teacher_by_id_and_refuses_others(user, trainable, tiny_encoder, queued_only):
    teacher = _encoder_model(trainable)
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(f"{BASE}/training-runs/", {"teacher": 999_999}, format="json")
    assert response.status_code == 400 and response.json()["teacher"] == [
        "contracts has no trained model with id 999999."
    ]
    response = api.post(f"{BASE}/training-runs/", {"silver_threshold": 0.2}, format="json")
    assert response.status_code == 400 and "needs a teacher model" in response.json()["silver_threshold"][0]
    response = api.post(f"{BASE}/training-runs/", {"teacher": teacher.pk, "silver_threshold": 0.8}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["teacher"], body["teacher_name"], body["silver_threshold"]) == (teacher.pk, "teacher", 0.8)
    assert (body["representation"], body["untagged_documents"], body["silver_spans"]) == ("cnn", 0, 0)


def test_nerlab_train_takes_a_teacher_by_name(trainable, user, tiny_encoder, queued_only):
    _encoder_model(trainable)
    with pytest.raises(CommandError, match="has no model named 'nobody'"):
        call_command("nerlab_train", trainable.name, "--model", "s", "--teacher", "nobody")
    call_command("nerlab_train", trainable.name, "--model", "s", "--teacher", "teacher", "--silver-threshold", "0.7")
    run = TrainingRun.objects.get(model_name="s")
    assert (run.teacher_name, run.silver_threshold) == ("teacher", 0.7)


def test_a_teacher_a_queued_student_needs_cannot_be_deleted(trainable, user, tiny_encoder, queued_only):
    teacher = _encoder_model(trainable)
    services.training_run_start(project=trainable, user=user, model_name="student", teacher=teacher)
    with pytest.raises(Conflict, match="is the teacher of the training of student, which has not finished"):
        services.trained_model_delete(model=teacher)
    assert TrainedModel.objects.filter(pk=teacher.pk).exists()


def test_the_run_row_shows_the_teachers_progress_while_it_labels(
    owner_client, trainable, user, tiny_encoder, queued_only
):
    teacher = _encoder_model(trainable)
    run = services.training_run_start(project=trainable, user=user, model_name="student", teacher=teacher)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING,
        phase=TrainingRun.Phase.LABELLING,
        untagged_documents=300,
        labelled_documents=128,
    )
    row = owner_client.get(
        reverse("evaluation:training_run_detail", args=[trainable.name, run.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "Teacher labelling untagged documents" in row and '<span class="teacher-progress">128 of 300</span>' in row
    assert "student of teacher" in row


def test_a_student_whose_teacher_was_deleted_before_it_ran_fails_saying_so(trainable, user, tiny_encoder, queued_only):
    teacher = _encoder_model(trainable)
    run = services.training_run_start(project=trainable, user=user, model_name="orphan", teacher=teacher, **TINY)
    TrainedModel.objects.filter(pk=teacher.pk).delete()  # not through the service, which would refuse
    services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "teacher model teacher was deleted before this run could use it" in run.error


@pytest.mark.slow
def test_a_student_learns_from_its_teachers_labels_and_outlives_it(
    owner_client, trainable, user, tiny_encoder, django_capture_on_commit_callbacks
):
    _untagged(trainable, user)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.training_run_start(
            project=trainable, user=user, model_name="teacher", representation="tiny", **TINY
        )
    first.refresh_from_db()
    assert first.status == "succeeded", first.error
    teacher = first.trained_model
    with django_capture_on_commit_callbacks(execute=True):
        run = services.training_run_start(
            project=trainable, user=user, model_name="student", teacher=teacher, silver_threshold=0.0, **TINY
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    # Six untagged training-side documents; the one the user put in the test set is never labelled.
    assert (run.untagged_documents, run.labelled_documents) == (6, 6)
    student = run.trained_model
    with default_storage.open(f"{student.storage_path}/meta.json") as handle:
        meta = json.load(handle)["nerlab"]
    assert meta["representation"] == {"kind": "cnn"}
    assert meta["silver"]["teacher"] == "teacher" and meta["silver"]["documents"] == 6
    assert meta["silver"]["threshold"] == 0.0 and meta["silver"]["spans"] == run.silver_spans
    assert meta["silver"]["excluded_test"] == 1 and len(meta["silver"]["teacher_fingerprint"]) == 64
    assert meta["dev_documents"] + meta["train_documents"] == 12  # the gold training side; silver is extra
    page = owner_client.get(reverse("evaluation:trained_model_detail", args=[trainable.name, student.pk])).content
    assert b'id="distilled-from"' in page and b">teacher</a>: the CNN also learnt its labels of 6 untagged" in page

    # The student outlives its teacher: deleting the teacher keeps it, and its page still names the teacher.
    response = owner_client.post(reverse("evaluation:trained_model_delete", args=[trainable.name, teacher.pk]))
    assert response.status_code in (302, 303)
    run.refresh_from_db()
    assert (run.teacher, run.teacher_name) == (None, "teacher")
    page = owner_client.get(reverse("evaluation:trained_model_detail", args=[trainable.name, student.pk])).content
    assert b'teacher <span class="muted small">(deleted since)</span>' in page

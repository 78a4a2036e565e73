from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from evaluation import selectors, services
from evaluation.models import DatasetSnapshot, Evaluation, Prediction, TrainedModel, TrainingRun
from labeling.models import Document, Span
from labeling.services import document_set_status
from ner import limits
from tests.evaluation.conftest import TINY, make_trainable
from tests.evaluation.factories import TrainedModelFactory


def start(project, user, **settings):
    return services.training_run_start(project=project, user=user, **{**TINY, **settings})


def test_snapshot_freezes_documents_and_hash_is_stable(trainable, user):
    first = services.snapshot_create(project=trainable, user=user)
    assert first.document_count == 16
    assert first.test_count == 4 and first.train_count == 12
    assert first.span_counts["train"] == {"CITY": 12, "PERSON": 12}
    docs = selectors.snapshot_documents(snapshot=first)
    assert default_storage.exists(first.file)
    assert first.file.startswith(f"projects/{trainable.pk}/snapshots/")

    # The same data gives the same snapshot back; a changed tag makes a new one, and the old one is untouched.
    assert services.snapshot_create(project=trainable, user=user).pk == first.pk
    Span.objects.filter(document__project=trainable).first().delete()
    second = services.snapshot_create(project=trainable, user=user)
    assert second.pk != first.pk and second.content_hash != first.content_hash
    first.refresh_from_db()
    assert selectors.snapshot_documents(snapshot=first) == docs
    assert first.span_counts["train"] == {"CITY": 12, "PERSON": 12}


def test_snapshot_scope_tagged_only(trainable, user):
    document = Document.objects.filter(project=trainable, split="train").first()
    document_set_status(document=document, status="in_progress", user=user)
    assert services.snapshot_create(project=trainable).document_count == 15
    trainable.training_scope = "with_spans"
    trainable.save()
    assert services.snapshot_create(project=trainable).document_count == 16


def test_start_refuses_too_few_documents(project, user):
    make_trainable(project, user, count=9)
    with pytest.raises(ValidationError, match="at least 10 documents marked tagged; contracts has 9"):
        start(project, user)
    assert not TrainingRun.objects.exists()


def test_start_refuses_empty_test_set(project, user):
    make_trainable(project, user)
    Document.objects.filter(project=project).update(split="train")
    with pytest.raises(ValidationError, match="test set is empty"):
        start(project, user)


def test_start_refuses_bad_model_name_and_no_limit(trainable, user):
    with pytest.raises(ValidationError, match="no spaces"):
        start(trainable, user, model_name="my model")
    with pytest.raises(ValidationError, match="never end"):
        start(trainable, user, max_steps=0, max_epochs=0)


@pytest.mark.slow
def test_training_run_end_to_end(trainable, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start(trainable, user, model_name="first")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.percent == 100.0 and run.step > 0 and run.finished_at and run.started_at
    model = TrainedModel.objects.get(run=run)
    assert model.name == "first" and model.snapshot_documents == 16
    assert model.storage_path == f"projects/{trainable.pk}/models/{model.pk}"
    assert default_storage.exists(f"{model.storage_path}/meta.json")
    evaluation = Evaluation.objects.get(model=model)
    assert evaluation.report["documents"] == 4
    assert model.micro_f1 == evaluation.report["micro"]["f1"]
    assert Prediction.objects.filter(evaluation=evaluation).count() == 4
    prediction = Prediction.objects.filter(evaluation=evaluation).first()
    assert prediction.document is not None
    assert all(0.0 <= span["confidence"] <= 1.0 for span in prediction.spans)
    # A redelivered message for the finished run does nothing.
    assert services.training_run_execute(run_id=run.pk) == "finished"
    assert TrainedModel.objects.count() == 1


@pytest.mark.slow
def test_retraining_same_snapshot_and_seed_is_reproducible(trainable, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        a = start(trainable, user, model_name="a")
    with django_capture_on_commit_callbacks(execute=True):
        b = start(trainable, user, model_name="b")
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.snapshot_id == b.snapshot_id
    model_a, model_b = TrainedModel.objects.get(run=a), TrainedModel.objects.get(run=b)
    assert model_a.evaluation.report == model_b.evaluation.report
    spans_a = list(Prediction.objects.filter(evaluation__model=model_a).values_list("spans", flat=True))
    spans_b = list(Prediction.objects.filter(evaluation__model=model_b).values_list("spans", flat=True))
    assert spans_a == spans_b


def test_one_training_at_a_time(trainable, user, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: sent.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        first = start(trainable, user, model_name="one")
    with django_capture_on_commit_callbacks(execute=True):
        second = start(trainable, user, model_name="two")
    assert sent == [first.pk]  # the second waits: the first was already sent
    # The first is claimed and running; a message for the second (say a duplicate) must leave it queued.
    assert services.training_run_claim(run_id=first.pk).outcome == "claimed"
    assert services.training_run_claim(run_id=second.pk).outcome == "waiting"
    second.refresh_from_db()
    assert second.status == "queued"
    # When the first finishes, the second is sent.
    TrainingRun.objects.filter(pk=first.pk).update(status="succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_dispatch(project_id=trainable.pk)
    assert sent == [first.pk, second.pk]


def test_a_run_that_ends_after_its_project_was_deleted_sends_nothing(trainable, user, monkeypatch):
    # A worker's last step after a run is to send the project's next one; the project may have gone meanwhile.
    sent: list[int] = []
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: sent.append(run_id))
    project_id = trainable.pk
    trainable.delete()

    assert services.training_run_dispatch(project_id=project_id) is None
    assert sent == []


def test_running_run_with_live_worker_is_not_started_twice(trainable, user, monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    run = start(trainable, user)
    assert services.training_run_claim(run_id=run.pk).outcome == "claimed"
    assert services.training_run_claim(run_id=run.pk).outcome == "busy"


def test_running_run_whose_worker_died_is_queued_again_and_restarts(
    trainable, user, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    sent = []
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", sent.append)
    run = start(trainable, user)
    assert services.training_run_claim(run_id=run.pk).outcome == "claimed"
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1), percent=55, step=17)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.training_runs_recover(timezone.now() - timedelta(minutes=2)) == 1
    run.refresh_from_db()
    assert (run.status, run.dispatched_at is not None) == ("queued", True)
    assert sent == [run.pk]
    claim = services.training_run_claim(run_id=run.pk)
    assert claim.outcome == "claimed"
    run.refresh_from_db()
    assert run.attempts == 2 and run.percent == 0 and run.step == 0


def test_cancel_queued_run(trainable, user, monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    run = start(trainable, user)
    services.training_run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at
    assert services.training_run_execute(run_id=run.pk) == "finished"
    with pytest.raises(ValidationError, match="already cancelled"):
        services.training_run_cancel(run=run)


@pytest.mark.slow
def test_cancel_running_run_leaves_no_model(trainable, user, monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    run = start(trainable, user, max_steps=5000)
    calls = {"n": 0}
    original = services._RunReporter.progress

    def progress(self, progress):
        original(self, progress)
        calls["n"] += 1
        TrainingRun.objects.filter(pk=self.run_id).update(cancel_requested=True)

    monkeypatch.setattr(services._RunReporter, "progress", progress)
    monkeypatch.setattr(services, "CANCEL_CHECK_INTERVAL_S", 0.0)
    before = _model_folders(trainable)
    services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.step < 5000
    assert not TrainedModel.objects.exists()
    assert _model_folders(trainable) == before


def _model_folders(project):
    try:
        return set(default_storage.listdir(f"projects/{project.pk}/models")[0])
    except FileNotFoundError:
        return set()


def test_failure_is_recorded_on_the_run(trainable, user, monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    run = start(trainable, user)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "train", broken)
    services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "disk full" in run.error
    assert not TrainedModel.objects.exists()


def test_model_limit(trainable, user, monkeypatch):
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", lambda run_id: None)
    for index in range(limits.TRAINED_MODELS_MAX):
        run = start(trainable, user, model_name=f"m{index}")
        TrainingRun.objects.filter(pk=run.pk).update(status="cancelled")
        TrainedModelFactory(project=trainable, run=run, name=f"m{index}", storage_path="", snapshot_documents=16)
    with pytest.raises(ValidationError, match="at most 10 trained models"):
        start(trainable, user, model_name="eleventh")
    with pytest.raises(ValidationError, match="already has a model named m3"):
        start(trainable, user, model_name="m3")
    services.trained_model_delete(model=TrainedModel.objects.get(name="m0"))
    assert start(trainable, user, model_name="eleventh").status == "queued"


def test_snapshot_is_not_dispatchable_without_tests(db):
    assert DatasetSnapshot.objects.count() == 0

"""Active learning in the app: a new model re-scores the documents still to tag (evaluation.active_learning)."""

from __future__ import annotations

import pytest

from evaluation import active_learning, services
from evaluation.models import TrainedModel, TrainingRun
from labeling.models import Document
from ner.active import score_documents
from ner.predict import load
from tests.evaluation.conftest import TINY, make_trainable
from tests.labeling.factories import DocumentFactory
from tests.ner.synthetic_docs import train_quick
from tests.serving.factories import model_row

UNSURE = "Gamma Delta visited Omega Town."
FAMILIAR = "Yesterday Bob Jones drove to Madrid for meeting number 4."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return train_quick(tmp_path_factory.mktemp("active-learning") / "model").model_path


@pytest.fixture
def documents(project):
    """Three documents still to tag (one in progress) and one tagged, of the project."""
    return {
        "unsure": DocumentFactory(project=project, text=UNSURE),
        "familiar": DocumentFactory(project=project, text=FAMILIAR, status=Document.Status.IN_PROGRESS),
        "nothing": DocumentFactory(project=project, text="Nothing to see here."),
        "tagged": DocumentFactory(project=project, text="Alice Smith flew to Oslo.", status=Document.Status.TAGGED),
    }


def scores(project):
    return {
        document.text: (document.uncertainty, document.uncertainty_model)
        for document in Document.objects.filter(project=project)
    }


def test_refresh_scores_the_documents_still_to_tag(project, documents, model_dir):
    Document.objects.filter(pk=documents["tagged"].pk).update(uncertainty=0.5, uncertainty_model="old")
    model = model_row(project, "first", model_dir)
    assert active_learning.uncertainty_refresh(model_id=model.pk) == "scored"

    expected = score_documents(load(model_dir), [UNSURE, FAMILIAR, "Nothing to see here."])
    found = scores(project)
    assert found[UNSURE] == (pytest.approx(expected[0].uncertainty), "first")
    assert found[FAMILIAR] == (pytest.approx(expected[1].uncertainty), "first")  # in progress counts as open
    assert found["Nothing to see here."] == (pytest.approx(expected[2].uncertainty), "first")
    assert found[UNSURE][0] > found[FAMILIAR][0]
    # A tagged document needs no score, and an old model's one is cleared: all scores come from one model.
    assert found["Alice Smith flew to Oslo."] == (None, "")


def test_refresh_twice_gives_the_same_scores_and_is_not_an_edit(project, documents, model_dir):
    model = model_row(project, "first", model_dir)
    active_learning.uncertainty_refresh(model_id=model.pk)
    before = scores(project)
    edited = dict(Document.objects.filter(project=project).values_list("pk", "updated_at"))
    assert active_learning.uncertainty_refresh(model_id=model.pk) == "scored"
    assert scores(project) == before
    assert dict(Document.objects.filter(project=project).values_list("pk", "updated_at")) == edited


def test_refresh_works_in_batches(project, documents, model_dir, monkeypatch):
    monkeypatch.setattr(active_learning, "REFRESH_BATCH_DOCUMENTS", 1)
    for index in range(3):
        DocumentFactory(project=project, text=f"Yesterday Eve Black moved to Oslo for meeting number {index + 40}.")
    model = model_row(project, "first", model_dir)
    assert active_learning.uncertainty_refresh(model_id=model.pk) == "scored"
    open_documents = Document.objects.filter(project=project).exclude(status=Document.Status.TAGGED)
    assert open_documents.count() == 6
    assert set(open_documents.values_list("uncertainty_model", flat=True)) == {"first"}
    assert not open_documents.filter(uncertainty=None).exists()


def test_an_older_models_late_refresh_does_not_overwrite_a_newer_ones(project, documents, model_dir):
    older = model_row(project, "older", model_dir)
    newer = model_row(project, "newer", model_dir)
    assert active_learning.uncertainty_refresh(model_id=newer.pk) == "scored"
    before = scores(project)
    assert active_learning.uncertainty_refresh(model_id=older.pk) == "superseded"
    assert scores(project) == before
    assert {model for _, model in before.values() if model} == {"newer"}


def test_refresh_of_a_deleted_model_does_nothing(project, documents):
    assert active_learning.uncertainty_refresh(model_id=987654) == "missing"
    assert all(score == (None, "") for score in scores(project).values())


def test_another_projects_documents_are_left_alone(project, documents, model_dir):
    foreign = DocumentFactory(text=UNSURE)
    model = model_row(project, "first", model_dir)
    active_learning.uncertainty_refresh(model_id=model.pk)
    foreign.refresh_from_db()
    assert foreign.uncertainty is None and foreign.uncertainty_model == ""


# --- after a training run -----------------------------------------------------------------------------------------


def start(project, user, **settings):
    return services.training_run_start(project=project, user=user, **{**TINY, **settings})


def test_a_successful_training_queues_the_refresh(project, user, django_capture_on_commit_callbacks, monkeypatch):
    make_trainable(project, user)
    queued = []
    monkeypatch.setattr("evaluation.tasks.uncertainty_refresh_task.delay", lambda model_id: queued.append(model_id))
    with django_capture_on_commit_callbacks(execute=True):
        run = start(project, user, model_name="fresh")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert queued == [TrainedModel.objects.get(run=run).pk]


def test_after_training_the_untagged_documents_carry_the_new_models_scores(
    project, user, django_capture_on_commit_callbacks
):
    # The test settings run Celery tasks eagerly: the refresh runs right after the training's commit.
    make_trainable(project, user)
    untagged = DocumentFactory(project=project, text=UNSURE)
    with django_capture_on_commit_callbacks(execute=True):
        start(project, user, model_name="fresh")
    untagged.refresh_from_db()
    assert untagged.uncertainty_model == "fresh"
    assert 0.0 <= untagged.uncertainty <= 1.0
    tagged = Document.objects.filter(project=project, status=Document.Status.TAGGED)
    assert not tagged.exclude(uncertainty=None).exists()


def test_a_failed_training_queues_nothing(project, user, django_capture_on_commit_callbacks, monkeypatch):
    make_trainable(project, user)
    queued = []
    monkeypatch.setattr("evaluation.tasks.uncertainty_refresh_task.delay", lambda model_id: queued.append(model_id))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "train", broken)
    with django_capture_on_commit_callbacks(execute=True):
        run = start(project, user)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert queued == []


def test_a_refresh_that_cannot_be_queued_does_not_fail_the_training(
    project, user, django_capture_on_commit_callbacks, monkeypatch
):
    make_trainable(project, user)

    def broker_down(model_id):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("evaluation.tasks.uncertainty_refresh_task.delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        run = start(project, user, model_name="fresh")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert TrainedModel.objects.filter(run=run).exists()

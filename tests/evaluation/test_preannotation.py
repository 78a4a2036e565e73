"""Pre-annotation jobs: a really trained tiny model proposes suggestions on untagged documents, in batches,
idempotently; the pages start (TRAIN) and show (VIEW) jobs; suggestions never reach a training snapshot."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from evaluation.models import PreannotationJob
from evaluation.preannotation import selectors as preannotation_selectors
from evaluation.preannotation import services as preannotation_services
from evaluation.services import snapshot_create
from labeling.models import Document, Suggestion
from labeling.services import documents_create, span_create
from ner.types import LabeledDoc
from projects.models import Project
from projects.services import entity_type_create
from tests.evaluation.conftest import make_trainable
from tests.labeling.factories import DocumentFactory
from tests.ner.synthetic_docs import PEOPLE, sentence, train_quick
from tests.projects.factories import MembershipFactory, ProjectFactory
from tests.serving.factories import model_row


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """One tiny model (CITY, PERSON on synthetic sentences), trained once for this module (a few seconds)."""
    return train_quick(tmp_path_factory.mktemp("preannotation-model") / "model").model_path


@pytest.fixture
def trips(project, user):
    """Six untagged sentences the model has not seen, in a project with the model's entity types."""
    entity_type_create(project=project, name="PERSON")
    entity_type_create(project=project, name="CITY")
    docs = [LabeledDoc(text=sentence(index)[0], name=f"new{index}.txt") for index in range(40, 46)]
    result = documents_create(project=project, user=user, docs=docs)
    assert result.ok, result.errors
    return result.created


@pytest.fixture
def model(project, model_dir):
    return model_row(project, "model-1", model_dir)


def _run(project: Project, model, documents, min_confidence: float = 0.0, capture=None) -> PreannotationJob:
    with capture(execute=True):
        job = preannotation_services.preannotation_job_start(
            project=project,
            model=model,
            document_ids=[document.pk for document in documents],
            min_confidence=min_confidence,
            user=None,
        )
    job.refresh_from_db()
    return job


def test_job_writes_suggestions_from_the_model(project, trips, model, django_capture_on_commit_callbacks):
    job = _run(project, model, trips, capture=django_capture_on_commit_callbacks)

    assert job.status == PreannotationJob.Status.SUCCEEDED, job.error
    assert (job.done, job.total) == (6, 6)
    stored = list(Suggestion.objects.select_related("entity_type", "document"))
    assert job.suggestion_count == len(stored) > 0
    found_people = {s.document.text[s.start : s.end] for s in stored if s.entity_type.name == "PERSON"}
    assert found_people & set(PEOPLE), "the model should find at least one of the people it was trained on"
    assert all(s.model_name == "model-1" and 0 <= s.confidence <= 1 for s in stored)
    # Suggestions are not tags: the documents stay untagged.
    assert set(Document.objects.filter(pk__in=[d.pk for d in trips]).values_list("status", flat=True)) == {"untagged"}
    outcome = preannotation_selectors.preannotation_job_outcome(job=job)
    assert outcome.pending == len(stored)
    assert outcome.first_document_id == min(s.document_id for s in stored)


def test_job_respects_the_minimum_confidence(project, trips, model, django_capture_on_commit_callbacks):
    everything = _run(project, model, trips, capture=django_capture_on_commit_callbacks)
    everything_count = everything.suggestion_count
    sure = _run(project, model, trips, min_confidence=0.9, capture=django_capture_on_commit_callbacks)

    assert sure.status == PreannotationJob.Status.SUCCEEDED
    assert sure.suggestion_count == Suggestion.objects.count() <= everything_count  # replaced, not added
    assert all(confidence >= 0.9 for confidence in Suggestion.objects.values_list("confidence", flat=True))


def test_job_never_suggests_over_an_annotators_tag(project, user, trips, model, django_capture_on_commit_callbacks):
    document = trips[0]
    person = next(p for p in PEOPLE if p in document.text)
    start = document.text.index(person)
    span_create(
        document=document,
        entity_type=project.entity_types.get(name="CITY"),
        start=start,
        end=start + len(person),
        user=user,
    )

    _run(project, model, [document], capture=django_capture_on_commit_callbacks)

    for suggestion in Suggestion.objects.filter(document=document):
        assert suggestion.end <= start or suggestion.start >= start + len(person)


def test_job_runs_in_batches_and_a_second_run_changes_nothing(
    project, trips, model, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(preannotation_services, "BATCH_DOCUMENTS", 4)
    job = _run(project, model, trips, capture=django_capture_on_commit_callbacks)
    before = sorted(Suggestion.objects.values_list("pk", "start", "end", "entity_type_id"))

    assert preannotation_services.preannotation_job_execute(job_id=job.pk) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.done) == (PreannotationJob.Status.SUCCEEDED, 6)
    assert sorted(Suggestion.objects.values_list("pk", "start", "end", "entity_type_id")) == before


def test_job_whose_worker_died_resumes_where_it_stopped(
    project, trips, model, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("evaluation.tasks.preannotation_job_task.delay", sent.append)
    # The worker died after writing the first two documents; its heartbeat has gone stale since.
    job = PreannotationJob.objects.create(
        project=project,
        model=model,
        document_ids=[d.pk for d in trips[:4]],
        total=4,
        done=2,
        attempts=1,
        status=PreannotationJob.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    assert preannotation_services.preannotation_job_execute(job_id=job.pk) == "skipped"  # a duplicate message

    with django_capture_on_commit_callbacks(execute=True):
        assert preannotation_services.preannotation_jobs_recover(timezone.now() - timedelta(minutes=2)) == 1
    assert sent == [job.pk]
    assert preannotation_services.preannotation_job_execute(job_id=job.pk) == PreannotationJob.Status.SUCCEEDED

    job.refresh_from_db()
    assert (job.done, job.attempts) == (4, 2)
    with_suggestions = set(Suggestion.objects.values_list("document_id", flat=True))
    assert with_suggestions <= {trips[2].pk, trips[3].pk} and with_suggestions


def test_job_with_missing_model_files_fails_with_a_message(project, trips, django_capture_on_commit_callbacks):
    broken = model_row(project, "gone")
    # Ids come back after a rolled-back test, so point at a folder no other test can have filled.
    broken.storage_path = f"projects/{project.pk}/models/never-stored-{uuid.uuid4().hex}"
    broken.save(update_fields=["storage_path"])

    job = _run(project, broken, trips, capture=django_capture_on_commit_callbacks)

    assert job.status == PreannotationJob.Status.FAILED
    assert "could not be loaded" in job.error
    assert not Suggestion.objects.exists()


def test_job_start_refuses_a_foreign_model_an_empty_choice_and_a_bad_confidence(project, trips, model):
    other = ProjectFactory(name="other")
    foreign_model = model_row(other, "foreign")
    foreign_doc = DocumentFactory(project=other)
    start = preannotation_services.preannotation_job_start

    with pytest.raises(ValidationError, match="does not belong"):
        start(project=project, model=foreign_model, document_ids=[trips[0].pk], min_confidence=0.5, user=None)
    with pytest.raises(ValidationError, match="no documents"):
        start(project=project, model=model, document_ids=[foreign_doc.pk], min_confidence=0.5, user=None)
    with pytest.raises(ValidationError, match="between 0 and 1"):
        start(project=project, model=model, document_ids=[trips[0].pk], min_confidence=1.5, user=None)
    job = start(project=project, model=model, document_ids=[foreign_doc.pk, trips[1].pk], min_confidence=0, user=None)
    assert job.document_ids == [trips[1].pk]  # another project's document drops out


def test_candidates_by_scope(project, user, trips):
    tagged, suggested = trips[0], trips[1]
    span_create(document=tagged, entity_type=project.entity_types.get(name="CITY"), start=0, end=9, user=user)
    Suggestion.objects.create(
        document=suggested, entity_type=project.entity_types.first(), start=0, end=9, confidence=0.5, model_name="m"
    )
    candidates = preannotation_selectors.preannotation_candidates
    untagged = [d.pk for d in trips[1:]]

    assert candidates(project=project, scope="untagged") == untagged
    assert candidates(project=project, scope="unsuggested") == untagged[1:]
    assert candidates(project=project, scope="search", search="meeting number 42") == [trips[2].pk]
    assert candidates(project=project, scope="ids", ids=[trips[3].pk, 10**9]) == [trips[3].pk]


# --- suggestions never enter training ------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [Project.TrainingScope.TAGGED, Project.TrainingScope.WITH_SPANS])
def test_a_document_with_only_suggestions_is_not_trained_on(project, user, scope):
    make_trainable(project, user)
    project.training_scope = scope
    project.save()
    text, spans = sentence(77)
    (document,) = documents_create(project=project, user=user, docs=[LabeledDoc(text=text, name="s.txt")]).created
    person = project.entity_types.get(name="PERSON")
    Suggestion.objects.create(
        document=document, entity_type=person, start=spans[0].start, end=spans[0].end, confidence=1, model_name="m"
    )

    snapshot = snapshot_create(project=project, user=user)

    assert document.pk not in snapshot.train_document_ids + snapshot.test_document_ids
    assert snapshot.document_count == 16  # the tagged tiny documents only


# --- pages ----------------------------------------------------------------------------------------------------------


def test_page_start_job_and_watch_it(owner_client, project, trips, model, django_capture_on_commit_callbacks):
    url = reverse("preannotation:job_list", args=[project.name])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert "All untagged documents (6)" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"model": model.pk, "scope": "untagged", "min_confidence": "0.0"})

    job = PreannotationJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("preannotation:job_detail", args=[project.name, job.pk])
    detail = owner_client.get(response["Location"])
    html = detail.content.decode()
    assert "6 / 6 documents" in html and "Succeeded" in html
    assert f"{job.suggestion_count} suggestion" in html
    first = preannotation_selectors.preannotation_job_outcome(job=job).first_document_id
    assert reverse("labeling:document_annotate", args=[project.name, first]) in html
    # htmx polls get only the row; the list shows the job too.
    row = owner_client.get(response["Location"], headers={"HX-Request": "true"})
    assert row.content.decode().lstrip().startswith("<tr") and "<html" not in row.content.decode()
    assert f"job-{job.pk}" in owner_client.get(url).content.decode()


def test_page_explains_bad_input(owner_client, project, trips, model):
    url = reverse("preannotation:job_list", args=[project.name])
    bad_ids = owner_client.post(url, {"model": model.pk, "scope": "ids", "ids": "3, x7", "min_confidence": "0.5"})
    assert bad_ids.status_code == 400
    assert "“x7” is not an id" in bad_ids.content.decode()
    empty_search = owner_client.post(url, {"model": model.pk, "scope": "search", "search": " ", "min_confidence": "1"})
    assert "Type what the documents" in empty_search.content.decode()
    nothing = owner_client.post(url, {"model": model.pk, "scope": "ids", "ids": "999999", "min_confidence": "0.5"})
    assert nothing.status_code == 400
    assert "no documents to pre-annotate" in nothing.content.decode()
    assert not PreannotationJob.objects.exists()


def test_page_ids_and_ranges(owner_client, project, trips, model):
    url = reverse("preannotation:job_list", args=[project.name])
    first, last = trips[0].pk, trips[2].pk
    response = owner_client.post(
        url, {"model": model.pk, "scope": "ids", "ids": f"{first} - {last}, {trips[5].pk}", "min_confidence": "0.5"}
    )
    assert response.status_code == 302
    assert PreannotationJob.objects.get().document_ids == [trips[0].pk, trips[1].pk, trips[2].pk, trips[5].pk]


def test_page_viewer_sees_jobs_but_cannot_start_one(client, project, trips, model, member_of):
    job = PreannotationJob.objects.create(project=project, model=model, document_ids=[trips[0].pk], total=1)
    client.force_login(member_of(project, "viewer"))
    url = reverse("preannotation:job_list", args=[project.name])

    page = client.get(url)
    assert page.status_code == 200
    assert "preannotation-form" not in page.content.decode() and f"job-{job.pk}" in page.content.decode()
    assert client.post(url, {"model": model.pk, "scope": "untagged", "min_confidence": "0.5"}).status_code == 403
    assert client.get(reverse("preannotation:job_detail", args=[project.name, job.pk])).status_code == 200


def test_page_foreign_job_is_404(owner_client, project, user):
    other = ProjectFactory(name="other")
    MembershipFactory(project=other, user=user)
    other_model = model_row(other, "foreign")
    job = PreannotationJob.objects.create(project=other, model=other_model, document_ids=[], total=0)
    assert owner_client.get(reverse("preannotation:job_detail", args=[project.name, job.pk])).status_code == 404
    assert owner_client.get(reverse("preannotation:job_detail", args=[other.name, job.pk])).status_code == 200

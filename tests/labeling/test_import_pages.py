"""The import page (report, missing types, background jobs with progress) and the import API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from labeling.models import Document, ImportJob
from tests.labeling.imports_helpers import jsonl, snapshot
from tests.projects.factories import EntityTypeFactory

DATA = jsonl(
    {"text": "Alice Smith lives in Paris.", "spans": [{"start": 0, "end": 11, "label": "Person"}], "split": "test"},
    {"text": "Bob went to Berlin.", "spans": [{"start": 12, "end": 18, "label": "City"}]},
)


def _upload(client, project, data=DATA, **fields):
    form = {"format": "jsonl", "file": SimpleUploadedFile("docs.jsonl", data), **fields}
    return client.post(reverse("labeling:document_import", args=[project.name]), form)


def test_document_list_links_to_import_and_export(owner_client, project):
    page = owner_client.get(reverse("labeling:document_list", args=[project.name])).content.decode()
    assert reverse("labeling:document_import", args=[project.name]) in page
    assert reverse("labeling:document_export", args=[project.name]) in page


def test_import_page_reports_missing_types_and_retries_with_them(owner_client, project):
    EntityTypeFactory(project=project, name="Person")
    before = snapshot(project)
    response = _upload(owner_client, project)
    job = ImportJob.objects.get(project=project)
    assert response.status_code == 302 and response["Location"].endswith(f"/import/{job.pk}/")
    page = owner_client.get(response["Location"]).content.decode()
    assert "Nothing was imported" in page and "Create missing entity types: City" in page
    assert "document 2" in page and "unknown entity type City" in page
    assert snapshot(project) == before
    assert default_storage.exists(job.file_path)  # kept for the retry

    retry = owner_client.post(
        reverse("labeling:import_job_retry", args=[project.name, job.pk]), {"create_missing_types": "1"}
    )
    page = owner_client.get(retry["Location"]).content.decode()
    assert "Imported. 2 documents in the file: 2 imported, 0 rejected, 0 already present." in page
    assert "Created entity types: City" in page
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and (job.total, job.accepted) == (2, 2)
    assert not default_storage.exists(job.file_path)  # the data now lives in the documents
    assert Document.objects.filter(project=project, split="test").count() == 1


def test_form_errors_are_shown(owner_client, project):
    response = owner_client.post(reverse("labeling:document_import", args=[project.name]), {"format": "jsonl"})
    assert response.status_code == 400 and "Choose the file to import." in response.content.decode()


@pytest.mark.parametrize("setting", ["NERLAB_IMPORT_ASYNC_BYTES", "NERLAB_IMPORT_ASYNC_DOCUMENTS"])
def test_large_imports_run_in_celery_and_the_page_polls_the_job(
    owner_client, project, settings, django_capture_on_commit_callbacks, monkeypatch, setting
):
    setattr(settings, setting, 1)
    progress_seen: list[int] = []
    from labeling import imports

    real = imports._set_progress

    def spy(job_id):
        update = real(job_id)

        def record(percent):
            update(percent)
            progress_seen.append(ImportJob.objects.get(pk=job_id).progress)

        return record

    monkeypatch.setattr(imports, "_set_progress", spy)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _upload(owner_client, project, create_missing_types="on")
    job = ImportJob.objects.get(project=project)
    assert job.status == ImportJob.Status.QUEUED and callbacks  # sent (after recovering stale jobs) on commit
    url = response["Location"]
    polling = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in polling and "<progress" in polling and "<html" not in polling

    for callback in callbacks:  # the commit happens: the (eager) task runs
        callback()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.progress == 100
    assert progress_seen and progress_seen == sorted(progress_seen)
    done = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "every 1s" not in done and "2 imported" in done
    # Idempotent: a redelivered message for a finished job changes nothing.
    assert imports.import_job_execute(job_id=job.pk) == ImportJob.Status.SUCCEEDED
    assert Document.objects.filter(project=project).count() == 2


def test_import_api_round_trip_and_job_detail(project, user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    url = reverse("api-import-list", args=[project.name])
    response = client.post(url, {"file": SimpleUploadedFile("d.jsonl", DATA), "format": "jsonl"}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["report"]["missing_types"] == ["City", "Person"] and body["report"]["written"] is False
    response = client.post(
        url,
        {"file": SimpleUploadedFile("d.jsonl", DATA), "format": "jsonl", "create_missing_types": "true"},
        format="multipart",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["total"], body["accepted"], body["rejected"], body["duplicates"]) == (2, 2, 0, 0)
    detail = client.get(reverse("api-import-detail", args=[project.name, body["id"]])).json()
    assert detail["status"] == "succeeded" and detail["report"]["created_types"] == ["City", "Person"]
    listing = client.get(url).json()
    assert next(job["id"] for job in listing) == body["id"]


def test_import_api_format_is_optional_and_the_report_names_the_format_it_read(project, user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    doccano = b'{"text": "Peter Blackburn", "label": [[0, 15, "PERSON"]]}\n'
    response = client.post(
        reverse("api-import-list", args=[project.name]),
        {"file": SimpleUploadedFile("d.jsonl", doccano), "create_missing_types": "true"},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["format"] == "auto" and body["report"]["format"] == "doccano"
    assert body["report"]["notes"] == [
        "read as doccano: the file looks like a doccano export (records with [start, end, type] lists)"
    ]
    assert Document.objects.get(project=project).spans.get().entity_type.name == "PERSON"


def test_import_api_a_wrong_format_says_what_the_file_looks_like_and_keeps_no_upload(project, user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    label_studio = b'[{"data": {"text": "Ada"}, "annotations": [{"result": []}]}]'
    response = client.post(
        reverse("api-import-list", args=[project.name]),
        {"file": SimpleUploadedFile("ls.json", label_studio), "format": "doccano"},
        format="multipart",
    )
    assert response.status_code == 400
    problems = [problem["message"] for problem in response.json()["report"]["problems"]]
    assert problems[0] == (
        "this looks like a Label Studio export (tasks with 'data' and 'annotations'), not doccano: import it as "
        "label-studio (or choose auto)"
    )
    job = ImportJob.objects.get(pk=response.json()["id"])
    folder = f"projects/{project.pk}/imports/{job.pk}"
    kept = default_storage.listdir(folder)[1] if default_storage.exists(folder) else []
    assert job.file_path == "" and not [name for name in kept if name.startswith("ls")]
    assert Document.objects.filter(project=project).count() == 0


def test_import_page_defaults_to_auto_and_the_report_shows_the_format_read_and_the_notes(owner_client, project):
    page = owner_client.get(reverse("labeling:document_import", args=[project.name])).content.decode()
    assert '<option value="auto" selected>' in page
    prodigy = jsonl(
        {"text": "Ada Lovelace", "spans": [{"start": 0, "end": 12, "label": "Person"}], "answer": "accept"},
        {"text": "Bob", "spans": [{"start": 0, "end": 3, "label": "Person"}], "answer": "reject"},
    )
    response = owner_client.post(
        reverse("labeling:document_import", args=[project.name]),
        {"format": "auto", "file": SimpleUploadedFile("db-out.jsonl", prodigy), "create_missing_types": "on"},
    )
    page = owner_client.get(response["Location"]).content.decode()
    assert "(read as <code>prodigy</code>)" in page and "skipped 1 rejected task" in page
    assert [document.text for document in Document.objects.filter(project=project)] == ["Ada Lovelace"]


def _after_its_worker_died(job: ImportJob) -> tuple[str, str]:
    """A worker claims the job and dies; recovery finds it stale. The job's status and error after that."""
    from labeling import imports
    from projects import jobs

    assert not isinstance(imports._claim(job.pk), str)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    jobs.jobs_recover()
    job.refresh_from_db()
    return job.status, job.error


def test_running_a_failed_import_again_starts_a_fresh_count_of_lost_workers(project, user, settings):
    """Earlier runs that ended (failed, say for a missing type) are no lost workers: when the worker of the run
    asked for again dies, the import is queued again, not failed as "stopped without finishing it (3 times)"."""
    from labeling import imports

    settings.NERLAB_JOB_ATTEMPTS = 3
    settings.NERLAB_IMPORT_ASYNC_BYTES = 1  # the retry is queued for a worker
    job = imports.import_job_create(project=project, user=user, format="jsonl", data=DATA, file_name="docs.jsonl")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, attempts=2, error="Missing types.")
    job.refresh_from_db()
    job = imports.import_job_retry(job=job, create_missing_types=True)
    assert job.status == ImportJob.Status.QUEUED
    assert _after_its_worker_died(job) == (ImportJob.Status.QUEUED, "")


def test_an_import_handed_over_to_a_worker_counts_only_the_workers_starts(project, user, settings):
    """The request read the file and handed it over (too many documents to import there): that is no start of a
    worker, so a worker that dies on its first start has the job queued again, not failed as "(2 times)"."""
    from labeling import imports

    settings.NERLAB_JOB_ATTEMPTS = 2
    settings.NERLAB_IMPORT_ASYNC_DOCUMENTS = 1
    job = imports.import_job_start(project=project, user=user, format="jsonl", data=DATA, file_name="docs.jsonl")
    assert job.status == ImportJob.Status.QUEUED
    assert _after_its_worker_died(job) == (ImportJob.Status.QUEUED, "")

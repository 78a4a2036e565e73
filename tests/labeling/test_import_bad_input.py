"""Bad input: every file gives a clear error, through the API, and leaves the project exactly as it was."""

from __future__ import annotations

import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.labeling.imports_helpers import jsonl, snapshot, zip_of
from tests.projects.factories import EntityTypeFactory


@pytest.fixture
def api(user, django_capture_on_commit_callbacks):
    """An API client whose large imports run (Celery is eager in tests) once the request's transaction commits."""
    client = APIClient()
    client.force_authenticate(user)
    client.capture = django_capture_on_commit_callbacks  # type: ignore[attr-defined]
    return client


@pytest.fixture
def stocked(project):
    """A project that already holds a tagged document, so "unchanged" means something."""
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project, text="Alice Smith lives in Paris.")
    SpanFactory(document=document, entity_type=person, start=0, end=11)
    return project


def _post(api, project, format: str, name: str, data: bytes, **extra):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    with api.capture(execute=True):
        response = api.post(
            reverse("api-import-list", args=[project.name]),
            {"file": upload, "format": format, **extra},
            format="multipart",
        )
    if response.status_code == 202:  # queued: it has run by now; read the job as a polling client would
        job = api.get(reverse("api-import-detail", args=[project.name, response.json()["id"]]))
        response.status_code = 400 if job.json()["status"] == "failed" else 201
        response.json = job.json  # type: ignore[method-assign]
    return response


def _messages(response) -> list[str]:
    body = response.json()
    return [f"{p['where']} {p['field']} {p['message']}" for p in body["report"]["problems"]]


def _azure_zip(files: dict[str, bytes]) -> bytes:
    labels = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {"projectKind": "CustomEntityRecognition", "projectName": "x", "language": "en"},
        "assets": {"projectKind": "CustomEntityRecognition", "entities": [], "documents": []},
    }
    return zip_of({"labels.json": json.dumps(labels).encode(), **files})


DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_LABELS = zip_of({"labels.json": b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}"})  # parses, then is too deep

CASES = {
    "deeply nested doccano line": ("doccano", "a.jsonl", b'{"text": "Alice", "label": ' + DEEP + b"}\n", "levels deep"),
    "deeply nested Label Studio": ("label-studio", "tasks.json", DEEP, "more than 100 levels deep"),
    "deeply nested Azure labels": ("azure", "a.zip", DEEP_LABELS, "levels deep"),
    "truncated JSON": ("label-studio", "tasks.json", b'[{"data": {"text": "Alice"}, "annotations": [', "cut off"),
    "wrong offsets": (
        "jsonl",
        "a.jsonl",
        jsonl({"text": "Alice", "spans": [{"start": 0, "end": 50, "label": "Person"}]}),
        "end 50 is past the end of the text (5 characters)",
    ),
    "non-UTF-8": ("doccano", "a.jsonl", '{"text": "café"}\n'.encode("latin-1"), "not valid UTF-8"),
    "zip-slip": ("azure", "a.zip", _azure_zip({"../../evil.txt": b"evil"}), "unsafe path"),
    "zip bomb": ("azure", "a.zip", _azure_zip({"bomb.txt": b"a" * 400_000}), "possible zip bomb"),
    "0-byte file": ("jsonl", "empty.jsonl", b"", "the file is empty"),
    "10 MB single line": (
        "jsonl",
        "huge.jsonl",
        jsonl({"text": "word " * 2_000_000}),
        "a document may hold at most 128,000",
    ),
    "not a zip": ("azure", "a.zip", b"PK\x03\x04 this is no zip", "not a zip file"),
    "not a DocBin": ("spacy", "a.spacy", b"\x00\x01garbage", "not a spaCy .spacy"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_explained_and_leaves_the_project_unchanged(api, stocked, case):
    format, name, data, expected = CASES[case]
    before = snapshot(stocked)
    response = _post(api, stocked, format, name, data)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "failed" and body["report"]["written"] is False
    assert any(expected in message for message in _messages(response)), _messages(response)
    assert snapshot(stocked) == before


def test_duplicate_documents_are_skipped_and_counted(api, stocked):
    data = jsonl({"text": "Alice Smith lives in Paris."}, {"text": "New text."}, {"text": "New text."})
    before = snapshot(stocked)
    response = _post(api, stocked, "jsonl", "dups.jsonl", data)
    assert response.status_code == 201
    body = response.json()
    assert (body["total"], body["accepted"], body["rejected"], body["duplicates"]) == (3, 1, 0, 2)
    # The stored document has a Person span the file does not: reported, not merged.
    assert "already in the project" in body["report"]["already_present"][0]["message"]
    assert snapshot(stocked) == (before[0] + 1, before[1], before[2])
    again = _post(api, stocked, "jsonl", "dups.jsonl", data).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert snapshot(stocked) == (before[0] + 1, before[1], before[2])


def test_damaged_zip_member_is_refused(api, stocked):
    labels = {"assets": {"documents": [{"location": "01.txt"}]}, "metadata": {"language": "en"}}
    stored = zip_of({"labels.json": json.dumps(labels).encode(), "01.txt": b"Hello there"}, zipfile.ZIP_STORED)
    damaged = stored.replace(b"Hello there", b"Hellx there")  # the CRC no longer matches
    before = snapshot(stocked)
    response = _post(api, stocked, "azure", "a.zip", damaged)
    assert response.status_code == 400
    assert snapshot(stocked) == before


def test_unknown_format_is_a_field_error(api, stocked):
    response = _post(api, stocked, "xml", "a.xml", b"<a/>")
    assert response.status_code == 400 and "format" in response.json()


def test_zip_with_stored_member_keeps_working(api, stocked):
    labels = {
        "projectFileVersion": "2022-05-01",
        "metadata": {"projectKind": "CustomEntityRecognition", "projectName": "x", "language": "en"},
        "assets": {"documents": [{"location": "01.txt", "dataset": "Test"}]},
    }
    data = zip_of({"labels.json": json.dumps(labels).encode(), "01.txt": b"Hello there."}, zipfile.ZIP_STORED)
    response = _post(api, stocked, "azure", "a.zip", data)
    assert response.status_code == 201, response.json()

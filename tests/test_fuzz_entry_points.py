"""Every JSON entry point, and the import of every file format, fed 500 hostile inputs each through HTTP: never a
500 (the test client raises it), and a refused input leaves the database and the file storage exactly as they were.

The inputs are shaped like each entry point's valid body (tests/ner/fuzz_inputs.py): fields dropped, swapped for
any JSON, nested past any limit, or the file damaged. Imports cover every format in ner.formats.FORMATS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from ner.formats import FORMATS
from ner.formats.azure import write_azure_labels
from portability.archive import project_archive_bytes
from projects.models import Project
from projects.services import api_key_create
from serving import services as serving_services
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.ner.fuzz_inputs import EXAMPLES, SAMPLE_DOCS, files_like, json_bodies, json_shaped
from tests.ner.synthetic_docs import train_quick
from tests.projects.factories import EntityTypeFactory, ProjectFactory
from tests.serving.factories import model_row

pytestmark = pytest.mark.slow

OUR_APPS = ("projects", "labeling", "evaluation", "serving", "portability")
# A refused file import is answered with its job: the row holds the report the 400 shows, and the upload is kept
# under imports/ so that the Retry button can run it again. That is the refusal's record, not a partial import.
REFUSAL_RECORDS = {"labeling.ImportJob"}
REFUSAL_FILES = f"{os.sep}imports{os.sep}"
# Every entry point that reads JSON: the API's JSON bodies (one parser for all; these reach the most code behind
# it) and the import of every format whose files are JSON, JSON Lines or a zip of them. The other formats' readers
# are fuzzed on their own (tests/ner/test_fuzz_readers.py).
JSON_FORMATS = sorted(name for name, spec in FORMATS.items() if json_shaped(spec.writer(SAMPLE_DOCS)))
AZURE_VERSION = "api-version=2023-04-01"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return train_quick(tmp_path_factory.mktemp("fuzz-model") / "model").model_path


def _fingerprint(media_root: Path) -> tuple[Any, ...]:
    """Rows per table of our apps (one query) and the files in storage: what a refused input must leave unchanged."""
    tables = [
        model._meta.db_table
        for name in OUR_APPS
        for model in apps.get_app_config(name).get_models()
        if model._meta.label not in REFUSAL_RECORDS
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(t)})" for t in tables))
        rows = tuple(cursor.fetchone())
    files = sorted(str(path) for path in media_root.rglob("*") if path.is_file() and REFUSAL_FILES not in str(path))
    return rows, tuple(files)


def _labels_body() -> dict[str, Any]:
    labels, _ = write_azure_labels(SAMPLE_DOCS, project_name="fuzzed", language="en", storage_container="fuzz-data")
    return json.loads(labels)


class Target:
    """One entry point: how to send an input to it, and what a valid input looks like."""

    def __init__(self, send: Callable[[APIClient, bytes], Any], inputs: Callable[[], st.SearchStrategy[bytes]]) -> None:
        self.send, self.inputs = send, inputs


def _json(method: str, url: str) -> Callable[[APIClient, bytes], Any]:
    return lambda client, body: getattr(client, method)(url, body, content_type="application/json")


def _file(url: str, field: str, file_name: str, **form: str) -> Callable[[APIClient, bytes], Any]:
    def send(client: APIClient, data: bytes) -> Any:
        upload = SimpleUploadedFile(file_name, data, content_type="application/octet-stream")
        return client.post(url, {field: upload, **form}, format="multipart")

    return send


def _targets(ids: dict[str, int]) -> dict[str, Target]:
    project = "/api/v1/projects/contracts"
    document = f"{project}/documents/{ids['document']}"
    runtime_body = {
        "displayName": "fuzz",
        "analysisInput": {"documents": [{"id": "1", "language": "en", "text": "Alice flew to Paris."}]},
        "tasks": [
            {
                "kind": "CustomEntityRecognition",
                "taskName": "t",
                "parameters": {"projectName": "contracts", "deploymentName": "production"},
            }
        ],
    }
    targets = {
        "project create": Target(
            _json("post", "/api/v1/projects/"),
            lambda: json_bodies({"name": "fuzzed", "language": "en", "test_percent": 20, "split_seed": 1}),
        ),
        "entity type create": Target(
            _json("post", f"{project}/entity-types/"),
            lambda: json_bodies({"name": "Org", "color": "#123456", "hotkey": "o", "description": ""}),
        ),
        "span create": Target(
            _json("post", f"{document}/spans/"),
            lambda: json_bodies({"entity_type": ids["type"], "start": 0, "end": 5}),
        ),
        "document update": Target(
            _json("patch", f"{document}/"),
            lambda: json_bodies({"language": "en", "split": "train", "status": "tagged"}),
        ),
        "predict": Target(
            _json("post", f"{project}/deployments/production/predict"),
            lambda: json_bodies({"documents": [{"id": "1", "text": "Alice Smith flew to Paris.", "language": "en"}]}),
        ),
        "Azure authoring import": Target(
            _json("post", f"/language/authoring/analyze-text/projects/fuzzed/:import?{AZURE_VERSION}"),
            lambda: json_bodies(_labels_body()),
        ),
        "Azure runtime jobs": Target(
            _json("post", f"/language/analyze-text/jobs?{AZURE_VERSION}"), lambda: json_bodies(runtime_body)
        ),
        "project archive import": Target(
            _file("/api/v1/project-archives/", "archive", "fuzzed.zip", name="fuzzed"),
            lambda: files_like(project_archive_bytes(project=Project.objects.get(name="archived"))),
        ),
    }
    for name in JSON_FORMATS:
        spec = FORMATS[name]
        targets[f"{name} import"] = Target(
            _file(f"{project}/imports/", "file", f"fuzz{spec.extension}", format=name, create_missing_types="true"),
            lambda writer=spec.writer: files_like(writer(SAMPLE_DOCS)),
        )
    return targets


# The entry points, known before the database exists.
ENTRY_POINTS = [
    "project create",
    "entity type create",
    "span create",
    "document update",
    "predict",
    "Azure authoring import",
    "Azure runtime jobs",
    "project archive import",
    *(f"{name} import" for name in JSON_FORMATS),
]


@pytest.fixture
def stocked(user, project, model_dir, settings, tmp_path) -> dict[str, Target]:
    settings.MEDIA_ROOT = tmp_path / "media"  # a storage of its own, so that comparing its files stays cheap
    person = EntityTypeFactory(project=project, name="PERSON")
    EntityTypeFactory(project=project, name="CITY")
    document = DocumentFactory(project=project, text="Alice Smith flew to Paris.")
    model = model_row(project, "m1", model_dir)
    serving_services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    # The archive to mutate: a model entry (without its megabytes of files, so that each import stays quick).
    archived = ProjectFactory(name="archived")
    document = DocumentFactory(project=archived, text="Bob Jones flew to Oslo.")
    SpanFactory(document=document, entity_type=EntityTypeFactory(project=archived, name="PERSON"), start=0, end=9)
    model_row(archived, "m1")
    return _targets({"document": document.pk, "type": person.pk})


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_an_entry_point_refuses_hostile_input_cleanly(user, stocked, entry_point, django_capture_on_commit_callbacks):
    target = stocked[entry_point]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(user=user, name='fuzz')[1]}")
    inputs = target.inputs()
    media_root = Path(django_settings.MEDIA_ROOT)
    state = {"before": _fingerprint(media_root), "sent": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def send_anything(data: st.DataObject) -> None:
        body = data.draw(inputs, label="input")
        with django_capture_on_commit_callbacks(execute=True):
            response = target.send(client, body)
        state["sent"] += 1
        assert response.status_code < 500, response.content[:500]
        after = _fingerprint(media_root)
        if 400 <= response.status_code < 500:
            assert after == state["before"], f"{response.status_code} {response.content[:300]!r}"
        state["before"] = after

    send_anything()
    assert state["sent"] >= EXAMPLES


def test_the_fuzzed_entry_points_are_the_ones_built(stocked):
    assert sorted(stocked) == sorted(ENTRY_POINTS)

"""Requests the API must refuse in its own JSON (found by schemathesis): never a 500, never Django's HTML page."""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework import serializers

from projects.serializer_fields import TextOnly
from tests.labeling.factories import DocumentFactory

HUGE = str(10**30)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"documents/?entity_type={HUGE}", "entity_type"),
        (f"audit/?document={HUGE}", "document"),
        ("documents/?offset=null", "offset"),
        ("documents/?limit=-1", "limit"),
        (f"documents/?offset={HUGE}", "offset"),
        ("audit/?until=", "until"),
        ("archive/?models=null", "models"),
    ],
)
def test_a_bad_query_parameter_is_a_400_naming_it(owner_api, project, query, field):
    DocumentFactory(project=project)
    response = owner_api.get(f"/api/v1/projects/{project.name}/{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize("method", ["get", "patch", "delete", "post"])
@pytest.mark.parametrize("path", ["documents/abc/", "documents/1/spans/null,null/", "entity-types/x\ny/", "nothing/"])
def test_a_path_that_names_no_resource_is_the_apis_json_404(owner_api, project, method, path):
    response = getattr(owner_api, method)(f"/api/v1/projects/{project.name}/{path}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_get_without_its_trailing_slash_is_still_redirected(owner_api):
    response = owner_api.get("/api/v1/projects")
    assert (response.status_code, response["Location"]) == (301, "/api/v1/projects/")


def test_an_upload_refused_for_its_form_answers_the_upload_errors_shape(owner_api, project):
    response = owner_api.post(f"/api/v1/projects/{project.name}/documents/", {}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"errors": ["files: This field is required."], "duplicates": []}
    empty = SimpleUploadedFile("a.txt", b"", content_type="text/plain")
    refused = owner_api.post(f"/api/v1/projects/{project.name}/documents/", {"files": [empty]}, format="multipart")
    assert refused.status_code == 400 and set(refused.json()) == {"errors", "duplicates"}


def test_a_document_without_a_split_matches_the_schema(owner_api, project, tmp_path):
    DocumentFactory(project=project, split="")
    assert owner_api.get(f"/api/v1/projects/{project.name}/documents/").json()["results"][0]["split"] == ""
    call_command("spectacular", "--format", "openapi-json", "--file", str(tmp_path / "schema.json"))
    schema = json.loads((tmp_path / "schema.json").read_text())["components"]["schemas"]
    allowed = {
        value
        for ref in schema["DocumentOutput"]["properties"]["split"]["oneOf"]
        for value in schema[ref["$ref"].rsplit("/", 1)[1]]["enum"]
    }
    assert "" in allowed


@pytest.mark.parametrize("body", [{"name": 5}, {"name": "Org", "description": 1.5}, {"name": True}])
def test_a_number_where_the_schema_says_string_is_refused(owner_api, project, body):
    response = owner_api.post(f"/api/v1/projects/{project.name}/entity-types/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"name", "description"}
    assert not project.entity_types.exists()


def test_a_huge_id_in_a_body_list_is_a_400_not_an_overflow(owner_api, project):
    document = DocumentFactory(project=project)
    url = f"/api/v1/projects/{project.name}/documents/{document.pk}/suggestions/restore/"
    response = owner_api.post(url, {"suggestions": [10**30]}, format="json")
    assert response.status_code == 400 and "suggestions" in response.json()


APPS = {"projects", "labeling", "evaluation", "serving", "portability"}


def _serializer_classes() -> list[type[serializers.Serializer]]:
    found, pending = [], [serializers.Serializer]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # Output serializers are never given data (the house naming: *OutputSerializer).
        if "Output" not in cls.__name__ and cls.__module__.split(".")[0] in APPS:
            found.append(cls)
    return found


def _writable_text_fields(field: Any, where: str) -> list[tuple[str, Any]]:
    if isinstance(field, serializers.ListField | serializers.DictField):
        return _writable_text_fields(field.child, f"{where}[]")
    if isinstance(field, serializers.BaseSerializer):
        fields = getattr(field, "child", field).fields if not field.read_only else {}
        return [hit for name, inner in fields.items() for hit in _writable_text_fields(inner, f"{where}.{name}")]
    return [(where, field)] if isinstance(field, serializers.CharField) and not field.read_only else []


def test_every_text_field_of_every_serializer_takes_strings_only():
    """{"name": 5} is refused by every text input, not only by the ones the test above posts to."""
    import_module("config.urls")  # every API module, so every serializer class, is loaded
    lenient = [
        f"{cls.__module__}.{cls.__qualname__}{where}"
        for cls in _serializer_classes()
        for name, field in cls().fields.items()
        for where, text in _writable_text_fields(field, f".{name}")
        if not isinstance(text, TextOnly)
    ]
    assert lenient == [], "\n".join(lenient)

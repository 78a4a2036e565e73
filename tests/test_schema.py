"""The OpenAPI schema describes every endpoint without warnings, and the docs page serves it."""

from __future__ import annotations

import inspect
import re

import pytest
import yaml
from django.core.management import call_command


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    assert "/api/v1/projects/{project_name}/documents/" in paths
    assert "/api/v1/projects/{project_name}/deployments/{deployment_name}/predict" in paths
    assert {"ApiKey", "SubscriptionKey"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.django_db
def test_api_docs_page_is_served(client):
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200


_APPS = {"projects", "labeling", "evaluation", "serving", "portability"}


def _base_views() -> list[type]:
    """nerlab's API views that other views inherit from."""
    from rest_framework.views import APIView

    found, stack = [], [APIView]
    while stack:
        view = stack.pop()
        children = view.__subclasses__()
        if children and view.__module__.split(".")[0] in _APPS:
            found.append(view)
        stack.extend(children)
    return found


def test_no_endpoint_is_described_by_a_base_views_docstring(tmp_path):
    """A base view's docstring speaks to developers; the schema would publish it for every endpoint inheriting it."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    descriptions = [
        operation.get("description", "")
        for path in paths.values()
        for operation in path.values()
        if isinstance(operation, dict)
    ]
    bases = _base_views()
    assert "ProjectScopedAPIView" in {base.__name__ for base in bases}
    for base in bases:
        if base.__doc__:
            first_line = inspect.cleandoc(base.__doc__).splitlines()[0]
            leaked = sum(description.startswith(first_line) for description in descriptions)
            assert not leaked, f"{base.__qualname__}'s docstring describes {leaked} endpoints"


# Names of nerlab's own code: a published description that holds one was written for developers.
_CODE_NAMES = re.compile(
    r"\b(?:ner|labeling|evaluation|projects|serving|portability)\.[a-z_]|Serializer\b|\bself\.|context\["
)


def test_published_descriptions_speak_to_clients_not_to_developers(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    described = {
        f"schema {name}": part.get("description", "") for name, part in schema["components"]["schemas"].items()
    }
    described |= {
        f"{method.upper()} {path}": operation.get("description", "")
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict)
    }
    leaked = {where: text for where, text in described.items() if _CODE_NAMES.search(text)}
    assert not leaked

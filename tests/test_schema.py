"""The OpenAPI schema describes every endpoint without warnings, and the docs page serves it."""

from __future__ import annotations

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

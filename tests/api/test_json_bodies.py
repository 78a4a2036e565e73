"""Every JSON request body is bounded: too deep or too large answers 400 with the reason, never a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ner.json_input import JsonLimits, configure_json_limits, json_limits
from projects.models import Project
from projects.services import api_key_create
from serving import services as serving_services
from tests.serving.factories import model_row

DEEP = "[" * 100_000 + "]" * 100_000
AZURE_IMPORT = "/language/authoring/analyze-text/projects/trips/:import?api-version=2023-04-01"
AZURE_JOBS = "/language/analyze-text/jobs?api-version=2023-04-01"


@pytest.fixture
def keyed(user, project):
    """A client with the owner's user API key, and a deployment so that predict reads its body."""
    serving_services.deployment_create_or_replace(
        project=project, name="production", model=model_row(project, "m1"), user=user
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(user=user, name='script')[1]}")
    return client


ENTRY_POINTS = {
    "project create": "/api/v1/projects/",
    "predict": "/api/v1/projects/contracts/deployments/production/predict",
    "entity type create": "/api/v1/projects/contracts/entity-types/",
    "Azure authoring import": AZURE_IMPORT,
    "Azure runtime jobs": AZURE_JOBS,
}


def _reason(response) -> str:
    body = response.json()
    return str(body.get("detail") or body.get("error", {}).get("message"))


@pytest.mark.parametrize("where", list(ENTRY_POINTS))
def test_deeply_nested_body_is_a_400_naming_the_depth(keyed, where):
    projects = Project.objects.count()
    response = keyed.post(ENTRY_POINTS[where], DEEP, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "more than 100 levels deep" in _reason(response)
    assert Project.objects.count() == projects


@pytest.fixture
def small_limits():
    before = json_limits()
    configure_json_limits(JsonLimits(max_depth=5, max_bytes=200))
    yield
    configure_json_limits(before)


@pytest.mark.parametrize("where", list(ENTRY_POINTS))
def test_the_limits_are_configurable_and_a_large_body_is_a_400_naming_the_size(keyed, small_limits, where):
    response = keyed.post(ENTRY_POINTS[where], {"name": "x" * 300}, format="json")
    assert response.status_code == 400, response.content
    assert "the JSON is 3" in _reason(response) and "at most 200 bytes is read" in _reason(response)
    response = keyed.post(ENTRY_POINTS[where], [[[[[["six"]]]]]], format="json")
    assert "more than 5 levels deep" in _reason(response)


def test_nan_is_refused_as_not_json(keyed):
    response = keyed.post(
        "/api/v1/projects/", '{"name": "p", "language": "en", "x": NaN}', content_type="application/json"
    )
    assert response.status_code == 400
    assert "NaN is not a JSON number" in _reason(response)


def test_the_settings_set_the_limits_when_the_app_starts(settings):
    assert json_limits() == JsonLimits(
        max_depth=settings.NERLAB_JSON_MAX_DEPTH, max_bytes=settings.NERLAB_JSON_MAX_BYTES
    )

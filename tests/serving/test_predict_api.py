"""The native prediction API: API keys, limits, offsets in every stringIndexType, confidence scores."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ner import limits
from projects import services as project_services
from projects.roles import Role
from serving import services
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.serving.factories import model_row

pytestmark = pytest.mark.slow

EMOJI_TEXT = "😀😀 Yesterday Alice Smith flew to Berlin for meeting number 5. 🇩🇪"


@pytest.fixture
def deployed(project, user, trained_model_dir):
    model = model_row(project, "m1", trained_model_dir)
    services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    return model


def _client(raw_key: str, header: str = "Api-Key") -> APIClient:
    client = APIClient()
    if header == "Ocp":
        client.credentials(HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw_key)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"{header} {raw_key}")
    return client


def _url(project_name: str = "contracts", deployment: str = "production") -> str:
    return f"/api/v1/projects/{project_name}/deployments/{deployment}/predict"


def _entities(response) -> dict[str, dict]:
    return {entity["category"]: entity for entity in response.json()["documents"][0]["entities"]}


def test_predict_with_a_project_key_returns_entities_with_confidence(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="ci", project=project)
    response = _client(raw).post(
        _url(), {"documents": [{"id": "a", "text": EMOJI_TEXT, "language": "en"}]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["deploymentName"] == "production" and body["modelVersion"] == "m1"
    assert body["documents"][0]["id"] == "a" and body["documents"][0]["warnings"] == []
    found = _entities(response)
    assert found["PERSON"]["text"] == "Alice Smith" and found["CITY"]["text"] == "Berlin"
    # Default unit: code points, what Python's str indexes.
    assert EMOJI_TEXT[found["CITY"]["offset"] : found["CITY"]["offset"] + found["CITY"]["length"]] == "Berlin"
    assert all(0.0 <= entity["confidenceScore"] <= 1.0 for entity in found.values())
    assert found["PERSON"]["confidenceScore"] > 0.5


@pytest.mark.parametrize(
    ("index_type", "expected_offset"),
    [
        ("UnicodeCodePoint", EMOJI_TEXT.index("Berlin")),
        ("Utf16CodeUnit", len(EMOJI_TEXT[: EMOJI_TEXT.index("Berlin")].encode("utf-16-le")) // 2),
        ("TextElements_v8", EMOJI_TEXT.index("Berlin")),  # each emoji is one element, as one code point
    ],
)
def test_predict_offsets_follow_string_index_type(deployed, project, user, index_type, expected_offset):
    _, raw = project_services.api_key_create(user=user, name="k")
    response = _client(raw, "Bearer").post(_url(), {"text": EMOJI_TEXT, "stringIndexType": index_type}, format="json")
    assert response.status_code == 200, response.content
    city = _entities(response)["CITY"]
    assert (city["offset"], city["length"]) == (expected_offset, 6)
    assert response.json()["stringIndexType"] == index_type


def test_predict_text_elements_count_a_family_emoji_as_one(deployed, project, user):
    text = "👨‍👩‍👧 Yesterday Alice Smith flew to Berlin for meeting number 5."
    _, raw = project_services.api_key_create(user=user, name="k")
    client = _client(raw, "Ocp")
    elements = client.post(_url(), {"text": text, "stringIndexType": "TextElements_v8"}, format="json")
    points = client.post(_url(), {"text": text}, format="json")
    utf16 = client.post(_url(), {"text": text, "stringIndexType": "Utf16CodeUnit"}, format="json")
    start = text.index("Alice")
    assert _entities(points)["PERSON"]["offset"] == start == 16  # 3 people + 2 ZWJ + " Yesterday "
    assert _entities(elements)["PERSON"]["offset"] == 12  # the family is one element
    assert _entities(utf16)["PERSON"]["offset"] == 19  # each person is a surrogate pair
    assert {_entities(r)["PERSON"]["length"] for r in (points, elements, utf16)} == {11}


def test_predict_refuses_too_many_documents_naming_the_limit(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="k")
    documents = [{"id": str(i), "text": "Alice Smith flew to Paris."} for i in range(26)]
    response = _client(raw).post(_url(), {"documents": documents}, format="json")
    assert response.status_code == 400
    message = response.json()["documents"][0]
    assert "26 documents" in message and "limit is 25" in message


def test_predict_refuses_too_many_characters_counting_text_elements(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="k")
    # 25,001 text elements per document x 5 = 125,005 > 125,000; each 'e'+accent is one element.
    big = "e\u0301" * 25_001
    response = _client(raw).post(_url(), {"documents": [{"id": str(i), "text": big} for i in range(5)]}, format="json")
    assert response.status_code == 400
    message = response.json()["documents"][0]
    assert "125,005 characters" in message and "125,000" in message
    # The same code points in fewer elements would pass the count: 2 x 62,500 elements.
    ok = "e\u0301" * 62_500
    assert services.prediction_batch_check(documents=[services.DocumentInput("1", ok), services.DocumentInput("2", ok)])


def test_predict_refuses_an_empty_document_naming_it(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="k")
    body = {"documents": [{"id": "ok", "text": "Alice Smith"}, {"id": "blank", "text": "  "}]}
    response = _client(raw).post(_url(), body, format="json")
    assert response.status_code == 400
    assert "'blank' has no text" in response.json()["documents"][0]


def test_predict_refuses_a_bad_string_index_type(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="k")
    response = _client(raw).post(_url(), {"text": "x", "stringIndexType": "Bytes"}, format="json")
    assert response.status_code == 400 and "stringIndexType" in response.json()


def test_predict_with_another_projects_key_is_404(deployed, project, user):
    other = ProjectFactory(name="other")
    MembershipFactory(project=other, user=user, role=Role.OWNER)
    _, raw = project_services.api_key_create(user=user, name="other key", project=other)
    response = _client(raw).post(_url(), {"text": EMOJI_TEXT}, format="json")
    assert response.status_code == 404


def test_predict_with_a_non_members_user_key_is_404(deployed):
    stranger = UserFactory(username="stranger")
    _, raw = project_services.api_key_create(user=stranger, name="k")
    assert _client(raw).post(_url(), {"text": EMOJI_TEXT}, format="json").status_code == 404


def test_predict_with_a_revoked_key_is_refused(deployed, project, user):
    api_key, raw = project_services.api_key_create(user=user, name="k", project=project)
    client = _client(raw)
    assert client.post(_url(), {"text": EMOJI_TEXT}, format="json").status_code == 200
    project_services.api_key_revoke(api_key=api_key)
    response = client.post(_url(), {"text": EMOJI_TEXT}, format="json")
    assert response.status_code in (401, 403)
    assert "revoked" in response.json()["detail"]


def test_project_key_cannot_manage_deployments(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="k", project=project)
    response = _client(raw).delete("/api/v1/projects/contracts/deployments/production/")
    assert response.status_code == 403


def test_viewer_user_key_may_predict_but_not_deploy(deployed, project, member_of):
    viewer = member_of(project, Role.VIEWER)
    _, raw = project_services.api_key_create(user=viewer, name="k")
    client = _client(raw)
    assert client.post(_url(), {"text": EMOJI_TEXT}, format="json").status_code == 200
    response = client.post("/api/v1/projects/contracts/deployments/", {"name": "x", "model": "m1"}, format="json")
    assert response.status_code == 403


def test_predict_unknown_deployment_is_404(deployed, project, user):
    _, raw = project_services.api_key_create(user=user, name="k")
    assert _client(raw).post(_url(deployment="nope"), {"text": "x"}, format="json").status_code == 404


def test_predict_limits_are_azures():
    assert (limits.PREDICT_DOCUMENTS_MAX, limits.PREDICT_CHARS_MAX) == (25, 125_000)

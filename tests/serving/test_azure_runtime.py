"""The Azure-compatible runtime API: shapes, errors, retention, and the real azure-ai-textanalytics SDK."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from projects import services as project_services
from projects.roles import Role
from serving import services
from serving.models import AnalyzeJob
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.serving.factories import model_row

pytestmark = pytest.mark.slow

EMOJI_TEXT = "😀😀 Yesterday Alice Smith flew to Berlin for meeting number 5. 🇩🇪"
JOBS = "/language/analyze-text/jobs"


@pytest.fixture
def deployed(project, user, trained_model_dir):
    model = model_row(project, "m1", trained_model_dir)
    services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    return model


@pytest.fixture
def key(user):
    return project_services.api_key_create(user=user, name="azure")[1]


def _client(raw: str | None) -> APIClient:
    client = APIClient()
    if raw:
        client.credentials(HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw)
    return client


def _body(documents=None, project="contracts", deployment="production", **parameters):
    return {
        "displayName": "Extracting entities",
        "analysisInput": {"documents": documents or [{"id": "1", "language": "en", "text": EMOJI_TEXT}]},
        "tasks": [
            {
                "kind": "CustomEntityRecognition",
                "taskName": "Entity Recognition",
                "parameters": {"projectName": project, "deploymentName": deployment, **parameters},
            }
        ],
    }


def test_submit_then_poll_returns_azures_result_shape(deployed, key, django_capture_on_commit_callbacks):
    client = _client(key)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(f"{JOBS}?api-version=2022-05-01", _body(loggingOptOut=True), format="json")
    assert response.status_code == 202, response.content
    assert len(queued) == 1  # the Celery task is queued once the job row is committed
    location = response["operation-location"]
    assert location.startswith("http://testserver/language/analyze-text/jobs/")
    assert location.endswith("?api-version=2022-05-01")
    state = client.get(location.removeprefix("http://testserver")).json()
    assert state["status"] == "succeeded" and state["displayName"] == "Extracting entities"
    assert {"jobId", "createdDateTime", "expirationDateTime", "lastUpdatedDateTime"} <= set(state)
    assert state["tasks"] | {"items": None} == {"completed": 1, "failed": 0, "inProgress": 0, "total": 1, "items": None}
    (item,) = state["tasks"]["items"]
    assert item["kind"] == "CustomEntityRecognitionLROResults" and item["taskName"] == "Entity Recognition"
    assert item["status"] == "succeeded" and "lastUpdateDateTime" in item
    results = item["results"]
    assert (results["projectName"], results["deploymentName"], results["modelVersion"]) == (
        "contracts",
        "production",
        "m1",
    )
    entities = {e["category"]: e for e in results["documents"][0]["entities"]}
    # Azure's REST default unit is TextElements_v8: each emoji here is one element, as it is one code point.
    assert entities["CITY"]["offset"] == EMOJI_TEXT.index("Berlin")


def test_blank_document_is_a_per_document_error(deployed, key, django_capture_on_commit_callbacks):
    client = _client(key)
    documents = [{"id": "1", "text": EMOJI_TEXT}, {"id": "2", "text": ""}]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{JOBS}?api-version=2023-04-01", _body(documents), format="json")
    state = client.get(response["operation-location"]).json()
    results = state["tasks"]["items"][0]["results"]
    assert [d["id"] for d in results["documents"]] == ["1"]
    assert results["errors"][0]["id"] == "2" and results["errors"][0]["error"]["code"] == "InvalidArgument"


@pytest.mark.parametrize(
    ("query", "body_change", "status", "code"),
    [
        ("?api-version=2099-01-01", {}, 400, "InvalidRequest"),
        ("", {}, 400, "InvalidRequest"),
        ("?api-version=2023-04-01", {"project": "nope"}, 404, "NotFound"),
        ("?api-version=2023-04-01", {"deployment": "nope"}, 404, "NotFound"),
    ],
)
def test_submit_errors_have_azures_shape(deployed, key, query, body_change, status, code):
    response = _client(key).post(f"{JOBS}{query}", _body(**body_change), format="json")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "innererror" in error and response["x-ms-error-code"]


def test_a_nul_character_in_a_submitted_text_is_refused_before_anything_is_stored(deployed, key):
    # The job's request is kept as JSON, which PostgreSQL cannot hold with U+0000 in it: that was a 500 there.
    documents = [{"id": "1", "language": "en", "text": "Alice\x00Smith"}]
    response = _client(key).post(f"{JOBS}?api-version=2022-05-01", _body(documents), format="json")
    assert response.status_code == 400, response.content
    assert "NUL character" in response.json()["error"]["message"]
    assert "analysisInput.documents[0].text" in response.json()["error"]["message"]
    assert not AnalyzeJob.objects.exists()


def test_submit_too_many_documents_is_invalid_request(deployed, key):
    documents = [{"id": str(i), "text": "Alice"} for i in range(26)]
    response = _client(key).post(f"{JOBS}?api-version=2023-04-01", _body(documents), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["innererror"]["code"] == "InvalidDocumentBatch" and "26 documents" in error["message"]


def test_unsupported_task_kind_is_invalid_request(deployed, key):
    body = _body()
    body["tasks"][0]["kind"] = "SentimentAnalysis"
    response = _client(key).post(f"{JOBS}?api-version=2023-04-01", body, format="json")
    assert response.status_code == 400 and "SentimentAnalysis" in response.json()["error"]["message"]


def test_missing_or_wrong_key_is_unauthorized_in_azures_shape(deployed):
    for client in (_client(None), _client("nl_not-a-key")):
        response = client.post(f"{JOBS}?api-version=2023-04-01", _body(), format="json")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"


def test_jobs_are_visible_only_to_their_user_and_expire(deployed, key, project):
    response = _client(key).post(f"{JOBS}?api-version=2023-04-01", _body(), format="json")
    location = response["operation-location"]
    assert _client(key).get(location).json()["status"] == "notStarted"  # queued, no worker ran yet
    other = UserFactory(username="bob")
    MembershipFactory(project=project, user=other, role=Role.VIEWER)
    other_key = project_services.api_key_create(user=other, name="bob")[1]
    assert _client(other_key).get(location).status_code == 404
    assert _client(key).get(f"{JOBS}/not-a-uuid?api-version=2023-04-01").status_code == 404

    AnalyzeJob.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = _client(key).get(location)
    assert expired.status_code == 404 and expired.json()["error"]["code"] == "NotFound"
    call_command("analyze_job_cleanup", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not AnalyzeJob.objects.exists()


def test_project_key_of_another_project_cannot_submit(deployed, user):
    other = ProjectFactory(name="other")
    MembershipFactory(project=other, user=user, role=Role.OWNER)
    raw = project_services.api_key_create(user=user, name="other", project=other)[1]
    response = _client(raw).post(f"{JOBS}?api-version=2023-04-01", _body(), format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound"


@pytest.mark.django_db(transaction=True)
def test_azure_sdk_round_trip(live_server, trained_model_dir):
    """The unmodified azure-ai-textanalytics 5.4 client against nerlab."""
    from azure.ai.textanalytics import TextAnalyticsClient
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError

    user = UserFactory(username="sdk")
    project = ProjectFactory(name="sdk-project")
    MembershipFactory(project=project, user=user, role=Role.OWNER)
    model = model_row(project, "sdk-model", trained_model_dir)
    services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    _, raw = project_services.api_key_create(user=user, name="sdk", project=project)

    client = TextAnalyticsClient(endpoint=live_server.url, credential=AzureKeyCredential(raw))
    documents = [EMOJI_TEXT, "Yesterday Bob Jones drove to Madrid for meeting number 9."]
    poller = client.begin_recognize_custom_entities(
        documents, project_name="sdk-project", deployment_name="production", polling_interval=0
    )
    results = list(poller.result())
    assert len(results) == 2 and not any(result.is_error for result in results)
    first = {entity.category: entity for entity in results[0].entities}
    # The SDK asks for UnicodeCodePoint: offsets index Python strings, emoji included.
    berlin = first["CITY"]
    assert (berlin.text, berlin.offset, berlin.length) == ("Berlin", EMOJI_TEXT.index("Berlin"), 6)
    assert EMOJI_TEXT[berlin.offset : berlin.offset + berlin.length] == "Berlin"
    assert first["PERSON"].text == "Alice Smith"
    assert all(0.0 <= e.confidence_score <= 1.0 for r in results for e in r.entities)
    assert {e.text for e in results[1].entities} == {"Bob Jones", "Madrid"}

    utf16 = client.begin_recognize_custom_entities(
        [EMOJI_TEXT],
        project_name="sdk-project",
        deployment_name="production",
        string_index_type="Utf16CodeUnit",
        polling_interval=0,
    ).result()
    city = next(e for e in next(iter(utf16)).entities if e.category == "CITY")
    assert city.offset == EMOJI_TEXT.index("Berlin") + 2  # two astral emoji before it

    with pytest.raises(HttpResponseError) as raised:
        client.begin_recognize_custom_entities(
            ["x"], project_name="sdk-project", deployment_name="missing", polling_interval=0
        ).result()
    assert raised.value.status_code == 404

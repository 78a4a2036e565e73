"""Azure's authoring API, driven the way an Azure script drives it: raw HTTP in Azure's documented shapes, the key in
Ocp-Apim-Subscription-Key, every long operation followed through its Operation-Location.

These tests pin the documented wire shapes (and the older api-versions) with httpx; ``test_azure_sdk.py`` runs the
same kind of script through Azure's own ``azure-ai-textanalytics-authoring`` client.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from evaluation.models import TrainedModel
from labeling.models import Document, Span
from ner.formats.azure import write_azure_labels
from ner.types import LabeledDoc
from portability.models import AuthoringJob
from portability.services import container_owner_set
from projects.models import Project
from projects.roles import Role
from projects.services import api_key_create
from serving.models import Deployment
from tests.evaluation.conftest import tiny_docs
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

V = "2023-04-01"
BASE = "/language/authoring/analyze-text/projects"


def _labels() -> tuple[dict, dict[str, str]]:
    docs = tiny_docs(16)
    # One Windows-style document: offsets count the \r of every \r\n, as Azure's do.
    first = docs[1]
    docs[1] = LabeledDoc(first.text + "\r\nSecond line.", first.spans, first.name, first.language, first.split)
    labels, texts = write_azure_labels(docs, project_name="trips", language="en", storage_container="trips-data")
    return json.loads(labels), texts


# Tasks run eagerly in the tests, so a :train or :import request trains or imports before it answers: on a busy
# machine that takes as long as it takes. Requests and polls are bounded only to end a hung test, never to measure.
HUNG_S = 600


def _poll(client: httpx.Client, location: str) -> dict:
    deadline = time.monotonic() + HUNG_S
    while True:
        response = client.get(location)
        assert response.status_code == 200, response.text
        state = response.json()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_an_azure_script_runs_unchanged_against_nerlab(live_server, settings, tmp_path):
    settings.NERLAB_CONTAINERS_ROOT = tmp_path / "containers"
    settings.NERLAB_AZURE_TRAIN_MAX_STEPS = 30
    user = UserFactory(username="scripter")
    _, key = api_key_create(user=user, name="azure script")
    client = httpx.Client(
        base_url=f"{live_server.url}/language", headers={"Ocp-Apim-Subscription-Key": key}, timeout=HUNG_S
    )
    body, texts = _labels()

    # Texts first: Azure reads them from a storage container; nerlab from a folder filled through the API.
    for name, text in texts.items():
        response = httpx.put(
            f"{live_server.url}/api/v1/containers/trips-data/{name}",
            content=text.encode("utf-8"),
            headers={"Ocp-Apim-Subscription-Key": key, "Content-Type": "text/plain"},
            timeout=HUNG_S,
        )
        assert response.status_code == 201, response.text

    response = client.patch(
        f"/authoring/analyze-text/projects/trips?api-version={V}",
        content=json.dumps(
            {
                "projectName": "trips",
                "language": "en",
                "projectKind": "CustomEntityRecognition",
                "description": "Trips",
                "multilingual": "True",
                "storageInputContainerName": "trips-data",
            }
        ),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["projectName"] == "trips" and response.json()["multilingual"] is True

    response = client.post(f"/authoring/analyze-text/projects/trips/:import?api-version={V}", json=body)
    assert response.status_code == 202, response.text
    state = _poll(client, response.headers["operation-location"])
    assert state["status"] == "succeeded", state
    project = Project.objects.get(name="trips")
    assert Document.objects.filter(project=project).count() == 16
    crlf = Document.objects.get(project=project, text__contains="\r\n")
    assert [crlf.text[s.start : s.end] for s in Span.objects.filter(document=crlf).order_by("start")] == [
        text[s.start : s.end] for text, s in [(crlf.text, span) for span in tiny_docs(16)[1].sorted_spans()]
    ]

    response = client.post(
        f"/authoring/analyze-text/projects/trips/:train?api-version={V}",
        json={"modelLabel": "model1", "trainingConfigVersion": "latest", "evaluationOptions": {"kind": "manual"}},
    )
    assert response.status_code == 202, response.text
    state = _poll(client, response.headers["operation-location"])
    assert state["status"] == "succeeded", state
    assert state["result"]["modelLabel"] == "model1"
    assert state["result"]["trainingStatus"]["percentComplete"] == 100
    assert state["result"]["evaluationStatus"]["status"] == "succeeded"
    listed = client.get(f"/authoring/analyze-text/projects/trips/train/jobs?api-version={V}").json()
    assert [job["jobId"] for job in listed["value"]] == [state["jobId"]]

    model = client.get(f"/authoring/analyze-text/projects/trips/models/model1?api-version={V}").json()
    assert model["label"] == "model1" and model["hasSnapshot"] is True
    summary = client.get(
        f"/authoring/analyze-text/projects/trips/models/model1/evaluation/summary-result?api-version={V}"
    ).json()
    assert summary["projectKind"] == "CustomEntityRecognition"
    evaluation = summary["customEntityRecognitionEvaluation"]
    assert set(evaluation["entities"]) <= {"PERSON", "CITY"} and 0 <= evaluation["microF1"] <= 1
    assert summary["evaluationOptions"] == {"kind": "manual"}
    page = client.get(
        f"/authoring/analyze-text/projects/trips/models/model1/evaluation/result?api-version={V}&maxpagesize=2"
    ).json()
    assert len(page["value"]) == 2 and page["nextLink"]
    first = page["value"][0]["customEntityRecognitionResult"]["entities"][0]
    assert {"expectedEntities", "predictedEntities", "regionOffset", "regionLength"} <= set(first)
    rest = client.get(page["nextLink"]).json()
    assert len(rest["value"]) == 2 and rest["nextLink"] is None  # 4 test documents in all

    for name in ("production", "staging"):
        response = client.put(
            f"/authoring/analyze-text/projects/trips/deployments/{name}?api-version={V}",
            json={"trainedModelLabel": "model1"},
        )
        assert response.status_code == 202, response.text
        assert _poll(client, response.headers["operation-location"])["status"] == "succeeded"
    deployments = client.get(f"/authoring/analyze-text/projects/trips/deployments?api-version={V}").json()["value"]
    assert sorted(d["deploymentName"] for d in deployments) == ["production", "staging"]
    response = client.post(
        f"/authoring/analyze-text/projects/trips/deployments/:swap?api-version={V}",
        json={"firstDeploymentName": "production", "secondDeploymentName": "staging"},
    )
    assert response.status_code == 202
    assert _poll(client, response.headers["operation-location"])["status"] == "succeeded"

    response = client.post(
        f"/authoring/analyze-text/projects/trips/:export?api-version={V}&stringIndexType=Utf16CodeUnit",
        json={"assetsToExport": ["*"]},
    )
    assert response.status_code == 202
    state = _poll(client, response.headers["operation-location"])
    exported = client.get(state["resultUrl"]).json()
    assert exported["projectFileVersion"] == "2022-05-01"
    assert sorted(d["location"] for d in exported["assets"]["documents"]) == sorted(texts)
    original = {d["location"]: d["entities"][0]["labels"] for d in body["assets"]["documents"]}
    assert {d["location"]: d["entities"][0]["labels"] for d in exported["assets"]["documents"]} == original

    response = client.delete(f"/authoring/analyze-text/projects/trips/deployments/staging?api-version={V}")
    assert response.status_code == 202
    assert _poll(client, response.headers["operation-location"])["status"] == "succeeded"
    assert Deployment.objects.filter(project=project).count() == 1

    response = client.delete(f"/authoring/analyze-text/projects/trips?api-version={V}")
    assert response.status_code == 202
    assert "/global/deletion-jobs/" in response.headers["operation-location"]
    assert _poll(client, response.headers["operation-location"])["status"] == "succeeded"
    assert not Project.objects.filter(name="trips").exists()
    assert not TrainedModel.objects.exists()


# --- error shapes, keys and scoping -------------------------------------------------------------------------------


@pytest.fixture
def azure(db, project, user):
    _, key = api_key_create(user=user, name="k")
    return APIClient(headers={"Ocp-Apim-Subscription-Key": key})


def _error(response, status: int, code: str, inner: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if inner:
        assert error["innererror"]["code"] == inner
        assert response["x-ms-error-code"] == inner
    return error


@pytest.mark.parametrize(
    "version", ["2022-05-01", "2023-04-01", "2023-04-15", "2024-11-15-preview", "2025-05-15-preview"]
)
def test_supported_api_versions(azure, project, version):
    response = azure.get(f"{BASE}/{project.name}?api-version={version}")
    assert response.status_code == 200 and response.json()["projectName"] == project.name


def test_unknown_or_missing_api_version_is_refused_in_azures_shape(azure, project):
    error = _error(azure.get(f"{BASE}/{project.name}?api-version=2021-11-01-preview"), 400, "InvalidRequest")
    assert error["innererror"]["code"] == "UnsupportedApiVersion" and "2025-05-15-preview" in error["message"]
    _error(azure.get(f"{BASE}/{project.name}"), 400, "InvalidRequest", "MissingApiVersion")


def test_keys_are_checked(project, user):
    _error(APIClient().get(f"{BASE}?api-version={V}"), 401, "Unauthorized")
    bad = APIClient(headers={"Ocp-Apim-Subscription-Key": "nl_wrong"})
    _error(bad.get(f"{BASE}?api-version={V}"), 401, "Unauthorized")
    _, project_key = api_key_create(user=user, name="p", project=project)
    keyed = APIClient(headers={"Ocp-Apim-Subscription-Key": project_key})
    _error(keyed.get(f"{BASE}/{project.name}?api-version={V}"), 403, "Forbidden")


def test_non_members_get_404_and_roles_are_enforced(db, project, member_of):
    stranger = UserFactory(username="stranger")
    _, key = api_key_create(user=stranger, name="k")
    client = APIClient(headers={"Ocp-Apim-Subscription-Key": key})
    _error(client.get(f"{BASE}/{project.name}?api-version={V}"), 404, "NotFound", "ProjectNotFound")
    _error(client.delete(f"{BASE}/{project.name}?api-version={V}"), 404, "NotFound", "ProjectNotFound")
    assert client.get(f"{BASE}?api-version={V}").json() == {"value": [], "nextLink": None}
    viewer = member_of(project, Role.VIEWER)
    _, key = api_key_create(user=viewer, name="k")
    client = APIClient(headers={"Ocp-Apim-Subscription-Key": key})
    _error(
        client.post(f"{BASE}/{project.name}/:train?api-version={V}", {"modelLabel": "m"}, format="json"),
        403,
        "Forbidden",
    )
    _error(client.delete(f"{BASE}/{project.name}?api-version={V}"), 403, "Forbidden")


def test_missing_resources_are_404s_in_azures_shape(azure, project):
    _error(azure.get(f"{BASE}/{project.name}/models/nope?api-version={V}"), 404, "NotFound", "ModelNotFound")
    _error(azure.get(f"{BASE}/{project.name}/deployments/nope?api-version={V}"), 404, "NotFound", "DeploymentNotFound")
    _error(azure.get(f"{BASE}/{project.name}/train/jobs/nope?api-version={V}"), 404, "NotFound", "JobNotFound")
    response = azure.put(
        f"{BASE}/{project.name}/deployments/prod?api-version={V}", {"trainedModelLabel": "nope"}, format="json"
    )
    _error(response, 404, "NotFound", "ModelNotFound")


def test_training_validation_errors_are_400s(azure, project):
    url = f"{BASE}/{project.name}/:train?api-version={V}"
    _error(azure.post(url, {}, format="json"), 400, "InvalidRequest")
    bad_split = {
        "modelLabel": "m",
        "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 70, "testingSplitPercentage": 20},
    }
    assert "adding up to 100" in _error(azure.post(url, bad_split, format="json"), 400, "InvalidRequest")["message"]
    assert "at least" in _error(azure.post(url, {"modelLabel": "m"}, format="json"), 400, "InvalidRequest")["message"]


def test_import_names_the_missing_container_files(azure, project, user, containers):
    body, texts = _labels()
    body["metadata"]["projectName"] = project.name
    container_owner_set(name="trips-data", owner=user)
    first = sorted(texts)[0]
    (containers / "trips-data" / first).write_text(texts[first], encoding="utf-8")
    response = azure.post(f"{BASE}/{project.name}/:import?api-version={V}", body, format="json")
    assert response.status_code == 202
    state = azure.get(response["Operation-Location"]).json()
    assert state["status"] == "failed"
    message = state["errors"][0]["message"]
    assert "15 document location(s) have no file" in message and sorted(texts)[1] in message
    assert not Document.objects.filter(project=project).exists()


def test_import_into_a_new_project_creates_it(azure, user, containers):
    body, texts = _labels()
    container_owner_set(name="trips-data", owner=user)
    for name, text in texts.items():
        (containers / "trips-data" / name).write_bytes(text.encode("utf-8"))
    response = azure.post(f"{BASE}/trips/:import?api-version={V}", body, format="json")
    assert response.status_code == 202
    assert azure.get(response["Operation-Location"]).json()["status"] == "succeeded"
    project = Project.objects.get(name="trips")
    assert project.memberships.get().user == user
    assert sorted(project.entity_types.values_list("name", flat=True)) == ["CITY", "PERSON"]


def test_container_upload_validates_names_and_content(project, user, containers):
    _, key = api_key_create(user=user, name="k")
    client = APIClient(headers={"Authorization": f"Api-Key {key}"})

    def put(container: str, name: str, data: bytes):
        return client.generic("PUT", f"/api/v1/containers/{container}/{name}", data, content_type="text/plain")

    assert put("c1", "a.txt", "Hello 🎉".encode()).status_code == 201
    assert put("c1", "a.txt", b"Hello again").status_code == 200
    assert (containers / "c1" / "a.txt").read_bytes() == b"Hello again"
    assert put("c1", "a.json", b"{}").status_code == 400
    assert put("c1", ".hidden.txt", b"x").status_code == 400
    assert put("c1", "%2E%2E%2Fx.txt", b"x").status_code in (400, 404)
    assert put("..", "a.txt", b"x").status_code in (400, 404)
    assert put("c1", "empty.txt", b"").status_code == 400
    assert put("c1", "big.txt", b"a" * 600_000).status_code == 400
    _, project_key = api_key_create(user=user, name="p", project=project)
    keyed = APIClient(headers={"Authorization": f"Api-Key {project_key}"})
    assert keyed.generic("PUT", "/api/v1/containers/c1/b.txt", b"x", content_type="text/plain").status_code == 403


def test_jobs_of_another_project_are_not_found(azure, project, user):
    other = ProjectFactory(name="other")
    MembershipFactory(project=other, user=user, role=Role.OWNER)
    job = AuthoringJob.objects.create(
        kind=AuthoringJob.Kind.SWAP,
        project=other,
        project_name="other",
        user=user,
        api_version=V,
        expires_at="2999-01-01T00:00:00Z",
    )
    url = reverse("portability:azure_swap_job", kwargs={"projectName": project.name, "jobId": job.pk})
    _error(azure.get(f"{url}?api-version={V}"), 404, "NotFound", "JobNotFound")
    url = reverse("portability:azure_swap_job", kwargs={"projectName": "other", "jobId": job.pk})
    assert azure.get(f"{url}?api-version={V}").json()["status"] == "notStarted"


def test_list_projects_is_paged(db, user):
    for index in range(3):
        MembershipFactory(project=ProjectFactory(name=f"p{index}"), user=user, role=Role.OWNER)
    _, key = api_key_create(user=user, name="k")
    client = APIClient(headers={"Ocp-Apim-Subscription-Key": key})
    page = client.get(f"{BASE}?api-version={V}&maxpagesize=2").json()
    assert [p["projectName"] for p in page["value"]] == ["p0", "p1"]
    assert [p["projectName"] for p in client.get(page["nextLink"]).json()["value"]] == ["p2"]
    assert len(client.get(f"{BASE}?api-version={V}&top=1").json()["value"]) == 1

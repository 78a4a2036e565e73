"""Azure's own Python client, ``azure-ai-textanalytics-authoring``, driving nerlab's authoring API.

The promise of the Azure-compatible API is that a user's existing Azure scripts work by changing the endpoint and
the key. So this test is such a script: it talks to a live nerlab server through the SDK only (no raw HTTP, no
nerlab service calls), with an nerlab USER key as the ``AzureKeyCredential`` (sent in
``Ocp-Apim-Subscription-Key``). The database is read only to check what the user would see in nerlab afterwards.

The document texts go into a *container* first: Azure reads them from a blob-storage container, nerlab from a
folder under ``NERLAB_CONTAINERS_ROOT`` (a user copies the files there, as they would upload them to blob storage).
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

import pytest

# Azure's authoring SDK declares azure-ai-textanalytics>=6.0.0b1 (a beta with another API) only for the folder
# azure/ai/textanalytics/ it shares; it runs on the 5.4 pinned for the runtime SDK test, so it is installed without
# its dependencies: pip install --no-deps azure-ai-textanalytics-authoring==1.0.0b1
pytest.importorskip(
    "azure.ai.textanalytics.authoring",
    reason="pip install --no-deps azure-ai-textanalytics-authoring==1.0.0b1 (Azure's authoring SDK) to run this test",
)

from azure.ai.textanalytics.authoring import TextAuthoringClient
from azure.ai.textanalytics.authoring.models import (
    CreateDeploymentDetails,
    CreateProjectOptions,
    EvaluationDetails,
    SwapDeploymentsDetails,
    TrainingJobDetails,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from django.core.management import call_command

from labeling.models import Document, Span
from portability.services import container_owner_set
from projects.models import Project
from projects.services import api_key_create
from serving.models import Deployment
from tests.evaluation.conftest import tiny_docs
from tests.projects.factories import UserFactory

PROJECT = "trips"
CONTAINER = "trips-data"
POLL = {"polling_interval": 0.1}  # nerlab's Retry-After (1 s) still paces the polls; this only shortens the rest

# A Windows document with emoji: every label after the first emoji sits at a UTF-16 offset that differs from its
# Python (code point) offset, and the offsets count each "\r" of "\r\n", as Azure's do.
EMOJI_TEXT = "Yesterday Maria 😀 flew to Lisbon.\r\nThen 🎉🎉 Maria drove to Porto for meeting number 99.\r\n"
EMOJI_LABELS = [("PERSON", "Maria", 0), ("CITY", "Lisbon", 0), ("PERSON", "Maria", 1), ("CITY", "Porto", 0)]


def _utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def _labels(text: str, spans: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    return [
        {"category": label, "offset": _utf16(text, start), "length": _utf16(text, end) - _utf16(text, start)}
        for label, start, end in spans
    ]


def _emoji_spans() -> list[tuple[str, int, int]]:
    spans = []
    for label, word, occurrence in EMOJI_LABELS:
        start = -1
        for _ in range(occurrence + 1):
            start = EMOJI_TEXT.index(word, start + 1)
        spans.append((label, start, start + len(word)))
    return spans


def _project_file() -> tuple[dict[str, Any], dict[str, str]]:
    """An Azure labels file (the shape ``:export`` writes and ``:import`` reads), and the texts it points to."""
    documents: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    for doc in tiny_docs(16):
        texts[doc.name] = doc.text
        spans = [(span.label, span.start, span.end) for span in doc.sorted_spans()]
        documents.append(
            {
                "location": doc.name,
                "language": "en",
                "dataset": "Test" if doc.split == "test" else "Train",
                "entities": [
                    {
                        "regionOffset": 0,
                        "regionLength": _utf16(doc.text, len(doc.text)),
                        "labels": _labels(doc.text, spans),
                    }
                ],
            }
        )
    texts["emoji-crlf.txt"] = EMOJI_TEXT
    documents.append(
        {
            "location": "emoji-crlf.txt",
            "language": "en",
            "dataset": "Train",
            "entities": [
                {
                    "regionOffset": 0,
                    "regionLength": _utf16(EMOJI_TEXT, len(EMOJI_TEXT)),
                    "labels": _labels(EMOJI_TEXT, _emoji_spans()),
                }
            ],
        }
    )
    body = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "CustomEntityRecognition",
            "storageInputContainerName": CONTAINER,
            "projectName": PROJECT,
            "multilingual": False,
            "description": "Trips",
            "language": "en",
            "settings": {},
        },
        "assets": {
            "projectKind": "CustomEntityRecognition",
            "entities": [{"category": "PERSON"}, {"category": "CITY"}],
            "documents": documents,
        },
    }
    return body, texts


def _label_set(project_file: dict[str, Any]) -> set[tuple[str, str, int, int]]:
    return {
        (document["location"], label["category"], label["offset"], label["length"])
        for document in project_file["assets"]["documents"]
        for region in document["entities"]
        for label in region["labels"]
    }


def _final_body(pipeline_response: Any, _deserialized: Any, _headers: Any) -> dict[str, Any]:
    """``cls`` hook for the LROs the SDK types as returning None: the last job state the poller read."""
    return pipeline_response.http_response.json()


@pytest.mark.django_db(transaction=True)
def test_the_azure_sdk_runs_a_whole_project_against_nerlab(live_server, settings, tmp_path: Path):
    settings.NERLAB_CONTAINERS_ROOT = tmp_path / "containers"
    settings.NERLAB_AZURE_TRAIN_MAX_STEPS = 30
    user = UserFactory(username="sdk-user")
    _, key = api_key_create(user=user, name="azure sdk")
    project_file, texts = _project_file()

    # The texts first, bytes as they are (CRLF kept): nerlab's stand-in for a blob container, copied onto the
    # server by hand and given to its user by an operator.
    folder = Path(settings.NERLAB_CONTAINERS_ROOT) / CONTAINER
    folder.mkdir(parents=True)
    for name, text in texts.items():
        (folder / name).write_bytes(text.encode("utf-8"))
    call_command("nerlab_container_owner", CONTAINER, user.username, stdout=io.StringIO())

    client = TextAuthoringClient(live_server.url, AzureKeyCredential(key))
    assert client._config.api_version == "2025-05-15-preview"  # the SDK's default, which nerlab accepts

    created = client.create_project(
        project_name=PROJECT,
        body=CreateProjectOptions(
            project_kind="CustomEntityRecognition",
            storage_input_container_name=CONTAINER,
            project_name=PROJECT,
            language="en",
            multilingual=False,
            description="Trips",
        ),
    )
    assert created.project_name == PROJECT and created.language == "en"
    assert isinstance(created.created_on, datetime.datetime) and isinstance(created.last_modified_on, datetime.datetime)
    assert created.storage_input_container_name == CONTAINER and created.multilingual is False
    # The same PATCH on an existing project changes the fields it names (merge-patch).
    updated = client.create_project(project_name=PROJECT, body={"description": "Trips and meetings"})
    assert updated.description == "Trips and meetings" and updated.language == "en"
    assert PROJECT in [p.project_name for p in client.list_projects()]
    assert client.get_project(PROJECT).project_kind == "CustomEntityRecognition"

    project_client = client.get_project_client(PROJECT)

    # Import Azure's labels file; the poller follows Operation-Location to "succeeded".
    project_client.project.begin_import(body=project_file, **POLL).result()
    project = Project.objects.get(name=PROJECT)
    assert Document.objects.filter(project=project).count() == 17
    emoji = Document.objects.get(project=project, text=EMOJI_TEXT)  # stored byte-for-byte, "\r\n" and all
    stored = [
        (s.entity_type.name, emoji.text[s.start : s.end]) for s in Span.objects.filter(document=emoji).order_by("start")
    ]
    assert stored == [(label, word) for label, word, _ in EMOJI_LABELS]

    # Train twice (tiny: 30 steps), once per evaluation kind, so that the swap below is visible.
    result = project_client.project.begin_train(
        body=TrainingJobDetails(
            model_label="model1", training_config_version="latest", evaluation_options=EvaluationDetails(kind="manual")
        ),
        **POLL,
    ).result()
    assert result.model_label == "model1"
    assert result.training_status.status == "succeeded" and result.training_status.percent_complete == 100
    assert result.evaluation_status.status == "succeeded"
    assert isinstance(result.training_status.started_on, datetime.datetime)
    assert isinstance(result.evaluation_status.ended_on, datetime.datetime)
    result = project_client.project.begin_train(
        body={
            "modelLabel": "model2",
            "trainingConfigVersion": "latest",
            "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 75, "testingSplitPercentage": 25},
        },
        **POLL,
    ).result()
    assert result.model_label == "model2" and result.training_status.status == "succeeded"
    jobs = list(project_client.project.list_training_jobs())
    assert sorted(job.result.model_label for job in jobs) == ["model1", "model2"]
    assert all(job.status == "succeeded" and job.job_id for job in jobs)
    assert all(isinstance(job.expires_on, datetime.datetime) and job.created_on <= job.last_updated_on for job in jobs)

    models = {model.label: model for model in project_client.project.list_trained_models()}
    assert set(models) == {"model1", "model2"}
    assert models["model1"].has_snapshot is True and isinstance(models["model1"].model_expired_on, datetime.date)
    one = project_client.trained_model.get_trained_model("model1")
    assert one.model_id == models["model1"].model_id and isinstance(one.last_trained_on, datetime.datetime)
    assert isinstance(one.last_training_duration_in_seconds, int) and one.model_training_config_version
    assert [
        v.training_config_version for v in client.list_training_config_versions(project_kind="CustomEntityRecognition")
    ]

    summary = project_client.trained_model.get_model_evaluation_summary("model1")
    assert summary.project_kind == "CustomEntityRecognition"
    assert summary.evaluation_options.kind == "manual"
    evaluation = summary.custom_entity_recognition_evaluation
    assert set(evaluation.entities) <= {"PERSON", "CITY"} and 0 <= evaluation.micro_f1 <= 1
    summary2 = project_client.trained_model.get_model_evaluation_summary("model2")
    assert summary2.evaluation_options.testing_split_percentage == 25

    pages = project_client.trained_model.list_model_evaluation_results(
        "model1", string_index_type="Utf16CodeUnit", maxpagesize=2
    ).by_page()
    results = [item for page in pages for item in page]
    assert len(results) == 4  # the 4 documents of the manual test set, over two pages through nextLink
    assert {item.location for item in results} == {f"trip{i:02d}.txt" for i in (0, 4, 8, 12)}
    region = results[0].custom_entity_recognition_result.entities[0]
    assert region.region_offset == 0 and {e.category for e in region.expected_entities} == {"PERSON", "CITY"}

    # Deploy both models, then swap them.
    for name, label in (("production", "model1"), ("staging", "model2")):
        project_client.deployment.begin_deploy_project(
            name, CreateDeploymentDetails(trained_model_label=label), **POLL
        ).result()
    assert project_client.deployment.get_deployment("production").model_id == models["model1"].model_id
    project_client.project.begin_swap_deployments(
        SwapDeploymentsDetails(first_deployment_name="production", second_deployment_name="staging"), **POLL
    ).result()
    deployments = {d.deployment_name: d for d in project_client.project.list_deployments()}
    assert deployments["production"].model_id == models["model2"].model_id
    assert deployments["staging"].model_id == models["model1"].model_id
    assert isinstance(deployments["production"].deployment_expired_on, datetime.date)
    assert isinstance(deployments["production"].last_deployed_on, datetime.datetime)
    assert deployments["production"].assigned_resources == []
    details = project_client.project.get_project()
    assert isinstance(details.last_trained_on, datetime.datetime) and isinstance(
        details.last_deployed_on, datetime.datetime
    )
    assert dict(Deployment.objects.filter(project=project).values_list("name", "model__name")) == {
        "production": "model2",
        "staging": "model1",
    }

    # Export: the SDK types the LRO as returning None; its resultUrl is read through the SDK's own pipeline.
    state = project_client.project.begin_export(string_index_type="Utf16CodeUnit", cls=_final_body, **POLL).result()
    assert state["status"] == "succeeded" and state["resultUrl"]
    exported = project_client.send_request(HttpRequest("GET", state["resultUrl"]))
    exported.raise_for_status()
    exported_file = exported.json()
    assert exported_file["stringIndexType"] == "Utf16CodeUnit"
    assert exported_file["metadata"]["projectName"] == PROJECT
    assert exported_file["metadata"]["storageInputContainerName"] == CONTAINER  # re-importable as it stands
    assert _label_set(exported_file) == _label_set(project_file)  # the emoji document's UTF-16 offsets included
    assert {d["location"]: d["dataset"] for d in exported_file["assets"]["documents"]} == {
        d["location"]: d["dataset"] for d in project_file["assets"]["documents"]
    }

    project_client.deployment.begin_delete_deployment("staging", **POLL).result()
    assert [d.deployment_name for d in project_client.project.list_deployments()] == ["production"]
    project_client.trained_model.delete_trained_model("model1")  # no longer deployed anywhere
    assert [m.label for m in project_client.project.list_trained_models()] == ["model2"]

    client.begin_delete_project(PROJECT, **POLL).result()
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_project(PROJECT)
    assert missing.value.error.code == "NotFound"  # Azure's error body, read by the SDK's error model
    assert not Project.objects.filter(name=PROJECT).exists()


@pytest.mark.django_db(transaction=True)
def test_the_azure_sdk_reads_nerlabs_errors(live_server, settings, tmp_path: Path):
    settings.NERLAB_CONTAINERS_ROOT = tmp_path / "containers"
    user = UserFactory(username="sdk-errors")
    _, key = api_key_create(user=user, name="azure sdk")

    with pytest.raises(ClientAuthenticationError):
        list(TextAuthoringClient(live_server.url, AzureKeyCredential("not-a-key")).list_projects())

    client = TextAuthoringClient(live_server.url, AzureKeyCredential(key))
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_project_client("nowhere").trained_model.get_trained_model("model1")
    assert missing.value.error.code == "NotFound" and "nowhere" in missing.value.error.message

    with pytest.raises(HttpResponseError) as invalid:
        client.create_project(project_name="no-language", body={"projectKind": "CustomEntityRecognition"})
    assert invalid.value.status_code == 400 and invalid.value.error.code == "InvalidRequest"
    assert "language" in invalid.value.error.message

    # A container that is not the user's: refused at once, as one that does not exist.
    with pytest.raises(HttpResponseError) as refused:
        client.get_project_client("empty").project.begin_import(
            body={
                "projectFileVersion": "2022-05-01",
                "stringIndexType": "Utf16CodeUnit",
                "metadata": {
                    "projectKind": "CustomEntityRecognition",
                    "storageInputContainerName": "nothing-here",
                    "projectName": "empty",
                    "language": "en",
                },
                "assets": {"projectKind": "CustomEntityRecognition", "documents": [{"location": "gone.txt"}]},
            },
            **POLL,
        ).result()
    assert refused.value.status_code == 400 and "no container named 'nothing-here'" in refused.value.error.message

    # An import whose texts are not in the container: the poller raises, and the job's errors name the files.
    container_owner_set(name="nothing-here", owner=user)
    with pytest.raises(HttpResponseError) as failed:
        client.get_project_client("empty").project.begin_import(
            body={
                "projectFileVersion": "2022-05-01",
                "stringIndexType": "Utf16CodeUnit",
                "metadata": {
                    "projectKind": "CustomEntityRecognition",
                    "storageInputContainerName": "nothing-here",
                    "projectName": "empty",
                    "language": "en",
                },
                "assets": {"projectKind": "CustomEntityRecognition", "documents": [{"location": "gone.txt"}]},
            },
            **POLL,
        ).result()
    job = failed.value.response.json()
    assert job["status"] == "failed" and "gone.txt" in job["errors"][0]["message"]

    old = TextAuthoringClient(live_server.url, AzureKeyCredential(key), api_version="2019-01-01")
    with pytest.raises(HttpResponseError) as unsupported:
        list(old.list_projects())
    assert unsupported.value.status_code == 400 and "2025-05-15-preview" in unsupported.value.error.message

"""Azure AI Language's wire format, in one place: what its requests hold and what its answers look like.

Used by the runtime API (``serving.azure``), the analyze jobs it queues (``serving.services``) and the authoring
API (``portability.azure_authoring``): request parsing (api-version, documents, tasks), the job and task-result
dicts, timestamps, and the error dict ``{"code", "message", "target"?, "innererror"?: {"code", "message"}}``,
answered as ``{"error": ...}`` with the ``x-ms-error-code`` header. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from rest_framework.response import Response

if TYPE_CHECKING:
    from rest_framework.request import Request

    from serving.models import AnalyzeJob

# Azure's offset units (``stringIndexType``); the native API and "Try it" speak them too.
UNICODE_CODE_POINT = "UnicodeCodePoint"
UTF16_CODE_UNIT = "Utf16CodeUnit"
TEXT_ELEMENTS = "TextElements_v8"
STRING_INDEX_TYPES = (UNICODE_CODE_POINT, UTF16_CODE_UNIT, TEXT_ELEMENTS)
# Azure's default for the REST API; the Python SDK sends UnicodeCodePoint explicitly.
DEFAULT_STRING_INDEX_TYPE = TEXT_ELEMENTS
CUSTOM_NER_KIND = "customentityrecognition"


@dataclass(frozen=True, slots=True)
class DocumentInput:
    id: str
    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class AnalyzeTask:
    task_name: str
    project_name: str
    deployment_name: str
    string_index_type: str = TEXT_ELEMENTS

    def to_dict(self) -> dict[str, str]:
        return {
            "taskName": self.task_name,
            "projectName": self.project_name,
            "deploymentName": self.deployment_name,
            "stringIndexType": self.string_index_type,
        }


# --- errors --------------------------------------------------------------------------------------------------------


def azure_error(code: str, message: str, inner_code: str | None = None, target: str | None = None) -> dict[str, Any]:
    """Azure's error object (a request's whole answer wraps it as ``{"error": ...}``; a job's task carries it)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    if inner_code:
        error["innererror"] = {"code": inner_code, "message": message}
    return error


class AzureError(Exception):
    """An error answered in Azure's shape."""

    def __init__(self, status: int, code: str, message: str, inner_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code

    def response(self) -> Response:
        return Response(
            {"error": azure_error(self.code, self.message, self.inner_code)},
            status=self.status,
            headers={"x-ms-error-code": self.inner_code or self.code},
        )


def invalid_request(message: str, inner_code: str = "InvalidParameterValue") -> AzureError:
    return AzureError(400, "InvalidRequest", message, inner_code)


# --- requests ------------------------------------------------------------------------------------------------------


def api_version_check(request: Request, supported: Sequence[str], api: str = "this API") -> str:
    """The request's api-version, or Azure's error for a missing or unsupported one (shared by both Azure APIs)."""
    version = request.query_params.get("api-version", "")
    if not version:
        raise invalid_request(
            f"The api-version query parameter is required; supported versions: {', '.join(supported)}.",
            "MissingApiVersion",
        )
    if version not in supported:
        raise AzureError(
            400,
            "InvalidRequest",
            f"The api-version {version!r} is not supported by {api}; supported versions: {', '.join(supported)}.",
            "UnsupportedApiVersion",
        )
    return version


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"{where} must be a string.")
    return value


def parse_documents(body: dict[str, Any]) -> list[DocumentInput]:
    """``analysisInput.documents`` of an analyze-text request."""
    analysis_input = body.get("analysisInput")
    if not isinstance(analysis_input, dict) or not isinstance(analysis_input.get("documents"), list):
        raise invalid_request(
            "analysisInput.documents is required: a list of {id, text, language}.", "InvalidDocumentBatch"
        )
    documents = []
    for index, raw in enumerate(analysis_input["documents"]):
        if not isinstance(raw, dict):
            raise invalid_request(
                f"analysisInput.documents[{index}] must be an object with id and text.", "InvalidDocument"
            )
        document_id = raw.get("id")
        if not isinstance(document_id, str | int) or str(document_id) == "":
            raise invalid_request(f"analysisInput.documents[{index}].id is required.", "InvalidDocument")
        language = raw.get("language")
        documents.append(
            DocumentInput(
                id=str(document_id),
                text=_text(raw.get("text", ""), f"analysisInput.documents[{index}].text"),
                language=language if isinstance(language, str) and language else None,
            )
        )
    return documents


def parse_tasks(body: dict[str, Any]) -> list[AnalyzeTask]:
    """The ``tasks`` of an analyze-text request: CustomEntityRecognition ones only."""
    raw_tasks = body.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise invalid_request(
            "tasks is required: a list with at least one CustomEntityRecognition task.", "MissingTasks"
        )
    tasks = []
    for index, raw in enumerate(raw_tasks):
        if not isinstance(raw, dict):
            raise invalid_request(f"tasks[{index}] must be an object.")
        kind = str(raw.get("kind", ""))
        if kind.replace("_", "").lower() != CUSTOM_NER_KIND:
            raise invalid_request(
                f"tasks[{index}].kind {kind!r} is not supported: nerlab serves CustomEntityRecognition tasks only.",
                "UnsupportedTaskKind",
            )
        parameters = raw.get("parameters")
        if not isinstance(parameters, dict):
            raise invalid_request(f"tasks[{index}].parameters with projectName and deploymentName is required.")
        project_name = parameters.get("projectName")
        deployment_name = parameters.get("deploymentName")
        if not isinstance(project_name, str) or not project_name:
            raise invalid_request(f"tasks[{index}].parameters.projectName is required.")
        if not isinstance(deployment_name, str) or not deployment_name:
            raise invalid_request(f"tasks[{index}].parameters.deploymentName is required.")
        index_type = parameters.get("stringIndexType") or DEFAULT_STRING_INDEX_TYPE
        if index_type not in STRING_INDEX_TYPES:
            raise invalid_request(
                f"tasks[{index}].parameters.stringIndexType {index_type!r} is not supported; use one of "
                f"{', '.join(STRING_INDEX_TYPES)}."
            )
        task_name = raw.get("taskName")
        tasks.append(
            AnalyzeTask(
                task_name=str(task_name) if task_name not in (None, "") else f"CustomEntityRecognition_{index}",
                project_name=project_name,
                deployment_name=deployment_name,
                string_index_type=index_type,
            )
        )
    return tasks


# --- answers -------------------------------------------------------------------------------------------------------


def azure_time(moment: Any) -> str:
    return moment.astimezone(timezone.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_item(task: dict[str, str], status: str, results: dict[str, Any] | None) -> dict[str, Any]:
    """One task's entry in a job's ``tasks.items``."""
    item: dict[str, Any] = {
        "kind": "CustomEntityRecognitionLROResults",
        "taskName": task["taskName"],
        "lastUpdateDateTime": azure_time(timezone.now()),
        "status": status,
    }
    if results is not None:
        item["results"] = results
    return item


def job_state(job: AnalyzeJob) -> dict[str, Any]:
    """The job in the shape of Azure's ``AnalyzeTextJobState``."""
    tasks = job.request.get("tasks", [])
    items = list(job.task_results)
    completed = sum(1 for item in items if item.get("status") == "succeeded")
    failed = sum(1 for item in items if item.get("status") == "failed")
    state: dict[str, Any] = {
        "jobId": str(job.pk),
        "createdDateTime": azure_time(job.created_at),
        "expirationDateTime": azure_time(job.expires_at),
        "lastUpdatedDateTime": azure_time(job.updated_at),
        "status": job.status,
        "errors": [item["error"] for item in items if item.get("status") == "failed" and "error" in item],
        "tasks": {
            "completed": completed,
            "failed": failed,
            "inProgress": len(tasks) - completed - failed,
            "total": len(tasks),
            "items": items,
        },
    }
    if job.display_name:
        state["displayName"] = job.display_name
    return state

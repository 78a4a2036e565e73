"""Azure AI Language's runtime API for custom NER, served by nerlab (reference §4.4).

``POST {endpoint}/language/analyze-text/jobs?api-version=...`` with ``CustomEntityRecognition`` tasks answers 202
and an ``operation-location`` header; ``GET {endpoint}/language/analyze-text/jobs/{jobId}`` answers the job in
Azure's shape. The key goes in ``Ocp-Apim-Subscription-Key`` (any nerlab API key: a user key whose user may predict
on the project, or that project's key). So ``azure-ai-textanalytics``'s ``TextAnalyticsClient(endpoint=<nerlab>,
credential=AzureKeyCredential(<key>)).begin_recognize_custom_entities(...)`` works unchanged.

The request is validated as Azure does before anything is queued (api-version, shape, 25 documents and 125,000
text elements, that the project and deployment exist for this key); errors come back in Azure's shape
``{"error": {"code", "message", "innererror": {"code", "message"}}}`` with the ``x-ms-error-code`` header. Blank
documents are reported per document in the task's ``errors``, as Azure does. The job runs in Celery; results are
kept 24 hours and are visible only to the user whose key submitted the job.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.access import project_for
from projects.api import request_api_key
from projects.authentication import ApiKeyAuthentication
from projects.parsers import BoundedJSONParser
from projects.roles import Permission
from serving import azure_wire, selectors, services
from serving.azure_wire import AzureError, api_version_check, invalid_request
from serving.models import AnalyzeJob

API_VERSIONS = ("2022-05-01", "2023-04-01", "2023-04-15", "2024-11-01", "2025-05-15-preview")
POLL_AFTER_S = 1


class AzureView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]  # checked below, so that refusals come back in Azure's shape
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AzureError):
            return exc.response()
        if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
            return AzureError(
                401,
                "Unauthorized",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                "nerlab API key in the Ocp-Apim-Subscription-Key header.",
            ).response()
        if isinstance(exc, exceptions.Throttled):
            response = AzureError(429, "TooManyRequests", str(exc.detail)).response()
            if exc.wait is not None:
                response["Retry-After"] = str(math.ceil(exc.wait))
            return response
        if isinstance(exc, exceptions.ParseError):
            return invalid_request(
                f"The request body is not valid JSON: {exc.detail}", "InvalidRequestBodyFormat"
            ).response()
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return invalid_request("Send the request body as application/json.", "InvalidRequestBodyFormat").response()
        if isinstance(exc, exceptions.MethodNotAllowed):
            return AzureError(405, "InvalidRequest", f"{exc.detail}").response()
        return super().handle_exception(exc)

    def _user(self, request: Request) -> Any:
        if not (request.user and request.user.is_authenticated) or request_api_key(request) is None:
            raise exceptions.NotAuthenticated()
        return request.user


def _check_access(request: Request, task: azure_wire.AnalyzeTask) -> None:
    """The same rule as the native API: 404 for a project this key cannot see, then the deployment must exist."""
    try:
        project = project_for(request, task.project_name, Permission.PREDICT)
    except Http404:
        raise AzureError(
            404, "NotFound", f"The project {task.project_name!r} was not found for this key.", "ProjectNotFound"
        ) from None
    except DjangoPermissionDenied as error:
        raise AzureError(403, "Forbidden", str(error), "Forbidden") from None
    try:
        services.deployment_resolve(project=project, name=task.deployment_name)
    except Http404:
        raise AzureError(
            404,
            "NotFound",
            f"The deployment {task.deployment_name!r} was not found in project {task.project_name!r}.",
            "DeploymentNotFound",
        ) from None


class AnalyzeTextJobSubmitApi(AzureView):
    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        api_version = api_version_check(request, API_VERSIONS)
        user = self._user(request)
        body = request.data
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.", "InvalidRequestBodyFormat")
        documents = azure_wire.parse_documents(body)
        tasks = azure_wire.parse_tasks(body)
        try:
            characters = services.prediction_batch_check(documents=documents)
        except services.PredictionError as error:
            raise invalid_request(" ".join(error.messages), error.azure_code) from None
        for task in tasks:
            _check_access(request, task)
        display_name = body.get("displayName")
        job = services.analyze_job_create(
            user=user,
            api_key=request_api_key(request),
            api_version=api_version,
            display_name=display_name if isinstance(display_name, str) else "",
            documents=documents,
            tasks=tasks,
            character_count=characters,
        )
        location = request.build_absolute_uri(
            reverse("serving:analyze_text_job", kwargs={"job_id": str(job.pk)}) + f"?api-version={api_version}"
        )
        return Response(
            status=202,
            headers={"operation-location": location, "Retry-After": str(POLL_AFTER_S)},
        )


class AnalyzeTextJobApi(AzureView):
    @extend_schema(exclude=True)
    def get(self, request: Request, job_id: str) -> Response:
        # $top, $skip and showStats are accepted and ignored: a job holds at most 25 documents, one page.
        api_version_check(request, API_VERSIONS)
        user = self._user(request)
        try:
            job = selectors.analyze_job_get(user=user, job_id=job_id)
        except (Http404, ValueError, DjangoValidationError):
            raise AzureError(
                404, "NotFound", f"The job {job_id} was not found (results are kept 24 hours).", "JobNotFound"
            ) from None
        headers = (
            {}
            if job.status in (AnalyzeJob.Status.SUCCEEDED, AnalyzeJob.Status.FAILED)
            else {"Retry-After": str(POLL_AFTER_S)}
        )
        return Response(azure_wire.job_state(job), headers=headers)

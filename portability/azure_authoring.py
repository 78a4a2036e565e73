"""Azure AI Language's AUTHORING API for custom NER, served by nerlab (reference §4.1-4.3).

Under ``{endpoint}/language/authoring/analyze-text/projects/...``: create/get/list/delete projects, ``:import`` and
``:export`` with their jobs, ``:train`` with its jobs and ``:cancel``, trained models and their evaluations,
deployments and ``:swap``. A script written for Azure works by changing the endpoint and the key: the key goes in
``Ocp-Apim-Subscription-Key`` and is an nerlab USER key (it acts with its user's roles; project keys only predict,
so they are refused here). A signed-in browser session works too.

Long operations answer 202 with ``Operation-Location``; the job URL reads the domain row that does the work (the
``TrainingRun`` of a training, the ``ImportJob`` of an import), so it is never out of date. Errors come in
Azure's shape ``{"error": {"code", "message", "details"?, "innererror"?}}`` with ``x-ms-error-code``, through the
one Azure wire module (``serving.azure_wire``): one error shape for both halves of the Azure surface.

Order of checks: key, then project and role (404 for a project the key's user is not a member of, 403 for a role
that does not allow the operation), then ``api-version``, then the body.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from evaluation.models import Evaluation, TrainedModel, TrainingRun
from evaluation.selectors import snapshot_test_documents
from labeling.imports import ImportReport
from labeling.models import ImportJob
from ner.metrics import EvaluationReport, azure_summary
from ner.offsets import OffsetMapper
from portability import selectors, services
from portability.models import AuthoringJob
from projects.access import project_for
from projects.api import request_api_key
from projects.authentication import ApiKeyAuthentication
from projects.exceptions import Conflict
from projects.models import Project
from projects.parsers import BoundedJSONParser, BoundedMergePatchParser
from projects.roles import Permission
from projects.selectors import project_list_for_user
from serving.azure import AzureView
from serving.azure_wire import AzureError, api_version_check, azure_time, invalid_request
from serving.models import Deployment

API_VERSIONS: Final = ("2022-05-01", "2023-04-01", "2023-04-15", "2024-11-15-preview", "2025-05-15-preview")
PROJECT_KIND: Final = "CustomEntityRecognition"
TRAINING_CONFIG_VERSIONS: Final = ("2022-05-01", "latest")
MODEL_EXPIRATION: Final = timedelta(days=365 * 10)  # nerlab's models do not expire; Azure's clients want a date
PAGE_MAX: Final = 1000
POLL_AFTER_S: Final = 1


def _time(moment: Any) -> str | None:
    return azure_time(moment) if moment else None


def _date(moment: Any) -> str:
    return moment.astimezone(timezone.UTC).strftime("%Y-%m-%d")


def _not_found(what: str, inner: str) -> AzureError:
    return AzureError(404, "NotFound", what, inner)


def _api_version(request: Request) -> str:
    return api_version_check(request, API_VERSIONS, "the authoring API")


# Azure's path parameter names -> the names the views take.
_FROM_AZURE = {"projectName": "project_name", "trainedModelLabel": "model_name", "deploymentName": "deployment_name"}
_TO_AZURE = {value: key for key, value in _FROM_AZURE.items()}


def _reverse(url_name: str, **kwargs: str) -> str:
    return reverse(
        url_name, kwargs={_TO_AZURE.get(k, "jobId" if k.endswith("job_id") else k): v for k, v in kwargs.items()}
    )


class _AuthoringView(AzureView):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    parser_classes = [BoundedJSONParser, BoundedMergePatchParser]
    # The first checks (key, project, role) happen before api-version, so that a refusal never depends on it.
    permission: Permission = Permission.VIEW

    job_kwarg = "job_id"

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        renamed = {_FROM_AZURE.get(key, self.job_kwarg if key == "jobId" else key): v for key, v in kwargs.items()}
        return super().dispatch(request, *args, **renamed)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Http404):
            exc = _not_found(str(exc) or "The resource was not found.", "NotFound")
        elif isinstance(exc, DjangoPermissionDenied | exceptions.PermissionDenied):
            exc = AzureError(403, "Forbidden", str(exc) or "Your role does not allow this.", "Forbidden")
        elif isinstance(exc, Conflict):
            exc = AzureError(409, "Conflict", " ".join(exc.messages), "Conflict")
        elif isinstance(exc, DjangoValidationError):
            exc = invalid_request(" ".join(exc.messages), "InvalidParameterValue")
        return super().handle_exception(exc)

    def _user(self, request: Request) -> Any:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        api_key = request_api_key(request)
        if api_key is not None and api_key.project_id is not None:
            raise AzureError(
                403,
                "Forbidden",
                "A project API key can only call the prediction API; use a user API key for the authoring API.",
                "Forbidden",
            )
        return request.user

    def project(self, request: Request, name: str, permission: Permission | None = None) -> Project:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        try:
            # With a project key: another project's name is 404, its own project 403 (keys only predict).
            return project_for(request, name, permission or self.permission)
        except Http404:
            raise _not_found(f"The project {name!r} was not found for this key.", "ProjectNotFound") from None

    def project_and_version(
        self, request: Request, name: str, permission: Permission | None = None
    ) -> tuple[Project, str]:
        """The project, then the api-version: key, project and role are checked first, so that a refusal never
        depends on the api-version."""
        project = self.project(request, name, permission)
        return project, _api_version(request)

    def project_if_any(self, request: Request, name: str, permission: Permission) -> Project | None:
        """For a call that creates the project when there is none (PATCH, import): the project, with the
        ``permission`` checked, or None when no project has that name."""
        if not Project.objects.filter(name=name).exists():
            return None
        return self.project(request, name, permission)

    def body(self, request: Request) -> dict[str, Any]:
        if not isinstance(request.data, dict):
            raise invalid_request("The request body must be a JSON object.", "InvalidRequestBodyFormat")
        return request.data

    def accepted(self, request: Request, url_name: str, api_version: str, **kwargs: str) -> Response:
        location = request.build_absolute_uri(_reverse(url_name, **kwargs) + f"?api-version={api_version}")
        return Response(status=202, headers={"Operation-Location": location, "Retry-After": str(POLL_AFTER_S)})


def _page(request: Request, items: list[Any], url_name: str, api_version: str, **kwargs: str) -> dict[str, Any]:
    """Azure's paging: ``top`` (how many in all), ``skip``, ``maxpagesize``; ``nextLink`` while more remain."""

    def number(name: str, default: int | None) -> int | None:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_request(f"{name} must be a whole number.") from None
        if value < 0:
            raise invalid_request(f"{name} may not be negative.")
        return value

    skip = number("skip", 0) or 0
    top = number("top", None)
    page_size = min(number("maxpagesize", PAGE_MAX) or PAGE_MAX, PAGE_MAX)
    end = len(items) if top is None else min(len(items), skip + top)
    page = items[skip : min(end, skip + page_size)]
    next_link = None
    if skip + len(page) < end:
        query = f"?api-version={api_version}&skip={skip + len(page)}&maxpagesize={page_size}"
        if top is not None:
            query += f"&top={top - len(page)}"
        next_link = request.build_absolute_uri(_reverse(url_name, **kwargs) + query)
    return {"value": page, "nextLink": next_link}


# --------------------------------------------------------------------------------------------- shapes


def project_metadata(project: Project) -> dict[str, Any]:
    last_model = TrainedModel.objects.filter(project=project).order_by("-created_at").first()
    last_deployment = Deployment.objects.filter(project=project).order_by("-deployed_at").first()
    data: dict[str, Any] = {
        "createdDateTime": _time(project.created_at),
        "lastModifiedDateTime": _time(project.updated_at),
        "projectKind": PROJECT_KIND,
        "storageInputContainerName": selectors.azure_storage_container_get(project=project),
        "projectName": project.name,
        "multilingual": project.multilingual,
        "description": project.description,
        "language": project.language,
        "settings": {},
    }
    if last_model is not None:
        data["lastTrainedDateTime"] = _time(last_model.created_at)
    if last_deployment is not None:
        data["lastDeployedDateTime"] = _time(last_deployment.deployed_at)
    return data


def _job_base(job: AuthoringJob, status: str | None = None, updated: Any = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "jobId": job.pk,
        "createdDateTime": _time(job.created_at),
        "lastUpdatedDateTime": _time(updated or job.updated_at),
        "expirationDateTime": _time(job.expires_at),
        "status": status or job.status,
    }
    if job.warnings:
        state["warnings"] = job.warnings
    if job.errors:
        state["errors"] = job.errors
    return state


# Azure's word for the status of the row a job reports (a training run's, an import's): theirs but for "queued".
_AZURE_STATUS = {
    "queued": "notStarted",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}


def training_job_state(job: AuthoringJob) -> dict[str, Any]:
    """Azure's ``TrainingJobState`` read from the TrainingRun: training is the ``training`` phase, evaluation is
    prediction over the test set and saving."""
    run = job.training_run
    if run is None:  # the run went with its project; nothing left to report but the job itself
        return _job_base(job)
    status = _AZURE_STATUS[TrainingRun.Status(run.status)]
    if run.status == TrainingRun.Status.RUNNING and run.cancel_requested:
        status = "cancelling"
    evaluating = run.phase in (TrainingRun.Phase.EVALUATING, TrainingRun.Phase.SAVING)
    done = run.status == TrainingRun.Status.SUCCEEDED
    training_status: dict[str, Any] = {
        "percentComplete": 100 if (evaluating or done) else int(run.percent),
        "status": "succeeded" if (evaluating or done) else status,
    }
    if run.started_at:
        training_status["startDateTime"] = _time(run.started_at)
    evaluation_status: dict[str, Any] = {
        "percentComplete": 100 if done else 0,
        "status": "succeeded" if done else ("running" if evaluating else "notStarted"),
    }
    if run.status in (TrainingRun.Status.FAILED, TrainingRun.Status.CANCELLED):
        training_status["status"] = evaluation_status["status"] = status
    if run.finished_at:
        training_status.setdefault("endDateTime", _time(run.finished_at))
        if done:
            evaluation_status["endDateTime"] = _time(run.finished_at)
    result: dict[str, Any] = {
        "modelLabel": run.model_name,
        "trainingConfigVersion": job.details.get("trainingConfigVersion", "latest"),
        "trainingStatus": training_status,
        "evaluationStatus": evaluation_status,
    }
    if run.is_active and run.eta_s is not None:
        result["estimatedEndDateTime"] = _time(timezone.now() + timedelta(seconds=run.eta_s))
    state = _job_base(job, status, updated=run.heartbeat_at or run.finished_at or job.updated_at)
    state["result"] = result
    if run.status == TrainingRun.Status.FAILED:
        state["errors"] = [{"code": "InternalServerError", "message": run.error or "Training failed."}]
    if run.warnings:
        state["warnings"] = [{"code": "TrainingWarning", "message": str(w)} for w in run.warnings]
    return state


def import_job_state(job: AuthoringJob) -> dict[str, Any]:
    imported = job.import_job
    if imported is None:
        return _job_base(job)
    state = _job_base(job, _AZURE_STATUS[ImportJob.Status(imported.status)], updated=imported.updated_at)
    report = ImportReport.from_dict(imported.report)
    if imported.status == ImportJob.Status.FAILED:
        errors = [{"code": "InvalidRequest", "message": str(problem)} for problem in report.problems[:50]]
        state["errors"] = errors or [{"code": "InvalidRequest", "message": imported.error or report.summary()}]
    warnings = [
        {"code": "DocumentAlreadyExists", "message": f"{problem} (kept as stored; nothing was merged)"}
        for problem in report.already_present[:50]
    ]
    if imported.finished and report.duplicates:
        warnings.append({"code": "DuplicateDocuments", "message": report.summary()})
    if warnings:
        state["warnings"] = warnings
    return state


def job_state(job: AuthoringJob) -> dict[str, Any]:
    if job.kind == AuthoringJob.Kind.TRAIN:
        return training_job_state(job)
    if job.kind == AuthoringJob.Kind.IMPORT and job.import_job_id:
        return import_job_state(job)
    return _job_base(job)


def _retry_headers(state: dict[str, Any]) -> dict[str, str]:
    finished = state["status"] in ("succeeded", "failed", "cancelled", "partiallyCompleted")
    return {} if finished else {"Retry-After": str(POLL_AFTER_S)}


def model_state(model: TrainedModel) -> dict[str, Any]:
    return {
        "label": model.name,
        "modelId": f"{model.name}-{model.created_at:%Y%m%dT%H%M%S}-{model.pk}",
        "lastTrainedDateTime": _time(model.created_at),
        "lastTrainingDurationInSeconds": round(model.duration_s),
        "modelExpirationDate": _date(model.created_at + MODEL_EXPIRATION),
        "modelTrainingConfigVersion": TRAINING_CONFIG_VERSIONS[0],
        "hasSnapshot": True,
    }


def deployment_state(deployment: Deployment) -> dict[str, Any]:
    model = deployment.model
    return {
        "deploymentName": deployment.name,
        "modelId": model_state(model)["modelId"],
        "lastTrainedDateTime": _time(model.created_at),
        "lastDeployedDateTime": _time(deployment.deployed_at),
        "deploymentExpirationDate": _date(deployment.deployed_at + MODEL_EXPIRATION),
        "modelTrainingConfigVersion": TRAINING_CONFIG_VERSIONS[0],
        # Azure lists the extra regional resources a deployment is assigned to; nerlab serves every deployment from
        # itself, so none. (Azure's clients read it as a list: a missing key would break `for r in ...` loops.)
        "assignedResources": [],
    }


# --------------------------------------------------------------------------------------------- projects


class ProjectListApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        user = self._user(request)
        version = _api_version(request)
        items = [project_metadata(p) for p in project_list_for_user(user=user)]
        return Response(_page(request, items, "portability:azure_project_list", version))


class ProjectDetailApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str) -> Response:
        project, _ = self.project_and_version(request, project_name, Permission.VIEW)
        return Response(project_metadata(project))

    @extend_schema(exclude=True)
    def patch(self, request: Request, project_name: str) -> Response:
        existing = self.project_if_any(request, project_name, Permission.EDIT_PROJECT)
        user = self._user(request)
        _api_version(request)
        body = self.body(request)
        kind = body.get("projectKind")
        if kind is not None and str(kind).lower() not in {"customentityrecognition", "customnamedentityrecognition"}:
            raise invalid_request(
                f"projectKind {kind!r} is not supported: nerlab serves CustomEntityRecognition projects."
            )
        if body.get("projectName") not in (None, project_name):
            raise invalid_request("projectName in the body must match the project name in the URL.")
        project, created = services.azure_project_create_or_update(
            user=user, name=project_name, existing=existing, body=body
        )
        return Response(project_metadata(project), status=201 if created else 200)

    @extend_schema(exclude=True)
    def delete(self, request: Request, project_name: str) -> Response:
        project, version = self.project_and_version(request, project_name, Permission.DELETE_PROJECT)
        job = services.azure_project_delete(user=request.user, project=project, api_version=version)
        return self.accepted(request, "portability:azure_deletion_job", version, job_id=job.pk)


class DeletionJobApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request, job_id: str) -> Response:
        user = self._user(request)
        _api_version(request)
        try:
            job = selectors.deletion_job_get(user=user, job_id=job_id)
        except Http404:
            raise _not_found(f"The deletion job {job_id} was not found.", "JobNotFound") from None
        return Response(job_state(job))


class TrainingConfigVersionsApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        self._user(request)
        version = _api_version(request)
        expiry = _date(timezone.now() + MODEL_EXPIRATION)
        items = [{"trainingConfigVersion": TRAINING_CONFIG_VERSIONS[0], "modelExpirationDate": expiry}]
        return Response(_page(request, items, "portability:azure_training_config_versions", version))


# --------------------------------------------------------------------------------------------- jobs


def _find_job(project: Project, job_id: str, kinds: tuple[str, ...], target: str | None = None) -> AuthoringJob:
    try:
        return selectors.authoring_job_get(project=project, job_id=job_id, kinds=kinds, target=target)
    except Http404:
        raise _not_found(f"The job {job_id} was not found in project {project.name!r}.", "JobNotFound") from None


class _ProjectListApi(_AuthoringView):
    """One of a project's lists (training jobs, models, deployments), in Azure's pages under ``url_name``."""

    url_name: str

    def items(self, project: Project) -> list[dict[str, Any]]:
        raise NotImplementedError

    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str) -> Response:
        project, version = self.project_and_version(request, project_name)
        return Response(_page(request, self.items(project), self.url_name, version, project_name=project.name))


class _JobApi(_AuthoringView):
    kinds: tuple[str, ...] = ()

    def job(self, project: Project, job_id: str, target: str | None = None) -> AuthoringJob:
        return _find_job(project, job_id, self.kinds, target)

    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str, **kwargs: str) -> Response:
        project, _ = self.project_and_version(request, project_name)
        job_id = kwargs[self.job_kwarg]
        state = job_state(self.job(project, job_id, kwargs.get("deployment_name")))
        if self.kinds == (AuthoringJob.Kind.EXPORT,) and state["status"] == "succeeded":
            state["resultUrl"] = request.build_absolute_uri(
                _reverse("portability:azure_export_result", project_name=project.name, export_job_id=job_id)
                + f"?api-version={request.query_params['api-version']}"
            )
        return Response(state, headers=_retry_headers(state))


class ImportApi(_AuthoringView):
    @extend_schema(exclude=True)
    def post(self, request: Request, project_name: str) -> Response:
        project = self.project_if_any(request, project_name, Permission.MANAGE_DOCUMENTS)
        user = self._user(request)
        version = _api_version(request)
        body = self.body(request)
        metadata = body.get("metadata")
        if isinstance(metadata, dict) and metadata.get("projectName") not in (None, "", project_name):
            raise invalid_request(
                f"metadata.projectName {metadata.get('projectName')!r} does not match the project in the URL "
                f"({project_name!r})."
            )
        job = services.azure_import_start(
            user=user, project=project, project_name=project_name, api_version=version, body=body
        )
        return self.accepted(
            request, "portability:azure_import_job", version, project_name=project_name, authoring_import_job_id=job.pk
        )


class ImportJobApi(_JobApi):
    kinds = (AuthoringJob.Kind.IMPORT,)
    job_kwarg = "authoring_import_job_id"
    permission = Permission.MANAGE_DOCUMENTS


class ExportApi(_AuthoringView):
    @extend_schema(exclude=True)
    def post(self, request: Request, project_name: str) -> Response:
        # MANAGE_DOCUMENTS: the export is a copy of everything.
        project, version = self.project_and_version(request, project_name, Permission.MANAGE_DOCUMENTS)
        index_type = request.query_params.get("stringIndexType", "Utf16CodeUnit")
        if index_type != "Utf16CodeUnit":
            raise invalid_request("stringIndexType must be Utf16CodeUnit (the only unit of Azure's labels file).")
        job = services.azure_export_run(
            user=request.user,
            project=project,
            api_version=version,
            trained_model_label=request.query_params.get("trainedModelLabel", ""),
        )
        return self.accepted(
            request, "portability:azure_export_job", version, project_name=project.name, export_job_id=job.pk
        )


class ExportJobApi(_JobApi):
    kinds = (AuthoringJob.Kind.EXPORT,)
    job_kwarg = "export_job_id"
    permission = Permission.MANAGE_DOCUMENTS


class ExportResultApi(_JobApi):
    kinds = (AuthoringJob.Kind.EXPORT,)
    job_kwarg = "export_job_id"
    permission = Permission.MANAGE_DOCUMENTS

    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str, **kwargs: str) -> Response:
        project, _ = self.project_and_version(request, project_name)
        job = self.job(project, kwargs[self.job_kwarg])
        if not job.result_file or not default_storage.exists(job.result_file):
            raise _not_found("The export's result is no longer stored; export again.", "JobNotFound")
        with default_storage.open(job.result_file, "rb") as handle:
            return HttpResponse(handle.read(), content_type="application/json")  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- training


class TrainApi(_AuthoringView):
    @extend_schema(exclude=True)
    def post(self, request: Request, project_name: str) -> Response:
        project, version = self.project_and_version(request, project_name, Permission.TRAIN)
        body = self.body(request)
        label = body.get("modelLabel")
        if not isinstance(label, str) or not label:
            raise invalid_request("modelLabel is required: the name of the model to train.")
        config_version = body.get("trainingConfigVersion") or "latest"
        if not isinstance(config_version, str):
            raise invalid_request("trainingConfigVersion must be a string such as 'latest'.")
        options = body.get("evaluationOptions")
        if options is not None and not isinstance(options, dict):
            raise invalid_request("evaluationOptions must be an object: {kind: percentage|manual, ...}.")
        job = services.azure_train_start(
            user=request.user,
            project=project,
            api_version=version,
            model_label=label,
            training_config_version=config_version,
            evaluation_options=options,
        )
        return self.accepted(
            request, "portability:azure_train_job", version, project_name=project.name, train_job_id=job.pk
        )


class TrainJobListApi(_ProjectListApi):
    url_name = "portability:azure_train_jobs"

    def items(self, project: Project) -> list[dict[str, Any]]:
        return [training_job_state(job) for job in selectors.training_jobs_list(project=project)]


class TrainJobApi(_JobApi):
    kinds = (AuthoringJob.Kind.TRAIN,)
    job_kwarg = "train_job_id"


class TrainJobCancelApi(_AuthoringView):
    job_kwarg = "train_job_id"

    @extend_schema(exclude=True)
    def post(self, request: Request, project_name: str, train_job_id: str) -> Response:
        project, version = self.project_and_version(request, project_name, Permission.TRAIN)
        job = _find_job(project, train_job_id, (AuthoringJob.Kind.TRAIN,))
        services.azure_train_cancel(job=job)
        return self.accepted(
            request, "portability:azure_train_job", version, project_name=project.name, train_job_id=job.pk
        )


# --------------------------------------------------------------------------------------------- models


def _model(project: Project, label: str) -> TrainedModel:
    model = TrainedModel.objects.filter(project=project, name=label).first()
    if model is None:
        raise _not_found(f"The trained model {label!r} was not found in project {project.name!r}.", "ModelNotFound")
    return model


class ModelListApi(_ProjectListApi):
    url_name = "portability:azure_model_list"

    def items(self, project: Project) -> list[dict[str, Any]]:
        return [model_state(m) for m in TrainedModel.objects.filter(project=project).order_by("created_at")]


class ModelDetailApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str, model_name: str) -> Response:
        project, _ = self.project_and_version(request, project_name)
        return Response(model_state(_model(project, model_name)))

    @extend_schema(exclude=True)
    def delete(self, request: Request, project_name: str, model_name: str) -> Response:
        from evaluation.services import trained_model_delete

        project, _ = self.project_and_version(request, project_name, Permission.TRAIN)
        trained_model_delete(model=_model(project, model_name))
        return Response(status=204)


def _evaluation(model: TrainedModel) -> Evaluation:
    evaluation = Evaluation.objects.filter(model=model).first()
    if evaluation is None:
        raise _not_found(f"The model {model.name!r} has no evaluation.", "EvaluationNotFound")
    return evaluation


def _evaluation_options(model: TrainedModel) -> dict[str, Any]:
    # What the :train call asked for. The snapshot alone cannot tell: a percentage split whose documents all carry
    # a manual Train/Test assignment gives the same partition, and nerlab then reuses the (manual) snapshot.
    job = selectors.training_job_get_for_run(run=model.run)
    asked = job.details.get("evaluationOptions") if job is not None else None
    if isinstance(asked, dict) and asked.get("kind") in ("percentage", "manual"):
        return asked
    snapshot = model.run.snapshot
    if snapshot.split_mode == Project.SplitMode.MANUAL:
        return {"kind": "manual"}
    return {
        "kind": "percentage",
        "trainingSplitPercentage": 100 - snapshot.test_percent,
        "testingSplitPercentage": snapshot.test_percent,
    }


class EvaluationSummaryApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str, model_name: str) -> Response:
        project, _ = self.project_and_version(request, project_name)
        model = _model(project, model_name)
        report = EvaluationReport.from_dict(_evaluation(model).report)
        return Response(
            {
                "projectKind": PROJECT_KIND,
                "customEntityRecognitionEvaluation": azure_summary(report),
                "evaluationOptions": _evaluation_options(model),
            }
        )


class EvaluationResultApi(_AuthoringView):
    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str, model_name: str) -> Response:
        project, version = self.project_and_version(request, project_name)
        index_type = request.query_params.get("stringIndexType", "Utf16CodeUnit")
        if index_type not in ("Utf16CodeUnit", "UnicodeCodePoint"):
            raise invalid_request("stringIndexType must be Utf16CodeUnit or UnicodeCodePoint.")
        model = _model(project, model_name)
        evaluation = _evaluation(model)
        tests = snapshot_test_documents(snapshot=model.run.snapshot)
        items = []
        for prediction in evaluation.predictions.order_by("position"):
            doc = tests[prediction.position] if prediction.position < len(tests) else None
            if doc is None:
                continue
            mapper = OffsetMapper(doc.text)

            def entity(label: str, start: int, end: int, mapper: OffsetMapper = mapper) -> dict[str, Any]:
                if index_type == "Utf16CodeUnit":
                    start, end = mapper.to_utf16(start), mapper.to_utf16(end)
                return {"category": label, "offset": start, "length": end - start}

            length = mapper.utf16_length if index_type == "Utf16CodeUnit" else len(doc.text)
            items.append(
                {
                    "location": doc.name,
                    "language": doc.language or project.language,
                    "projectKind": PROJECT_KIND,
                    "customEntityRecognitionResult": {
                        "entities": [
                            {
                                "expectedEntities": [entity(s.label, s.start, s.end) for s in doc.sorted_spans()],
                                "predictedEntities": [
                                    entity(s["label"], s["start"], s["end"]) for s in prediction.spans
                                ],
                                "regionOffset": 0,
                                "regionLength": length,
                            }
                        ]
                    },
                }
            )
        return Response(
            _page(
                request,
                items,
                "portability:azure_evaluation_result",
                version,
                project_name=project.name,
                model_name=model.name,
            )
        )


# --------------------------------------------------------------------------------------------- deployments


class DeploymentListApi(_ProjectListApi):
    url_name = "portability:azure_deployment_list"

    def items(self, project: Project) -> list[dict[str, Any]]:
        return [deployment_state(d) for d in Deployment.objects.filter(project=project).select_related("model")]


class DeploymentDetailApi(_AuthoringView):
    def _deployment(self, project: Project, name: str) -> Deployment:
        deployment = Deployment.objects.filter(project=project, name=name).select_related("model").first()
        if deployment is None:
            raise _not_found(
                f"The deployment {name!r} was not found in project {project.name!r}.", "DeploymentNotFound"
            )
        return deployment

    def _job_accepted(
        self, request: Request, version: str, project: Project, deployment_name: str, job: AuthoringJob
    ) -> Response:
        """202 with the deploy or delete job's URL, where Azure's clients poll it."""
        return self.accepted(
            request,
            "portability:azure_deployment_job",
            version,
            project_name=project.name,
            deployment_name=deployment_name,
            deployment_job_id=job.pk,
        )

    @extend_schema(exclude=True)
    def get(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project, _ = self.project_and_version(request, project_name)
        return Response(deployment_state(self._deployment(project, deployment_name)))

    @extend_schema(exclude=True)
    def put(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project, version = self.project_and_version(request, project_name, Permission.DEPLOY)
        label = self.body(request).get("trainedModelLabel")
        if not isinstance(label, str) or not label:
            raise invalid_request("trainedModelLabel is required: the label of the trained model to deploy.")
        _model(project, label)
        job = services.azure_deploy(
            user=request.user, project=project, api_version=version, deployment_name=deployment_name, model_label=label
        )
        return self._job_accepted(request, version, project, deployment_name, job)

    @extend_schema(exclude=True)
    def delete(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project, version = self.project_and_version(request, project_name, Permission.DEPLOY)
        self._deployment(project, deployment_name)
        job = services.azure_deployment_delete(
            user=request.user, project=project, api_version=version, deployment_name=deployment_name
        )
        return self._job_accepted(request, version, project, deployment_name, job)


class DeploymentJobApi(_JobApi):
    kinds = (AuthoringJob.Kind.DEPLOY, AuthoringJob.Kind.DELETE_DEPLOYMENT)
    job_kwarg = "deployment_job_id"


class SwapApi(_AuthoringView):
    @extend_schema(exclude=True)
    def post(self, request: Request, project_name: str) -> Response:
        project, version = self.project_and_version(request, project_name, Permission.DEPLOY)
        body = self.body(request)
        first, second = body.get("firstDeploymentName"), body.get("secondDeploymentName")
        if not isinstance(first, str) or not isinstance(second, str) or not first or not second:
            raise invalid_request("firstDeploymentName and secondDeploymentName are required.")
        for name in (first, second):
            if not Deployment.objects.filter(project=project, name=name).exists():
                raise _not_found(
                    f"The deployment {name!r} was not found in project {project.name!r}.", "DeploymentNotFound"
                )
        job = services.azure_swap(user=request.user, project=project, api_version=version, first=first, second=second)
        return self.accepted(
            request, "portability:azure_swap_job", version, project_name=project.name, swap_job_id=job.pk
        )


class SwapJobApi(_JobApi):
    kinds = (AuthoringJob.Kind.SWAP,)
    job_kwarg = "swap_job_id"

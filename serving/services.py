"""Deploying models under names, and predicting through a deployment (native API, Azure runtime, "Try it").

Writes follow the house pattern (build, ``full_clean``, save, inside ``transaction.atomic``). Prediction is one
function, ``deployment_predict``: it resolves the deployment name to a model (one query, so a swap takes effect on
the next request), checks the request against Azure's limits, runs the cached model and converts offsets to the
requested unit. The native API, the Azure-compatible jobs and the "Try it" page all call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from evaluation.model_files import model_files_stamp
from evaluation.models import TrainedModel
from ner import limits
from ner.calibration import CalibrationMap
from ner.offsets import OffsetMapper, TextElementMapper, text_element_length
from ner.predict import ModelLoadError, ScoredSpan
from projects.jobs import job_heartbeat, job_lost_reason, job_recovery_verdict, jobs_sweep
from projects.models import ApiKey, Project
from serving.azure_wire import (
    STRING_INDEX_TYPES,
    TEXT_ELEMENTS,
    UNICODE_CODE_POINT,
    UTF16_CODE_UNIT,
    AnalyzeTask,
    DocumentInput,
    azure_error,
    task_item,
)
from serving.cache import ModelRef, model_cache
from serving.models import AnalyzeJob, Deployment

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

JOB_RETENTION = timedelta(hours=24)
# URL words under deployments/ that cannot be deployment names.
RESERVED_NAMES = frozenset({"swap"})


# --- deployments ---------------------------------------------------------------------------------------------------


def deployment_create_or_replace(
    *, project: Project, name: str, model: TrainedModel, user: AbstractBaseUser | None = None
) -> tuple[Deployment, bool]:
    """Deploy ``model`` as ``name``; an existing deployment of that name is pointed at the new model (Azure's
    "redeploy"). Returns the deployment and whether it was created. At most DEPLOYMENTS_MAX per project."""
    with transaction.atomic():
        # The project row serialises deploys, so two concurrent requests cannot both take the tenth slot.
        Project.objects.select_for_update().only("pk").get(pk=project.pk)
        if name.lower() in RESERVED_NAMES:
            raise ValidationError({"name": f"{name!r} is reserved (it names the swap action); choose another name."})
        if model.project_id != project.pk:
            raise ValidationError({"model": "No such model in this project."})
        deployment = Deployment.objects.select_for_update().filter(project=project, name=name).first()
        created = deployment is None
        if deployment is None:
            count = Deployment.objects.filter(project=project).count()
            if count >= limits.DEPLOYMENTS_MAX:
                raise ValidationError(
                    f"{project.name} already has {count} deployments, the most a project may have "
                    f"({limits.DEPLOYMENTS_MAX}); delete one or redeploy under an existing name."
                )
            deployment = Deployment(project=project, name=name)
        deployment.model = model
        deployment.deployed_by = user  # type: ignore[assignment]
        deployment.deployed_at = timezone.now()
        deployment.full_clean(validate_constraints=False)  # the unique name is handled above, under the lock
        deployment.save()
    return deployment, created


def deployment_swap(
    *, project: Project, first_name: str, second_name: str, user: AbstractBaseUser | None = None
) -> tuple[Deployment, Deployment]:
    """Exchange the models of two deployments in one transaction (both rows locked), so every request sees
    either both old assignments or both new ones."""
    if first_name == second_name:
        raise ValidationError("Choose two different deployments to swap.")
    with transaction.atomic():
        # Lock in primary-key order: two swaps of the same pair in opposite order cannot deadlock.
        rows = {
            row.name: row
            for row in Deployment.objects.select_for_update()
            .filter(project=project, name__in=[first_name, second_name])
            .order_by("pk")
        }
        missing = [name for name in (first_name, second_name) if name not in rows]
        if missing:
            raise Http404(f"No deployment named {missing[0]!r} in this project.")
        first, second = rows[first_name], rows[second_name]
        now = timezone.now()
        first.model_id, second.model_id = second.model_id, first.model_id
        for row in (first, second):
            row.deployed_at = now
            row.deployed_by = user  # type: ignore[assignment]
            row.save(update_fields=["model", "deployed_at", "deployed_by", "updated_at"])
    return first, second


def deployment_delete(*, deployment: Deployment) -> None:
    """Remove the name; the model stays (it can be deployed again)."""
    with transaction.atomic():
        deployment.delete()


# --- prediction ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entity:
    text: str
    category: str
    offset: int
    length: int
    confidence_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "category": self.category,
            "offset": self.offset,
            "length": self.length,
            "confidenceScore": self.confidence_score,
        }


@dataclass(frozen=True, slots=True)
class DocumentResult:
    id: str
    entities: tuple[Entity, ...]
    warnings: tuple[dict[str, str], ...] = ()
    # Code point offsets of each entity (the "Try it" page highlights with these whatever the index type).
    spans: tuple[ScoredSpan, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "entities": [e.to_dict() for e in self.entities], "warnings": list(self.warnings)}


@dataclass(frozen=True, slots=True)
class Prediction:
    deployment: Deployment
    documents: tuple[DocumentResult, ...]
    string_index_type: str
    # The calibration map fitted when the model was trained, which the scores went through (its ``folds``: fold models
    # whose out-of-fold predictions it was fitted on besides the dev documents'); None for a model whose dev documents
    # held too few entities, whose scores are raw (usually too high).
    calibration: CalibrationMap | None = None


class PredictionError(ValidationError):
    """A request the prediction API refuses as a whole (400). ``code`` is Azure's inner error code."""

    def __init__(self, message: str, code: str = "InvalidDocumentBatch") -> None:
        super().__init__(message, code=code)
        self.azure_code = code


class PredictionUnavailable(RuntimeError):
    """The deployed model's files cannot be loaded (deleted from storage, corrupt); the server's fault."""


def prediction_batch_check(*, documents: Sequence[DocumentInput]) -> int:
    """Azure's per-request limits: at most 25 documents, and 125,000 characters in all, counted in text elements
    (what Azure calls characters: StringInfo.LengthInTextElements). Returns that count."""
    return _batch_check(documents, exact_count=True)


def _batch_check(documents: Sequence[DocumentInput], *, exact_count: bool) -> int:
    """The checks of ``prediction_batch_check``. Counting text elements costs ~2 ms per 1,000 characters, and a
    text never holds more text elements than code points, so without ``exact_count`` the count is skipped when
    the code points alone are within the limit (the returned number is then the code point count)."""
    if not documents:
        raise PredictionError("The request has no documents; send at least one.", code="MissingInputDocuments")
    if len(documents) > limits.PREDICT_DOCUMENTS_MAX:
        raise PredictionError(
            f"The request has {len(documents)} documents; the limit is {limits.PREDICT_DOCUMENTS_MAX} per request."
        )
    ids = [document.id for document in documents]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise PredictionError(f"Document ids must be unique within a request: {', '.join(duplicates)} repeated.")
    total = sum(len(document.text) for document in documents)
    if exact_count or total > limits.PREDICT_CHARS_MAX:
        total = sum(text_element_length(document.text) for document in documents)
    if total > limits.PREDICT_CHARS_MAX:
        raise PredictionError(
            f"The documents hold {total:,} characters in all; the limit is {limits.PREDICT_CHARS_MAX:,} "
            "characters per request (counted as text elements). Split them over several requests."
        )
    return total


def document_problem(document: DocumentInput) -> str | None:
    """Why one document cannot be analysed, or None (Azure reports these per document, not for the batch)."""
    if not document.text.strip():
        return f"Document {document.id!r} has no text; send at least one non-blank character."
    return None


def deployment_resolve(*, project: Project, name: str) -> Deployment:
    """The deployment with its model's id and files, read fresh (one query) on every request."""
    deployment = (
        Deployment.objects.select_related("model")
        .only(
            "pk",
            "name",
            "project_id",
            "deployed_at",
            "model__id",
            "model__name",
            "model__storage_path",
            "model__created_at",
            "model__labels",
        )
        .filter(project=project, name=name)
        .first()
    )
    if deployment is None:
        raise Http404(f"No deployment named {name!r} in this project.")
    return deployment


def deployment_models_preload(*, limit: int | None = None) -> int:
    """Load the models behind the most recently deployed deployments into this process's cache (at most the
    cache's size, or ``limit``), so the first requests of a fresh web worker do not wait for a model to load.
    Returns how many were loaded or already cached; a model whose files cannot be loaded is skipped (its
    requests answer 503 with the reason, as always)."""
    cache = model_cache()
    count = cache.size if limit is None else max(0, min(limit, cache.size))
    deployments = list(
        Deployment.objects.select_related("model")
        .only("pk", "deployed_at", "model__id", "model__storage_path", "model__created_at")
        .order_by("-deployed_at", "-pk")[: limits.DEPLOYMENTS_MAX * 10]
    )
    loaded: list[int] = []
    for deployment in deployments:
        model = deployment.model
        if len(loaded) >= count or model.pk in loaded:
            continue
        try:
            cache.get(_model_ref(model))
        except (ModelLoadError, OSError):
            continue
        loaded.append(model.pk)
    return len(loaded)


def _model_ref(model: TrainedModel) -> ModelRef:
    return ModelRef(model_id=model.pk, storage_path=model.storage_path, stamp=model_files_stamp(model))


def _entities(text: str, spans: Sequence[ScoredSpan], string_index_type: str) -> tuple[Entity, ...]:
    utf16 = OffsetMapper(text) if string_index_type == UTF16_CODE_UNIT else None
    elements = TextElementMapper(text) if string_index_type == TEXT_ELEMENTS else None
    entities = []
    for span in spans:
        if utf16 is not None:
            start, end = utf16.to_utf16(span.start), utf16.to_utf16(span.end)
        elif elements is not None:
            start, end = elements.start_of(span.start), elements.end_of(span.end)
        else:
            start, end = span.start, span.end
        confidence = 1.0 if span.confidence is None else span.confidence
        entities.append(Entity(text[span.start : span.end], span.label, start, end - start, round(confidence, 4)))
    return tuple(entities)


def deployment_predict(
    *,
    deployment: Deployment,
    documents: Sequence[DocumentInput],
    string_index_type: str = UNICODE_CODE_POINT,
) -> Prediction:
    """Entities with confidence scores for each document, through ``deployment`` (from ``deployment_resolve``,
    read in this request so that a swap takes effect at once).

    Raises PredictionError (the request breaks a limit or has a blank document) or PredictionUnavailable (the
    model's files cannot be loaded).
    """
    if string_index_type not in STRING_INDEX_TYPES:
        raise PredictionError(
            f"stringIndexType {string_index_type!r} is not supported; use one of {', '.join(STRING_INDEX_TYPES)}.",
            code="InvalidParameterValue",
        )
    _batch_check(documents, exact_count=False)
    for document in documents:
        problem = document_problem(document)
        if problem is not None:
            raise PredictionError(problem, code="InvalidDocument")
    results, calibration = _predict_with(deployment, documents, string_index_type)
    return Prediction(
        deployment=deployment,
        documents=tuple(results),
        string_index_type=string_index_type,
        calibration=calibration,
    )


def _predict_with(
    deployment: Deployment, documents: Sequence[DocumentInput], string_index_type: str
) -> tuple[list[DocumentResult], CalibrationMap | None]:
    """The results, and the calibration map their confidence scores went through (None: raw scores)."""
    try:
        loaded = model_cache().get(_model_ref(deployment.model))
    except (ModelLoadError, OSError) as error:
        raise PredictionUnavailable(
            f"The model {deployment.model.name!r} deployed as {deployment.name!r} cannot be loaded: {error}"
        ) from error
    found = loaded.predict([document.text for document in documents])
    results = [
        DocumentResult(
            id=document.id,
            entities=_entities(document.text, spans, string_index_type),
            spans=tuple(spans),
        )
        for document, spans in zip(documents, found, strict=True)
    ]
    return results, loaded.predictor.calibration


# --- Azure-compatible analyze jobs ---------------------------------------------------------------------------------


def analyze_job_create(
    *,
    user: AbstractBaseUser,
    api_key: ApiKey | None,
    api_version: str,
    display_name: str,
    documents: Sequence[DocumentInput],
    tasks: Sequence[AnalyzeTask],
    character_count: int,
) -> AnalyzeJob:
    """Store the job and queue it for a worker once the row is committed."""
    now = timezone.now()
    job = AnalyzeJob(
        user=user,
        api_key=api_key,
        api_version=api_version,
        display_name=display_name[:200],
        request={
            "documents": [{"id": d.id, "text": d.text, "language": d.language} for d in documents],
            "tasks": [task.to_dict() for task in tasks],
        },
        character_count=character_count,
        expires_at=now + JOB_RETENTION,
    )
    with transaction.atomic():
        job.full_clean()
        job.save()
        job.projects.set(Project.objects.filter(name__in={task.project_name for task in tasks}))
        # No recovery sweep here (unlike the other kinds): analyze jobs come by the API, many a second.
        transaction.on_commit(partial(_send, str(job.pk)))
    return job


def _send(job_id: str) -> None:
    from serving.tasks import analyze_job_task  # the task module imports this one

    analyze_job_task.delay(job_id)


def analyze_jobs_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for analyze jobs: a running job silent since ``stale_before`` is queued again (its
    results are replaced), or failed after ``NERLAB_JOB_ATTEMPTS`` starts; a waiting one sent before then is sent
    again."""
    active = AnalyzeJob.objects.filter(status__in=AnalyzeJob.ACTIVE)
    return jobs_sweep(active, sign_of_life="updated_at", stale_before=stale_before, recover=_analyze_job_recover)


def _analyze_job_recover(job: AnalyzeJob) -> None:
    if job.status == AnalyzeJob.Status.RUNNING and job_recovery_verdict(attempts=job.attempts) == "fail":
        reason = job_lost_reason(what="job", attempts=job.attempts)
        job.status = AnalyzeJob.Status.FAILED
        job.task_results = [
            {**task_item(task, "failed", None), "error": azure_error("InternalServerError", reason)}
            for task in job.request["tasks"]
        ]
    else:
        job.status = AnalyzeJob.Status.NOT_STARTED
        transaction.on_commit(partial(_send, str(job.pk)))
    job.save(update_fields=["status", "task_results", "updated_at"])


def analyze_job_execute(*, job_id: str) -> AnalyzeJob | None:
    """Run a job's tasks and store the results in Azure's shape. Idempotent: only a job not yet started is run
    (claimed under ``select_for_update``; one running is another worker's, and recovered if that worker dies),
    and its results are replaced, never appended."""
    with transaction.atomic():
        job = AnalyzeJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != AnalyzeJob.Status.NOT_STARTED:
            return job
        job.status = AnalyzeJob.Status.RUNNING
        job.attempts += 1
        job.save(update_fields=["status", "attempts", "updated_at"])

    documents = [DocumentInput(d["id"], d["text"], d.get("language")) for d in job.request["documents"]]
    items: list[dict[str, Any]] = []
    own = AnalyzeJob.objects.filter(pk=job.pk, status=AnalyzeJob.Status.RUNNING, attempts=job.attempts)
    with job_heartbeat(own.all, field="updated_at"):
        for task in job.request["tasks"]:
            items.append(_run_task(job, task, documents))
    failed = all(item["status"] == "failed" for item in items)
    # Only while this attempt still holds the job: recovery may have given up on it and queued it again.
    own.update(
        task_results=items,
        status=AnalyzeJob.Status.FAILED if failed else AnalyzeJob.Status.SUCCEEDED,
        updated_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _run_task(job: AnalyzeJob, task: dict[str, str], documents: list[DocumentInput]) -> dict[str, Any]:
    from projects.roles import Permission
    from projects.selectors import project_get_for_user  # the same access rule as at submission

    def failed(code: str, message: str, inner: str) -> dict[str, Any]:
        item = task_item(task, "failed", None)
        item["error"] = azure_error(code, message, inner)
        return item

    try:
        # Rights are checked again at run time: a key revoked or a member removed while the job waited stops it.
        api_key = ApiKey.objects.select_related("project").filter(pk=job.api_key_id, revoked_at__isnull=True).first()
        project = project_get_for_user(
            user=job.user, name=task["projectName"], permission=Permission.PREDICT, api_key=api_key
        )
        deployment = deployment_resolve(project=project, name=task["deploymentName"])
    except Http404 as error:
        return failed("NotFound", str(error), "ProjectNotFound")
    except PermissionDenied as error:
        return failed("Unauthorized", str(error) or "Not allowed.", "Unauthorized")

    errors: list[dict[str, Any]] = []
    good: list[DocumentInput] = []
    for document in documents:
        problem = document_problem(document)
        if problem is None:
            good.append(document)
        else:
            errors.append({"id": document.id, "error": azure_error("InvalidArgument", problem, "InvalidDocument")})
    try:
        results = _predict_with(deployment, good, task["stringIndexType"])[0] if good else []
    except PredictionUnavailable as error:
        return failed("InternalServerError", str(error), "ModelUnavailable")
    return task_item(
        task,
        "succeeded",
        {
            "documents": [result.to_dict() for result in results],
            "errors": errors,
            "projectName": task["projectName"],
            "deploymentName": task["deploymentName"],
            "modelVersion": deployment.model.name,
        },
    )


def analyze_job_cleanup(*, now: Any = None) -> int:
    """Delete jobs past their 24 hours; returns how many."""
    deleted, _ = AnalyzeJob.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted

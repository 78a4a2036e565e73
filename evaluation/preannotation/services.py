"""Pre-annotation: a trained model of the project runs over chosen documents in the background, and what it finds
becomes ``Suggestion`` rows that annotators accept or reject on the tagging page (labeling.suggestions).

The job row is the one thing the page polls. The worker reads the documents a batch at a time (a selection of
thousands never sits in memory at once), writes each batch's suggestions and the job's progress in one
transaction, and so resumes from ``done`` when a job whose worker was lost is queued again
(``preannotation_jobs_recover``, the projects.jobs rule). Each claim counts an attempt, and a worker writes a batch
only while the job is still running its attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evaluation.models import PreannotationJob, TrainedModel
from evaluation.preannotation.selectors import Scope, preannotation_candidates
from evaluation.selectors import trained_model_local_path
from labeling.models import Document
from labeling.suggestions.services import suggestions_replace
from projects.chunks import chunks
from projects.jobs import job_attempt_row, job_claim, job_finish, job_heartbeat, job_queue, jobs_recover_lost
from projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


logger = logging.getLogger(__name__)


# Documents read, predicted and written per step: bounds memory (a document holds up to 128k characters) and
# makes progress visible every few seconds.
BATCH_DOCUMENTS: Final = 32


def preannotation_job_start(
    *,
    project: Project,
    model: TrainedModel,
    document_ids: Sequence[int],
    min_confidence: float,
    user: AbstractBaseUser | None,
) -> PreannotationJob:
    """Queue a job running ``model`` over the project's documents among ``document_ids``; sent after commit."""
    if model.project_id != project.pk:
        raise ValidationError({"model": f"Model {model.name} does not belong to project {project.name}."})
    if not 0.0 <= min_confidence <= 1.0:
        raise ValidationError({"min_confidence": "The minimum confidence is between 0 and 1."})
    ids = preannotation_candidates(project=project, scope=Scope.IDS, ids=document_ids)
    if not ids:
        raise ValidationError({"documents": "There are no documents to pre-annotate in this choice."})
    with transaction.atomic():
        job = PreannotationJob(
            project=project,
            model=model,
            document_ids=ids,
            min_confidence=min_confidence,
            total=len(ids),
            created_by=user,
        )
        job_queue(job, send=_send)
    return job


def _send(job_id: int) -> None:
    from evaluation.tasks import preannotation_job_task  # tasks import this module lazily; keep it one way

    preannotation_job_task.delay(job_id)


class _Superseded(Exception):
    """Recovery gave up on this worker and queued the job again."""


def preannotation_jobs_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for pre-annotation: a running job silent since ``stale_before`` is queued again (it
    resumes from ``done``), or failed after ``NERLAB_JOB_ATTEMPTS`` starts; a queued one sent before then is sent
    again."""
    return jobs_recover_lost(PreannotationJob, stale_before=stale_before, what="pre-annotation", send=_send)


def _run(job: PreannotationJob) -> None:
    from ner.predict import load  # spaCy loads only in the worker that needs it

    model = job.model
    predictor = load(trained_model_local_path(model=model))
    remaining = list(job.document_ids)[job.done :]
    for batch in chunks(remaining, BATCH_DOCUMENTS):
        documents = list(
            Document.objects.filter(project_id=job.project_id, pk__in=batch).only("pk", "text", "project_id")
        )
        found = predictor.predict([document.text for document in documents], with_confidence=True)
        with transaction.atomic():
            if not job_attempt_row(job).select_for_update().exists():
                raise _Superseded
            created = 0
            for document, spans in zip(documents, found, strict=True):
                kept = [span for span in spans if (span.confidence or 0.0) >= job.min_confidence]
                created += suggestions_replace(document=document, model_name=model.name, spans=kept)
            # Deleted documents count as done: the job covers what was chosen, whatever happened to it since.
            PreannotationJob.objects.filter(pk=job.pk).update(
                done=F("done") + len(batch),
                suggestion_count=F("suggestion_count") + created,
                heartbeat_at=timezone.now(),
            )


def preannotation_job_execute(*, job_id: int) -> str:
    """Run one job (the Celery task's one service call): returns its final status, or "skipped" when the job is
    gone or had already finished, so running it twice changes nothing."""
    from ner.predict import ModelLoadError

    # A job queued again resumes from ``done``: its first start stays its start.
    outcome, _ = job_claim(PreannotationJob, job_id, keep_started=True)
    if outcome != "claimed":
        return "skipped"
    job = PreannotationJob.objects.select_related("model").get(pk=job_id)
    try:
        with job_heartbeat(partial(job_attempt_row, job)):
            _run(job)
    except _Superseded:
        return "superseded"
    except ModelLoadError as error:
        job_finish(job, PreannotationJob.Status.FAILED, f"The model could not be loaded: {error}")
        return PreannotationJob.Status.FAILED
    except Exception as error:  # the user watches the job row: every failure must land there
        logger.exception("Pre-annotation job %s failed", job.pk)
        job_finish(job, PreannotationJob.Status.FAILED, f"Pre-annotation failed ({type(error).__name__}: {error}).")
        return PreannotationJob.Status.FAILED
    job_finish(job, PreannotationJob.Status.SUCCEEDED)
    return PreannotationJob.Status.SUCCEEDED

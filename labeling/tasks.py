"""Celery tasks of the labeling app: interfaces only (a primary key in, one service call)."""

from __future__ import annotations

from celery import shared_task

from labeling import imports


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, name="labeling.import_job")
def import_job_task(self, job_id: int) -> str:  # type: ignore[no-untyped-def]
    """Import one uploaded file. A redelivered message for a finished job does nothing; one for a job another
    worker is still running comes back later, and runs it if that worker has died (the row went stale)."""
    outcome = imports.import_job_execute(job_id=job_id)
    if outcome == "busy":
        raise self.retry(countdown=int(imports.IMPORT_JOB_STALE.total_seconds()))
    return outcome

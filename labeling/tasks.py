"""Celery tasks of the labeling app: interfaces only (a primary key in, one service call)."""

from __future__ import annotations

from celery import shared_task

from labeling import imports


@shared_task(acks_late=True, reject_on_worker_lost=True, name="labeling.import_job")
def import_job_task(job_id: int) -> str:
    """Import one uploaded file. A message for a job that is finished, or that another worker has, does nothing:
    should that worker die, recovery (projects.jobs) queues the job again."""
    return imports.import_job_execute(job_id=job_id)

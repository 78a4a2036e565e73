"""Celery tasks of the labeling app: interfaces only (a primary key in, one service call)."""

from __future__ import annotations

from labeling import imports
from projects.jobs import job_task


@job_task("labeling.import_job")
def import_job_task(job_id: int) -> str:
    """Import one uploaded file. A message for a job that is finished, or that another worker has, does nothing:
    should that worker die, recovery (projects.jobs) queues the job again."""
    return imports.import_job_execute(job_id=job_id)

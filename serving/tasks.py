"""Celery tasks of the serving app: interfaces only (a primary key in, one service call)."""

from __future__ import annotations

from celery import shared_task

from projects.jobs import job_task
from serving import services


@job_task("serving.analyze_job")
def analyze_job_task(job_id: str) -> str:
    """Run one Azure-compatible analyze job. Safe to redeliver: a finished job is left as it is."""
    job = services.analyze_job_execute(job_id=job_id)
    return job.status if job is not None else "missing"


@shared_task(name="serving.analyze_job_cleanup")
def analyze_job_cleanup_task() -> int:
    """Delete analyze jobs older than 24 hours (schedule it hourly with Celery beat, or run the
    ``analyze_job_cleanup`` management command from cron)."""
    return services.analyze_job_cleanup()

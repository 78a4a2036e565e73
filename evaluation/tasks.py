"""Celery tasks of the evaluation app: interfaces only (a primary key in, one service call)."""

from __future__ import annotations

from celery import shared_task

from evaluation import services


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    name="evaluation.training_run",
)
def training_run_task(self, run_id: int) -> str:  # type: ignore[no-untyped-def]
    """Train, evaluate and save one run. A redelivered message for a finished run does nothing; one for a run
    that another worker is still training comes back later, and restarts it if that worker has died."""
    outcome = services.training_run_execute(run_id=run_id)
    if outcome == "busy":
        raise self.retry(countdown=services.HEARTBEAT_STALE_S)
    return outcome

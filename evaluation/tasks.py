"""Celery tasks of the evaluation app: interfaces only (a primary key in, one service call)."""

from __future__ import annotations

from evaluation import services
from projects.jobs import job_task


@job_task("evaluation.training_run")
def training_run_task(run_id: int) -> str:
    """Train, evaluate and save one run. A message for a run that is finished, or that another worker has, does
    nothing: should that worker die, recovery (projects.jobs) queues the run again."""
    return services.training_run_execute(run_id=run_id)


@job_task("evaluation.preannotation_job")
def preannotation_job_task(job_id: int) -> str:
    """Run one pre-annotation job (see evaluation.preannotation); a redelivered finished job does nothing."""
    from evaluation.preannotation.services import preannotation_job_execute

    return preannotation_job_execute(job_id=job_id)


@job_task("evaluation.uncertainty_refresh")
def uncertainty_refresh_task(model_id: int) -> str:
    """Score the project's untagged documents with a new model, for active learning (evaluation.active_learning)."""
    from evaluation.active_learning import uncertainty_refresh

    return uncertainty_refresh(model_id=model_id)


@job_task("evaluation.learning_curve")
def learning_curve_task(curve_id: int) -> str:
    """Train on each share of one learning curve in turn (evaluation.learning_curve)."""
    from evaluation.learning_curve.services import learning_curve_execute

    return learning_curve_execute(curve_id=curve_id)


@job_task("evaluation.speed_measurement")
def speed_measurement_task(measurement_id: int, deferrals: int = 0) -> str:
    """Measure one representation's speed on this server, unless it gives way to a waiting job (evaluation.speeds)."""
    from evaluation.speeds.services import speed_measurement_execute

    return speed_measurement_execute(measurement_id=measurement_id, deferrals=deferrals)


@job_task("evaluation.pretraining_run")
def pretraining_run_task(run_id: int) -> str:
    """Pretrain the CNN on the project's text (evaluation.pretraining); a redelivered finished run does nothing."""
    from evaluation.pretraining.services import pretraining_run_execute

    return pretraining_run_execute(run_id=run_id)

from __future__ import annotations

from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    verbose_name = "Training and evaluation"

    def ready(self) -> None:
        from evaluation.learning_curve.services import learning_curves_recover
        from evaluation.models import LearningCurve, PreannotationJob, PretrainingRun, TrainingRun
        from evaluation.preannotation.services import preannotation_jobs_recover
        from evaluation.pretraining.services import pretraining_runs_recover
        from evaluation.services import training_runs_recover
        from evaluation.speeds.services import speed_measurements_recover
        from projects.jobs import JobKind, job_kind_register, job_waiting

        job_kind_register(JobKind("training runs", training_runs_recover, waiting=job_waiting(TrainingRun)))
        job_kind_register(JobKind("learning curves", learning_curves_recover, waiting=job_waiting(LearningCurve)))
        job_kind_register(
            JobKind("pre-annotation jobs", preannotation_jobs_recover, waiting=job_waiting(PreannotationJob))
        )
        job_kind_register(JobKind("pretraining runs", pretraining_runs_recover, waiting=job_waiting(PretrainingRun)))
        # The server's own: a measurement gives way to the jobs above (evaluation.speeds).
        job_kind_register(JobKind("speed measurements", speed_measurements_recover))

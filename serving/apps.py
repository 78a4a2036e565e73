from __future__ import annotations

from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Deployments and prediction"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_delete

        from ner.compute import cap_blas_threads
        from projects.jobs import JobKind, job_kind_register, job_waiting
        from projects.models import ApiKey, Membership, Project
        from serving.authentication import access_caches_clear
        from serving.models import AnalyzeJob
        from serving.services import analyze_jobs_recover
        from serving.signals import analyze_jobs_delete_with_project

        job_kind_register(
            JobKind(
                "analyze jobs",
                analyze_jobs_recover,
                waiting=job_waiting(AnalyzeJob, status=AnalyzeJob.Status.NOT_STARTED),
            )
        )

        # Web and Celery workers predict side by side: one maths thread each (training raises it while it runs).
        cap_blas_threads()

        # Whatever could change who a key is or what it may do clears this process's access cache at once.
        for model in (ApiKey, Membership, Project, get_user_model()):
            post_save.connect(access_caches_clear, sender=model, dispatch_uid=f"serving-access-{model.__name__}-save")
            post_delete.connect(
                access_caches_clear, sender=model, dispatch_uid=f"serving-access-{model.__name__}-delete"
            )
        pre_delete.connect(
            analyze_jobs_delete_with_project, sender=Project, dispatch_uid="serving-project-analyze-jobs"
        )

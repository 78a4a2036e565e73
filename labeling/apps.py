from __future__ import annotations

from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labeling"

    def ready(self) -> None:
        from labeling.imports import import_jobs_recover
        from labeling.models import ImportJob
        from projects.jobs import JobKind, job_kind_register, job_waiting

        job_kind_register(
            JobKind(
                "imports", import_jobs_recover, stale_setting="NERLAB_IMPORT_STALE_S", waiting=job_waiting(ImportJob)
            )
        )

"""Whichever way a project is deleted (its page, the REST API, Azure's DELETE, the admin), the Azure runtime jobs
that predicted on it go too: the projects app sits below serving and cannot delete them itself, and a job's link
to its projects holds no row of the job, so no cascade reaches it."""

from __future__ import annotations

from typing import Any

from projects.models import Project
from serving.models import AnalyzeJob


def analyze_jobs_delete_with_project(sender: type[Project], instance: Project, **kwargs: Any) -> None:
    # pre_delete: the links still exist, and the jobs go in the project's own transaction.
    AnalyzeJob.objects.filter(projects=instance).delete()

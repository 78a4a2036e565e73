"""Reads of pretraining runs: the project's runs, one run, and those a training may start from."""

from __future__ import annotations

from django.db.models import QuerySet

from evaluation.models import PretrainingRun
from projects.models import Project
from projects.selectors import project_rows_newest_first, row_get_or_404


def pretraining_run_list(*, project: Project) -> QuerySet[PretrainingRun]:
    return project_rows_newest_first(PretrainingRun, project=project, related=("requested_by",))


def pretraining_run_get(*, project: Project, run_id: int) -> PretrainingRun:
    return row_get_or_404(
        pretraining_run_list(project=project).filter(pk=run_id), missing="No such pretraining in this project."
    )


def pretraining_runs_finished(*, project: Project) -> QuerySet[PretrainingRun]:
    """The runs whose weights a training may start from, newest first."""
    return pretraining_run_list(project=project).filter(status=PretrainingRun.Status.SUCCEEDED)

"""Reads of pretraining runs: the project's runs, one run, and those a training may start from."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from evaluation.models import PretrainingRun
from projects.models import Project


def pretraining_run_list(*, project: Project) -> QuerySet[PretrainingRun]:
    return PretrainingRun.objects.filter(project=project).select_related("requested_by").order_by("-created_at", "-id")


def pretraining_run_get(*, project: Project, run_id: int) -> PretrainingRun:
    run = pretraining_run_list(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such pretraining in this project.")
    return run


def pretraining_runs_finished(*, project: Project) -> QuerySet[PretrainingRun]:
    """The runs whose weights a training may start from, newest first."""
    return pretraining_run_list(project=project).filter(status=PretrainingRun.Status.SUCCEEDED)

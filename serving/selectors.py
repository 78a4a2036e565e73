"""Reads for deployments and analyze jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from evaluation.models import Evaluation, TrainedModel
from projects.models import Project
from serving.models import AnalyzeJob, Deployment

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def deployment_list(*, project: Project) -> QuerySet[Deployment]:
    return Deployment.objects.filter(project=project).select_related("model", "deployed_by").order_by("name")


def deployment_get(*, project: Project, name: str) -> Deployment:
    deployment = deployment_list(project=project).filter(name=name).first()
    if deployment is None:
        raise Http404(f"No deployment named {name!r} in this project.")
    return deployment


def deployable_model_list(*, project: Project) -> QuerySet[TrainedModel]:
    return TrainedModel.objects.filter(project=project).order_by("-created_at")


def deployable_model_get(*, project: Project, model_id: int) -> TrainedModel:
    model = deployable_model_list(project=project).filter(pk=model_id).first()
    if model is None:
        raise Http404("No such model in this project.")
    return model


@dataclass(frozen=True)
class EvaluationSummary:
    """The headline figures of a model's evaluation on its test set (fractions in [0, 1])."""

    micro_precision: float | None
    micro_recall: float | None
    micro_f1: float | None
    macro_f1: float | None
    test_documents: int | None
    per_type: list[dict[str, Any]]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def evaluation_summary(*, model: TrainedModel) -> EvaluationSummary | None:
    """What the deployment page shows of a model's evaluation, read from ``Evaluation.report``
    (``ner.metrics.EvaluationReport.to_dict()``); tolerant of missing keys, so an older report still shows."""
    evaluation = Evaluation.objects.filter(model=model).only("report").first()
    if evaluation is None or not isinstance(evaluation.report, dict):
        return None
    report: dict[str, Any] = evaluation.report
    micro = report.get("micro") or {}
    macro = report.get("macro") or {}
    per_type = []
    for row in report.get("types") or []:
        if isinstance(row, dict):
            exact = row.get("exact") or {}
            per_type.append(
                {
                    "label": str(row.get("label", "")),
                    "precision": _number(exact.get("precision")),
                    "recall": _number(exact.get("recall")),
                    "f1": _number(exact.get("f1")),
                    "gold": exact.get("tp", 0) + exact.get("fn", 0) if isinstance(exact.get("tp"), int) else None,
                }
            )
    return EvaluationSummary(
        micro_precision=_number(micro.get("precision")),
        micro_recall=_number(micro.get("recall")),
        micro_f1=_number(micro.get("f1", model.micro_f1)),
        macro_f1=_number(macro.get("f1")),
        test_documents=report.get("documents") if isinstance(report.get("documents"), int) else None,
        per_type=per_type,
    )


def analyze_job_get(*, user: AbstractBaseUser, job_id: str) -> AnalyzeJob:
    """A job its user submitted and that has not expired (Azure keeps results 24 hours)."""
    job = AnalyzeJob.objects.filter(pk=job_id, user=user, expires_at__gt=timezone.now()).first()
    if job is None:
        raise Http404(f"The job {job_id} was not found (results are kept 24 hours).")
    return job

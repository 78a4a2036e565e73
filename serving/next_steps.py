"""What to do next in a project, for the dashboard: the one place that looks across every app (serving sits on top
of them all), so the dashboard itself (projects) stays free of training and deployment imports.

The steps follow the newcomer's path: entity types, documents, tagging, training, reviewing the latest model,
deploying it. Each is offered only to a role that can take it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from evaluation.models import TrainedModel, TrainingRun
from labeling.models import Document
from ner import limits
from projects.models import Project
from projects.roles import ROLE_PERMISSIONS, Permission
from projects.selectors import membership_role
from serving.models import Deployment


@dataclass(frozen=True, slots=True)
class Step:
    text: str
    url: str
    action: str


@dataclass(slots=True)
class NextSteps:
    steps: list[Step] = field(default_factory=list)
    latest_run: TrainingRun | None = None
    latest_model: TrainedModel | None = None
    deployed_as: list[str] = field(default_factory=list)


def project_next_steps(*, project: Project, user: Any) -> NextSteps:
    role = membership_role(user=user, project=project)
    allowed = ROLE_PERMISSIONS[role] if role is not None else frozenset()
    name = project.name
    result = NextSteps(
        latest_run=TrainingRun.objects.filter(project=project).order_by("-created_at", "-id").first(),
        latest_model=TrainedModel.objects.filter(project=project).order_by("-created_at", "-id").first(),
    )
    model = result.latest_model
    if model is not None:
        result.deployed_as = list(
            Deployment.objects.filter(model=model).order_by("name").values_list("name", flat=True)
        )
    steps = result.steps
    if not project.entity_types.exists():
        if Permission.MANAGE_SCHEMA in allowed:
            steps.append(
                Step("Add the entity types you will tag.", reverse("projects:entity_type_list", args=[name]), "Add")
            )
        return result
    documents = Document.objects.filter(project=project)
    if not documents.exists():
        if Permission.MANAGE_DOCUMENTS in allowed:
            steps.append(Step("Upload documents to tag.", reverse("labeling:document_list", args=[name]), "Upload"))
        return result
    to_tag = documents.exclude(status=Document.Status.TAGGED).count()
    tagged = documents.count() - to_tag
    if to_tag and Permission.ANNOTATE in allowed:
        steps.append(
            Step(
                f"{to_tag} document{'s' if to_tag != 1 else ''} still to tag.",
                reverse("labeling:document_next", args=[name]),
                "Tag the next",
            )
        )
    training = result.latest_run is not None and result.latest_run.is_active
    if Permission.TRAIN in allowed and not training:
        if tagged < limits.TRAINING_DOCUMENTS_MIN:
            pass  # the dashboard says how many more training needs
        elif model is None:
            steps.append(
                Step(
                    f"{tagged} tagged documents: enough to train a first model.",
                    reverse("evaluation:training_run_list", args=[name]),
                    "Train",
                )
            )
        elif tagged > model.snapshot_documents:
            steps.append(
                Step(
                    f"{tagged - model.snapshot_documents} more tagged documents than {model.name} was trained on.",
                    reverse("evaluation:trained_model_retrain", args=[name, model.pk]),
                    "Retrain",
                )
            )
    if model is not None:
        steps.append(
            Step(
                f"See where {model.name} goes wrong.",
                reverse("evaluation:trained_model_detail", args=[name, model.pk]),
                "Review",
            )
        )
        if not result.deployed_as and Permission.DEPLOY in allowed:
            steps.append(
                Step(
                    f"Put {model.name} behind the prediction API.",
                    reverse("serving:deployment_deploy", args=[name]),
                    "Deploy",
                )
            )
    return result

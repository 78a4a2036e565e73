"""HTML pages: the deployments list, a deployment's page, deploy/redeploy, swap, delete, and "Try it".

Each page receives its project from ``projects.access.project_view`` (404 for non-members, 403 for a role without the
permission); writes go through one service each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from ner import limits
from projects.access import can, project_view
from projects.forms import service_errors
from projects.models import Project
from projects.roles import Permission
from serving import selectors, services
from serving.forms import DeployForm, SwapForm, TryItForm
from serving.next_steps import project_next_steps

if TYPE_CHECKING:
    from django.http import HttpRequest


@project_view(Permission.VIEW)
def deployment_list(request: HttpRequest, project: Project) -> HttpResponse:
    deployments = selectors.deployment_list(project=project)
    context = {
        "project": project,
        "deployments": deployments,
        "can_deploy": can(request, project, Permission.DEPLOY),
        "has_models": selectors.deployable_model_list(project=project).exists(),
        "swap_form": SwapForm(deployments=deployments) if len(deployments) >= 2 else None,
        "deployments_max": limits.DEPLOYMENTS_MAX,
    }
    return render(request, "serving/deployment_list.html", context)


@project_view(Permission.VIEW)
def deployment_detail(request: HttpRequest, project: Project, deployment_name: str) -> HttpResponse:
    deployment = selectors.deployment_get(project=project, name=deployment_name)
    context = {
        "project": project,
        "deployment": deployment,
        "summary": selectors.evaluation_summary(model=deployment.model),
        "can_deploy": can(request, project, Permission.DEPLOY),
        "can_predict": can(request, project, Permission.PREDICT),
    }
    return render(request, "serving/deployment_detail.html", context)


@project_view(Permission.DEPLOY, methods=["GET", "POST"])
def deployment_deploy(request: HttpRequest, project: Project) -> HttpResponse:
    """Deploy a model under a new name, or redeploy an existing name (``?name=`` preselects it)."""
    models = selectors.deployable_model_list(project=project)
    initial = {"name": request.GET.get("name", "production")}
    form = DeployForm(request.POST or None, models=models, initial=initial)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            deployment, created = services.deployment_create_or_replace(
                project=project, name=form.cleaned_data["name"], model=form.cleaned_data["model"], user=request.user
            )
        if not form.errors:
            verb = "Deployed" if created else "Redeployed"
            messages.success(request, f"{verb} {deployment.model.name} as {deployment.name}.")
            return redirect("serving:deployment_detail", project_name=project.name, deployment_name=deployment.name)
    context = {
        "project": project,
        "form": form,
        "has_models": models.exists(),
        "existing_names": list(selectors.deployment_list(project=project).values_list("name", flat=True)),
    }
    return render(request, "serving/deployment_form.html", context)


@project_view(Permission.DEPLOY, methods=["GET", "POST"])
def deployment_swap(request: HttpRequest, project: Project) -> HttpResponse:
    deployments = selectors.deployment_list(project=project)
    form = SwapForm(request.POST or request.GET or None, deployments=deployments)
    if request.method == "POST" and form.is_valid():
        try:
            first, second = services.deployment_swap(
                project=project,
                first_name=form.cleaned_data["first"].name,
                second_name=form.cleaned_data["second"].name,
                user=request.user,
            )
        except (ValidationError, Http404) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(
                request,
                f"Swapped: {first.name} now serves {first.model.name}, {second.name} serves {second.model.name}.",
            )
            return redirect("serving:deployment_list", project_name=project.name)
    return render(request, "serving/deployment_swap.html", {"project": project, "form": form})


@project_view(Permission.DEPLOY, methods=["GET", "POST"])
def deployment_delete(request: HttpRequest, project: Project, deployment_name: str) -> HttpResponse:
    deployment = selectors.deployment_get(project=project, name=deployment_name)
    if request.method == "POST":
        services.deployment_delete(deployment=deployment)
        messages.success(request, f"Deployment {deployment.name} deleted; the model {deployment.model.name} is kept.")
        return redirect("serving:deployment_list", project_name=project.name)
    return render(request, "serving/deployment_delete.html", {"project": project, "deployment": deployment})


@dataclass(frozen=True)
class Segment:
    text: str
    label: str = ""
    confidence: float | None = None
    color: str = ""


def _segments(text: str, result: services.DocumentResult, colors: dict[str, str]) -> list[Segment]:
    segments: list[Segment] = []
    position = 0
    for span in sorted(result.spans):
        if span.start < position:
            continue  # the NER never overlaps entities; be safe anyway
        if span.start > position:
            segments.append(Segment(text[position : span.start]))
        segments.append(
            Segment(text[span.start : span.end], span.label, span.confidence, colors.get(span.label, "#e0e0e0"))
        )
        position = span.end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


@project_view(Permission.PREDICT, methods=["GET", "POST"])
def try_it(request: HttpRequest, project: Project) -> HttpResponse:
    """Paste a text, pick a deployment, see its entities; htmx posts get the results partial only."""
    deployments = selectors.deployment_list(project=project)
    form = TryItForm(
        request.POST or None,
        deployments=deployments,
        initial={"deployment": request.GET.get("deployment") or (deployments[0].name if deployments else None)},
    )
    context: dict[str, Any] = {"project": project, "form": form, "has_deployments": deployments.exists()}
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        try:
            prediction = services.deployment_predict(
                deployment=services.deployment_resolve(project=project, name=form.cleaned_data["deployment"].name),
                documents=[services.DocumentInput(id="1", text=text)],
                string_index_type=form.cleaned_data["string_index_type"] or services.UNICODE_CODE_POINT,
            )
        except (ValidationError, services.PredictionUnavailable, Http404) as error:
            context["error"] = " ".join(getattr(error, "messages", [str(error)]))
        else:
            result = prediction.documents[0]
            colors = dict(project.entity_types.values_list("name", "color"))
            context.update(
                result=result,
                segments=_segments(text, result, colors),
                deployment=prediction.deployment,
                string_index_type=prediction.string_index_type,
                calibration=prediction.calibration,
            )
    template = "serving/try_it.html#results" if request.htmx and request.method == "POST" else "serving/try_it.html"
    return render(request, template, context)


@project_view(Permission.VIEW)
def project_next_steps_card(request: HttpRequest, project: Project) -> HttpResponse:
    """The dashboard's "what to do next" card (loaded into the dashboard by htmx; a page of its own without)."""
    context = {"project": project, "next": project_next_steps(project=project, user=request.user)}
    template = "serving/next_steps.html#card" if request.htmx else "serving/next_steps.html"
    return render(request, template, context)

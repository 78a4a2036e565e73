"""The pretraining page: start a run (TRAIN), watch it (VIEW; htmx polls the run's row), delete a finished one."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evaluation.pretraining import selectors, services
from projects.access import project_for
from projects.models import Project
from projects.roles import Permission
from projects.selectors import user_can

LIST_TEMPLATE = "evaluation/pretraining_list.html"


class PretrainingForm(forms.Form):
    max_steps = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_STEPS_LIMIT,
        initial=services.DEFAULT_MAX_STEPS,
        label="Steps",
        help_text="Updates of about 3,000 words each; more passes over the text take longer.",
    )
    seed = forms.IntegerField(
        min_value=0, max_value=2**31 - 1, initial=0, help_text="The same text and seed give the same weights."
    )


def _context(request: HttpRequest, project: Project, form: PretrainingForm | None = None) -> dict:
    can_train = user_can(user=request.user, project=project, permission=Permission.TRAIN)
    return {
        "project": project,
        "form": form or (PretrainingForm() if can_train else None),
        "can_train": can_train,
        "runs": selectors.pretraining_run_list(project=project)[:50],
    }


@login_required
@require_http_methods(["GET", "POST"])
def pretraining_run_list(request: HttpRequest, project_name: str) -> HttpResponse:
    """The project's pretraining runs for everyone who may see it; the start form for those who may train."""
    project = project_for(request, project_name, Permission.TRAIN if request.method == "POST" else Permission.VIEW)
    if request.method == "GET":
        return render(request, LIST_TEMPLATE, _context(request, project))
    form = PretrainingForm(request.POST)
    if form.is_valid():
        try:
            run = services.pretraining_run_start(project=project, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in (
                error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]
            ):
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Pretraining {run.pk} is queued.")
            return redirect("pretraining:run_detail", project.name, run.pk)
    return render(request, LIST_TEMPLATE, _context(request, project, form), status=400)


@login_required
@require_GET
def pretraining_run_detail(request: HttpRequest, project_name: str, pretraining_run_id: int) -> HttpResponse:
    """One run; htmx polls its row while it is queued or running."""
    project = project_for(request, project_name, Permission.VIEW)
    context = {
        "project": project,
        "run": selectors.pretraining_run_get(project=project, run_id=pretraining_run_id),
        "can_train": user_can(user=request.user, project=project, permission=Permission.TRAIN),
    }
    template = "evaluation/pretraining_detail.html"
    if request.htmx and not request.htmx.boosted:
        template += "#run_status"
    return render(request, template, context)


@login_required
@require_POST
def pretraining_run_delete(request: HttpRequest, project_name: str, pretraining_run_id: int) -> HttpResponse:
    project = project_for(request, project_name, Permission.TRAIN)
    run = selectors.pretraining_run_get(project=project, run_id=pretraining_run_id)
    try:
        services.pretraining_run_delete(run=run)
    except ValidationError as error:  # Conflict: in use by a training, or still running
        messages.error(request, " ".join(error.messages))
        return redirect("pretraining:run_detail", project.name, pretraining_run_id)
    messages.success(request, f"Pretraining {pretraining_run_id} was deleted.")
    return redirect("pretraining:run_list", project.name)

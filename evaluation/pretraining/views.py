"""The pretraining page: start a run (TRAIN), watch it (VIEW; htmx polls the run's row), delete a finished one."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from evaluation.pretraining import selectors, services
from ner.limits import SEED_MAX
from projects.access import can, project_view
from projects.forms import add_validation_error
from projects.htmx import page_or_partial
from projects.models import Project
from projects.roles import Permission

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
        min_value=0, max_value=SEED_MAX, initial=0, help_text="The same text and seed give the same weights."
    )


def _context(request: HttpRequest, project: Project, form: PretrainingForm | None = None) -> dict:
    can_train = can(request, project, Permission.TRAIN)
    return {
        "project": project,
        "form": form or (PretrainingForm() if can_train else None),
        "can_train": can_train,
        "runs": selectors.pretraining_run_list(project=project)[:50],
    }


@project_view({"GET": Permission.VIEW, "POST": Permission.TRAIN})
def pretraining_run_list(request: HttpRequest, project: Project) -> HttpResponse:
    """The project's pretraining runs for everyone who may see it; the start form for those who may train."""
    if request.method == "GET":
        return render(request, LIST_TEMPLATE, _context(request, project))
    form = PretrainingForm(request.POST)
    if form.is_valid():
        try:
            run = services.pretraining_run_start(project=project, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"Pretraining {run.pk} is queued.")
            return redirect("pretraining:run_detail", project.name, run.pk)
    return render(request, LIST_TEMPLATE, _context(request, project, form), status=400)


@project_view(Permission.VIEW)
def pretraining_run_detail(request: HttpRequest, project: Project, pretraining_run_id: int) -> HttpResponse:
    """One run; htmx polls its row while it is queued or running."""
    context = {
        "project": project,
        "run": selectors.pretraining_run_get(project=project, run_id=pretraining_run_id),
        "can_train": can(request, project, Permission.TRAIN),
    }
    return render(request, page_or_partial(request, "evaluation/pretraining_detail.html", "run_status"), context)


@project_view(Permission.TRAIN, methods=["POST"])
def pretraining_run_delete(request: HttpRequest, project: Project, pretraining_run_id: int) -> HttpResponse:
    run = selectors.pretraining_run_get(project=project, run_id=pretraining_run_id)
    try:
        services.pretraining_run_delete(run=run)
    except ValidationError as error:  # Conflict: in use by a training, or still running
        messages.error(request, " ".join(error.messages))
        return redirect("pretraining:run_detail", project.name, pretraining_run_id)
    messages.success(request, f"Pretraining {pretraining_run_id} was deleted.")
    return redirect("pretraining:run_list", project.name)

"""The training page's table of representations: polled while a measurement runs, and "Measure again"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from evaluation.encoders import representation_choices, representation_label
from evaluation.speeds import selectors, services
from projects.access import can, project_view
from projects.htmx import wants_partial
from projects.models import Project
from projects.roles import Permission

TABLE_TEMPLATE = "evaluation/training_run_list.html#speed_table"


class MeasureForm(forms.Form):
    representation = forms.CharField(max_length=60)

    def clean_representation(self) -> str:
        name: str = self.cleaned_data["representation"]
        if name not in representation_choices():
            raise forms.ValidationError(f"This server offers no representation named {name!r}.")
        return name


def speed_context(request: HttpRequest, project: Project) -> dict[str, object]:
    rows = selectors.representation_speed_rows(project=project)
    return {
        "project": project,
        "speeds": rows,
        "speeds_active": selectors.speed_measurements_active(rows),
        "can_train": can(request, project, Permission.TRAIN),
    }


@project_view(Permission.VIEW)
def speed_table(request: HttpRequest, project: Project) -> HttpResponse:
    """The table alone, for htmx to poll while a measurement is queued or running; the training page otherwise."""
    if wants_partial(request):
        return render(request, TABLE_TEMPLATE, speed_context(request, project))
    return redirect("evaluation:training_run_list", project.name)


@project_view(Permission.TRAIN, methods=["POST"])
def speed_measure(request: HttpRequest, project: Project) -> HttpResponse:
    """Queue a representation's measurement again (one queued or running is left to finish)."""
    form = MeasureForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["representation"]))
    else:
        name = form.cleaned_data["representation"]
        queued = services.speed_measurements_request(representations=[name], again=True)
        label = representation_label(name)
        if queued:
            messages.success(request, f"Measuring the speed of {label}: a worker fills in the figures.")
        else:
            messages.info(
                request, f"{label} is being measured already, or its files have a problem (see the tables above)."
            )
    if wants_partial(request):
        return render(request, TABLE_TEMPLATE, speed_context(request, project))
    return redirect(f"{reverse('evaluation:training_run_list', args=[project.name])}#speeds")

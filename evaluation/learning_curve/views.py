"""The learning-curve pages: start a curve, watch it fill in, read the plot and the projection."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from evaluation.learning_curve import selectors, services
from ner.learning_curve import DEFAULT_PERCENTS, PERCENTS_MAX
from projects.access import can, project_view
from projects.forms import add_validation_error
from projects.htmx import page_or_partial
from projects.models import Project
from projects.roles import Permission

LIST_TEMPLATE = "evaluation/learning_curve_list.html"
DETAIL_TEMPLATE = "evaluation/learning_curve_detail.html"


class LearningCurveForm(forms.Form):
    percents = forms.CharField(
        max_length=60,
        initial=", ".join(str(value) for value in DEFAULT_PERCENTS),
        label="Shares of the training documents (%)",
        help_text=f"Whole percents separated by commas; 100 is always included. At most {PERCENTS_MAX}: each trains "
        "one model.",
    )
    max_steps = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_STEPS_LIMIT,
        initial=services.DEFAULT_MAX_STEPS,
        label="Max steps per model",
        help_text="Each share trains a model with at most this many updates; fewer is faster but less accurate.",
    )

    def clean_percents(self) -> list[int]:
        values = []
        for piece in self.cleaned_data["percents"].replace(";", ",").split(","):
            piece = piece.strip().removesuffix("%").strip()
            if not piece:
                continue
            if not piece.isdigit():
                raise forms.ValidationError(f"{piece!r} is not a whole percent: write e.g. 25, 50, 75, 100.")
            values.append(int(piece))
        return values


def _list_context(request: HttpRequest, project: Project, form: LearningCurveForm | None = None) -> dict:
    can_train = can(request, project, Permission.TRAIN)
    latest = selectors.learning_curve_latest(project=project)
    return {
        "project": project,
        "form": form or (LearningCurveForm() if can_train else None),
        "can_train": can_train,
        "curves": selectors.learning_curve_list(project=project)[:50],
        "view": selectors.learning_curve_view(curve=latest) if latest is not None else None,
    }


@project_view(Permission.VIEW)
def learning_curve_list(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, LIST_TEMPLATE, _list_context(request, project))


@project_view(Permission.TRAIN, methods=["POST"])
def learning_curve_start(request: HttpRequest, project: Project) -> HttpResponse:
    form = LearningCurveForm(request.POST)
    if form.is_valid():
        try:
            curve = services.learning_curve_start(project=project, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"The learning curve is queued: {len(curve.percents)} models to train.")
            return redirect("curves:learning_curve_detail", project.name, curve.pk)
    return render(request, LIST_TEMPLATE, _list_context(request, project, form), status=400)


@project_view(Permission.VIEW)
def learning_curve_detail(request: HttpRequest, project: Project, curve_id: int) -> HttpResponse:
    """One curve; htmx polls get only its region (which stops polling once the curve has finished)."""
    curve = selectors.learning_curve_get(project=project, curve_id=curve_id)
    template = page_or_partial(request, DETAIL_TEMPLATE, "curve")
    context = {
        "project": project,
        "view": selectors.learning_curve_view(curve=curve),
        "can_train": can(request, project, Permission.TRAIN),
    }
    return render(request, template, context)

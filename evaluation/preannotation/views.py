"""The pre-annotation pages: start a job (TRAIN) and watch it and past ones (VIEW). htmx polls the job's row."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from evaluation import selectors as evaluation_selectors
from evaluation.models import TrainedModel
from evaluation.preannotation import selectors, services
from ner import limits
from projects.access import can, project_view
from projects.forms import add_validation_error
from projects.htmx import page_or_partial
from projects.models import Project
from projects.roles import Permission

_ID_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


class PreannotationForm(forms.Form):
    model = forms.TypedChoiceField(coerce=int, label="Model", help_text="A trained model of this project.")
    scope = forms.ChoiceField(
        choices=selectors.Scope.CHOICES,
        initial=selectors.Scope.UNTAGGED,
        widget=forms.RadioSelect,
        label="Documents",
    )
    search = forms.CharField(
        required=False, max_length=200, label="Name or text contains", help_text="For “name or text contains”."
    )
    ids = forms.CharField(
        required=False,
        max_length=20_000,
        label="Document ids",
        help_text="For “by id”: ids and ranges, separated by commas or spaces, e.g. 12, 15-20.",
    )
    min_confidence = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        initial=0.5,
        label="Minimum confidence",
        help_text="Suggest only entities the model is at least this sure of (0 to 1; 0.5 = right half the time).",
    )

    def __init__(self, *args: Any, models: list[TrainedModel], counts: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [  # type: ignore[attr-defined]
            (model.pk, f"{model.name} (F1 {model.micro_f1:.0%}, {model.created_at:%Y-%m-%d})") for model in models
        ]
        self.fields["scope"].choices = [  # type: ignore[attr-defined]
            (value, f"{label} ({counts[value]:,})" if value in counts else label)
            for value, label in selectors.Scope.CHOICES
        ]

    def clean_ids(self) -> list[int]:
        ids: list[int] = []
        # "15 - 20" is one range: close up the dashes before splitting on commas and spaces.
        for piece in re.split(r"[,;\s]+", re.sub(r"\s*-\s*", "-", self.cleaned_data["ids"])):
            if not piece:
                continue
            match = _ID_RANGE.match(piece)
            if match is None:
                raise forms.ValidationError(f"“{piece[:40]}” is not an id or a range like 15-20.")
            first, last = int(match[1]), int(match[2] or match[1])
            if last < first:
                raise forms.ValidationError(f"The range {piece} runs backwards.")
            if last - first >= limits.DOCUMENTS_MAX:
                raise forms.ValidationError(f"The range {piece} is longer than a project can be.")
            ids.extend(range(first, last + 1))
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        if scope == selectors.Scope.SEARCH and not data.get("search", "").strip():
            self.add_error("search", "Type what the documents' name or text should contain.")
        if scope == selectors.Scope.IDS and not data.get("ids") and "ids" not in self.errors:
            self.add_error("ids", "List the ids of the documents to pre-annotate.")
        return data


def _list_context(request: HttpRequest, project: Project, models: list[TrainedModel], form: Any) -> dict[str, Any]:
    return {
        "project": project,
        "form": form,
        "models": models,
        "can_train": can(request, project, Permission.TRAIN),
        "jobs": selectors.preannotation_job_list(project=project)[:50],
    }


@project_view({"GET": Permission.VIEW, "POST": Permission.TRAIN})
def preannotation_job_list(request: HttpRequest, project: Project) -> HttpResponse:
    """Past jobs for everyone who may see the project; the start form for those who may train."""
    models = list(evaluation_selectors.trained_model_list(project=project))
    counts = selectors.preannotation_scope_counts(project=project)
    form = PreannotationForm(request.POST or None, models=models, counts=counts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            document_ids = selectors.preannotation_candidates(
                project=project, scope=data["scope"], search=data["search"], ids=data["ids"]
            )
            job = services.preannotation_job_start(
                project=project,
                model=evaluation_selectors.trained_model_get(project=project, model_id=data["model"]),
                document_ids=document_ids,
                min_confidence=data["min_confidence"],
                user=request.user,
            )
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(
                request, f"Pre-annotation of {job.total} document{'s' if job.total != 1 else ''} is queued."
            )
            return redirect("preannotation:job_detail", project.name, job.pk)
    context = _list_context(request, project, models, form)
    return render(request, "evaluation/preannotation_list.html", context, status=400 if form.errors else 200)


@project_view(Permission.VIEW)
def preannotation_job_detail(request: HttpRequest, project: Project, preannotation_job_id: int) -> HttpResponse:
    """One job: htmx polls its row while it runs; once finished, what it left to review and where to start."""
    job = selectors.preannotation_job_get(project=project, job_id=preannotation_job_id)
    finished = job.status not in job.ACTIVE
    context = {
        "project": project,
        "job": job,
        "outcome": selectors.preannotation_job_outcome(job=job) if finished else None,
    }
    return render(request, page_or_partial(request, "evaluation/preannotation_detail.html", "job_status"), context)

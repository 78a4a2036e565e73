"""Agreement pages: assign documents to several annotators, the agreement report, and adjudication.

Plain function views over ``labeling.agreement``; the annotators tag their copies on the usual tagging page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from labeling import selectors as labeling_selectors
from labeling.agreement import selectors, services
from labeling.models import Document
from projects.access import can, project_view
from projects.forms import add_validation_error
from projects.models import Project
from projects.roles import Permission

CANDIDATES_SHOWN = 200  # untagged documents listed with checkboxes; "random N" reaches the rest
WORST_SHOWN = 50


class AssignmentForm(forms.Form):
    documents = forms.ModelMultipleChoiceField(queryset=Document.objects.none(), required=False)
    random_count = forms.IntegerField(
        required=False, min_value=1, max_value=selectors.RANDOM_PICK_MAX, label="Or this many random documents"
    )
    annotators = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.none())
    reopen = forms.BooleanField(required=False, label="Reopen documents already adjudicated (a new round)")

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        # Any of the project's documents may be posted (the list shows the natural candidates); others' are refused.
        self.fields["documents"].queryset = Document.objects.filter(project=project).defer("text")  # type: ignore[attr-defined]
        members = [user.pk for user in selectors.assignable_members(project=project)]
        self.fields["annotators"].queryset = get_user_model().objects.filter(pk__in=members)  # type: ignore[attr-defined]
        self.fields["annotators"].error_messages["invalid_choice"] = (
            "%(value)s is not a member of this project who may tag."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("documents") and not data.get("random_count"):
            raise ValidationError("Tick some documents, or ask for a number of random untagged ones.")
        return data

    def document_ids(self) -> list[int]:
        ids = {document.pk for document in self.cleaned_data["documents"]}
        if count := self.cleaned_data.get("random_count"):
            ids.update(selectors.documents_pick_random(project=self.project, count=count))
        return sorted(ids)


@project_view(Permission.MANAGE_MEMBERS, methods=["GET", "POST"])
def assignment_list(request: HttpRequest, project: Project) -> HttpResponse:
    """Choose documents and two or more annotators; below, every document in an agreement round."""
    form = AssignmentForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.assignments_create(
                project=project,
                document_ids=form.document_ids(),
                annotators=list(form.cleaned_data["annotators"]),
                user=request.user,
                reopen=form.cleaned_data["reopen"],
            )
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            names = ", ".join(sorted(user.username for user in form.cleaned_data["annotators"]))
            messages.success(
                request,
                f"Assigned to {names}: {len(result.created)} new cop{'y' if len(result.created) == 1 else 'ies'}"
                + (f", {result.already} already there." if result.already else "."),
            )
            return redirect("agreement:assignment_list", project.name)
    candidates = selectors.untagged_unassigned_documents(project=project)
    context = {
        "project": project,
        "form": form,
        "candidates": candidates[:CANDIDATES_SHOWN],
        "candidate_count": candidates.count(),
        "members": selectors.assignable_members(project=project),
        "chosen_documents": {str(pk) for pk in form["documents"].value() or []},
        "chosen_annotators": {str(pk) for pk in form["annotators"].value() or []},
        "rounds": selectors.assignment_overview(project=project),
        "can_adjudicate": can(request, project, Permission.MANAGE_DOCUMENTS),
    }
    return render(request, "labeling/agreement_assignments.html", context, status=400 if form.errors else 200)


@project_view(Permission.VIEW)
def agreement_report(request: HttpRequest, project: Project) -> HttpResponse:
    """Span-level F1 between each pair of annotators, per entity type, and the documents they disagree on most."""
    result = selectors.project_agreement(project=project)
    report = result.report
    type_rows = [
        (label, report.type_f1(label), [pair.type_f1(label) for pair in report.pairs]) for label in report.per_type
    ]
    context = {
        "project": project,
        "result": result,
        "report": report,
        "matrix": result.matrix(),
        "type_rows": type_rows,
        "worst": result.worst_documents()[:WORST_SHOWN],
        "can_adjudicate": can(request, project, Permission.MANAGE_DOCUMENTS),
        "can_assign": can(request, project, Permission.MANAGE_MEMBERS),
    }
    return render(request, "labeling/agreement_report.html", context)


def _layer_columns(adjudication: selectors.Adjudication, document: Document) -> list[tuple[str, Any]]:
    """Each submitted copy's text with its tags, then the current gold tags, for side-by-side reading."""
    columns = [
        (
            str(assignment.annotator),
            labeling_selectors.document_segments(text=document.text, spans=list(assignment.spans.all())),
        )
        for assignment in adjudication.submitted
    ]
    gold = list(labeling_selectors.document_span_list(document=document))
    if gold:
        columns.append(("Current tags", labeling_selectors.document_segments(text=document.text, spans=gold)))
    return columns


@project_view(Permission.MANAGE_DOCUMENTS, methods=["GET", "POST"])
def adjudicate(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
    """Every annotator's tags side by side; agreed spans pre-ticked; "merge into gold" applies the choices."""
    document = labeling_selectors.document_get(project=project, document_id=document_id)
    errors: list[str] = []
    ticked: set[str] | None = None
    if request.method == "POST":
        ticked = set(request.POST.getlist("accept"))
        decisions = {key: key in ticked for key in request.POST.getlist("shown")}
        try:
            result = services.adjudicate(document=document, decisions=decisions, user=request.user)
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(
                request,
                f"Merged into the tags of {document.name}: {result.created} added, {result.deleted} removed, "
                f"{result.kept} kept. The document is tagged.",
            )
            return redirect("labeling:document_annotate", project.name, document.pk)
    adjudication = selectors.adjudication_get(document=document)
    context = {
        "project": project,
        "document": document,
        "adjudication": adjudication,
        "columns": _layer_columns(adjudication, document),
        "ticked": ticked,
        "errors": errors,
    }
    return render(request, "labeling/agreement_adjudicate.html", context, status=400 if errors else 200)

"""The consistency page: findings grouped by kind (``selectors``), with their one-click fixes (``services``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from labeling.consistency import selectors, services
from ner.consistency import FINDING_KINDS, Finding, normalize_surface
from ner.limits import ENTITY_CHARS_MAX
from projects.access import can, project_view
from projects.htmx import page_or_partial, wants_partial
from projects.models import EntityType, Project
from projects.roles import Permission
from projects.selectors import entity_type_get, entity_type_list

FINDINGS_PER_PAGE = 20
KIND_CHOICES = [(kind, selectors.KIND_TITLES[kind]) for kind in FINDING_KINDS]


class ConsistencyFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *KIND_CHOICES], label="Kind")
    entity_type = forms.ChoiceField(required=False, label="Entity type")

    def __init__(self, *args: Any, entity_types: list[EntityType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity_type"].choices = [("", "Any entity type")] + [(t.name, t.name) for t in entity_types]

    def criteria(self) -> dict[str, str]:
        """The selector's keyword arguments; a bad value (an old link, a renamed type) is simply not applied."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"kind": data.get("kind") or "", "entity_type": data.get("entity_type") or ""}


class ConsistencyFixForm(forms.Form):
    action = forms.ChoiceField(choices=[("apply", "Apply a type"), ("remove", "Remove tags")])
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    surface = forms.CharField(max_length=ENTITY_CHARS_MAX, strip=False)
    entity_type = forms.IntegerField(required=False, min_value=1)
    next = forms.CharField(required=False, max_length=2000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "apply" and not data.get("entity_type"):
            raise ValidationError("Choose the entity type to apply.")
        return data


@dataclass(frozen=True, slots=True)
class FixButton:
    name: str  # for tests and scripts: "apply-<type>", "remove", "remove-<type>"
    action: str
    text: str
    entity_type_id: int | None = None
    style: str = ""


@dataclass(frozen=True, slots=True)
class Card:
    row: selectors.FindingRow
    buttons: list[FixButton]

    @property
    def element_id(self) -> str:
        return self.row.element_id

    @property
    def title(self) -> str:
        return selectors.KIND_TITLES[self.row.finding.kind]


def _buttons(finding: Finding, types: dict[str, EntityType]) -> list[FixButton]:
    """The fixes a finding offers: the majority type first (the primary button), then the others, then removal."""
    buttons: list[FixButton] = []
    surface = f"“{finding.surface}”"
    counts = dict(finding.label_counts)
    for label, _ in finding.label_counts:
        entity_type = types.get(label)
        if entity_type is None:
            continue  # renamed or deleted since the check
        style = "primary" if label == finding.majority else ""
        if finding.kind == "type":
            others = finding.tagged_count - counts[label]
            text = f"Make all {surface} {label} (retype {others})"
        elif finding.kind == "untagged":
            text = f"Tag the {finding.other_count} untagged as {label}"
        else:
            places = f"{finding.other_count} place{pluralize(finding.other_count)}"
            text = f"Replace the differing tags by one {label} tag of the whole {surface} in {places}"
        buttons.append(FixButton(f"apply-{label}", "apply", text, entity_type.pk, style))
        if finding.kind != "type":
            break  # one type to apply: the majority
    if finding.kind == "type":
        for label, count in finding.label_counts[1:]:
            if (entity_type := types.get(label)) is not None:
                text = f"Remove the {count} {label} tag{pluralize(count)}"
                buttons.append(FixButton(f"remove-{label}", "remove", text, entity_type.pk, "danger-outline"))
    count = finding.tagged_count
    buttons.append(
        FixButton("remove", "remove", f"Remove all {count} tag{pluralize(count)} of {surface}", None, "danger-outline")
    )
    return buttons


def _card(row: selectors.FindingRow, types: dict[str, EntityType]) -> Card:
    return Card(row=row, buttons=_buttons(row.finding, types))


def _next_url(request: HttpRequest, project: Project, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("consistency:check", args=[project.name])


@project_view(Permission.VIEW)
def consistency_check(request: HttpRequest, project: Project) -> HttpResponse:
    entity_types = list(entity_type_list(project=project))
    filters = ConsistencyFilterForm(request.GET, entity_types=entity_types)
    criteria = filters.criteria()
    report = selectors.consistency_report(project=project, **criteria)
    page = Paginator(report.findings, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    rows = selectors.consistency_rows(project=project, report=report, findings=list(page.object_list))
    types = {entity_type.name: entity_type for entity_type in entity_types}
    context = {
        "project": project,
        "filters": filters,
        "filtered": any(criteria.values()),
        "report": report,
        "page": page,
        "cards": [_card(row, types) for row in rows],
        "next": request.get_full_path(),
        "kinds": [(kind, selectors.KIND_TITLES[kind], report.counts[kind]) for kind in FINDING_KINDS],
        "can_fix": can(request, project, Permission.ANNOTATE),
    }
    return render(request, page_or_partial(request, "labeling/consistency_check.html", "findings"), context)


@project_view(Permission.ANNOTATE, methods=["POST"])
def consistency_fix(request: HttpRequest, project: Project) -> HttpResponse:
    """Apply one fix; htmx gets the finding's card redrawn from the current tags, others a redirect and a message."""
    form = ConsistencyFixForm(request.POST)
    partial = wants_partial(request)
    if not form.is_valid():
        problems = [error for errors in form.errors.values() for error in errors]
        if partial:
            return HttpResponse(" ".join(problems), status=400, content_type="text/plain; charset=utf-8")
        for problem in problems:
            messages.error(request, problem)
        return redirect(_next_url(request, project, request.POST.get("next", "")))
    data = form.cleaned_data
    entity_type = entity_type_get(project=project, entity_type_id=data["entity_type"]) if data["entity_type"] else None
    try:
        if data["action"] == "apply":
            assert entity_type is not None  # the form requires it
            result = services.consistency_apply_type(
                project=project, user=request.user, kind=data["kind"], surface=data["surface"], entity_type=entity_type
            )
        else:
            result = services.consistency_remove(
                project=project, user=request.user, surface=data["surface"], entity_type=entity_type
            )
    except ValidationError as error:
        if partial:
            return HttpResponse(" ".join(error.messages), status=400, content_type="text/plain; charset=utf-8")
        for problem in error.messages:
            messages.error(request, problem)
        return redirect(_next_url(request, project, data["next"]))
    if partial:
        row = selectors.consistency_finding(project=project, kind=data["kind"], surface=data["surface"])
        types = {entity_type.name: entity_type for entity_type in entity_type_list(project=project)}
        context = {
            "project": project,
            "card": _card(row, types) if row is not None else None,
            "result": result,
            "kind": data["kind"],
            "surface": normalize_surface(data["surface"]),
            "element_id": selectors.finding_element_id(data["kind"], normalize_surface(data["surface"])),
            "can_fix": True,
            "next": data["next"],
        }
        return render(request, "labeling/consistency_check.html#finding", context)
    level = messages.SUCCESS if result.changed else messages.WARNING
    messages.add_message(request, level, f"“{data['surface']}”: {result.summary}")
    for line in result.skipped[:20]:
        messages.warning(request, f"Skipped {line}")
    return redirect(_next_url(request, project, data["next"]))

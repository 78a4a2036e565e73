"""The audit trail of gold tags: the project's audit log page, one document's tag history, and the REST endpoint.

All three read ``labeling.audit``; nothing here writes. Filters are one Django form, shared by the page and the API
so both accept and refuse the same values with the same messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import selectors
from labeling.audit import services as audit
from labeling.models import SpanEvent
from projects.api import PROJECT_NAME_PARAMETER, ProjectScopedAPIView, paginated_response
from projects.models import ROW_ID_MAX, Project
from projects.pagination import LIMIT_PARAMETER, OFFSET_PARAMETER, PagePagination
from projects.roles import Permission
from projects.selectors import project_get_for_user

EVENTS_PER_PAGE = 50
_DATE_ONLY = len("2024-01-31")


class AuditFilterForm(forms.Form):
    """Which events to list. ``until`` excludes its moment; a bare date (``2024-01-31``) includes that whole day."""

    user = forms.CharField(required=False, max_length=150)
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *SpanEvent.Action.choices])
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *SpanEvent.Source.choices])
    document_name = forms.CharField(required=False, max_length=500, label="Document name")
    document = forms.IntegerField(required=False, min_value=1, max_value=ROW_ID_MAX, label="Document id")
    since = forms.DateTimeField(required=False, label="From")
    until = forms.DateTimeField(required=False, label="To")

    def __init__(self, *args: Any, project: Project, usernames: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.usernames = usernames if usernames is not None else audit.span_event_users(project=project)

    def clean_user(self) -> str:
        username: str = self.cleaned_data["user"].strip()
        if username and username not in self.usernames:
            raise forms.ValidationError(f"No user named {username} has worked on {self.project.name}.")
        return username

    def clean_document(self) -> int | None:
        document_id: int | None = self.cleaned_data["document"]
        if (
            document_id is not None
            and not selectors.documents_for_ids(project=self.project, ids=[document_id]).exists()
        ):
            raise forms.ValidationError(
                f"{self.project.name} has no document with id {document_id}; "
                "a deleted document's events are found by its name."
            )
        return document_id

    def clean_until(self) -> dt.datetime | None:
        until: dt.datetime | None = self.cleaned_data["until"]
        raw = str(self.data.get("until", "")).strip()
        if until is not None and len(raw) == _DATE_ONLY:
            until += dt.timedelta(days=1)
        return until

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since is not None and until is not None and until <= since:
            self.add_error("until", "The end of the period must come after its start.")
        return cleaned

    def criteria(self) -> dict[str, Any]:
        """The valid filters as ``span_event_list`` keywords; invalid ones are left out (their errors are shown)."""
        data = getattr(self, "cleaned_data", {})
        return {
            "username": data.get("user") or "",
            "action": data.get("action") or "",
            "source": data.get("source") or "",
            "document_name": (data.get("document_name") or "").strip(),
            "document_id": data.get("document"),
            "since": data.get("since"),
            "before": data.get("until"),
        }


def _partial(request: HttpRequest, template: str, partial: str) -> str:
    return f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template


@login_required
@require_GET
def audit_log(request: HttpRequest, project_name: str) -> HttpResponse:
    """Who did what to the tags, newest first, with per-user counts over the same period."""
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.VIEW)
    form = AuditFilterForm(request.GET or None, project=project)
    form.is_valid()
    criteria = form.criteria()
    page = Paginator(audit.span_event_list(project=project, **criteria), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    activity = audit.span_event_user_counts(
        project=project,
        since=criteria["since"],
        before=criteria["before"],
        document_name=criteria["document_name"],
        source=criteria["source"],
    )
    context = {
        "project": project,
        "form": form,
        "page": page,
        "activity": activity,
        "filtered": any(value for value in criteria.values()),
        "usernames": form.usernames,
    }
    return render(request, _partial(request, "labeling/audit_log.html", "results"), context)


@login_required
@require_GET
def document_history(request: HttpRequest, project_name: str, document_id: int) -> HttpResponse:
    """Each tag of a document, live or deleted, with who created, retyped or deleted it; the document page loads
    the ``history`` region of this page with htmx."""
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.VIEW)
    document = selectors.document_get(project=project, document_id=document_id)
    context = {"project": project, "document": document, "tags": audit.document_tag_history(document=document)}
    return render(request, _partial(request, "labeling/audit_document_history.html", "history"), context)


# --------------------------------------------------------------------------------------------- REST API


class SpanEventOutputSerializer(serializers.ModelSerializer):
    # Plain strings rather than enums, documented by their values, so no other app's "action" collides in the schema.
    action = serializers.CharField(help_text="created, retyped or deleted.")
    source = serializers.CharField(help_text="Which path made the change: " + ", ".join(SpanEvent.Source.values) + ".")
    user = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Null when the user has been deleted."
    )
    document = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The document's id; null once it has been deleted."
    )

    class Meta:
        model = SpanEvent
        fields = [
            "id",
            "created_at",
            "action",
            "source",
            "entity_type",
            "previous_entity_type",
            "start",
            "end",
            "surface",
            "span_id",
            "document",
            "document_name",
            "user",
        ]


_FILTERS = [
    OpenApiParameter("user", str, description="Only this user's changes (a username)."),
    OpenApiParameter("action", str, enum=SpanEvent.Action.values, description="Only this kind of change."),
    OpenApiParameter("source", str, enum=SpanEvent.Source.values, description="Only changes made this way."),
    OpenApiParameter(
        "document",
        {"type": "integer", "minimum": 1, "maximum": ROW_ID_MAX},
        description="Only this (live) document's events, by id.",
    ),
    OpenApiParameter("document_name", str, description="Documents whose name contains this, deleted ones included."),
    OpenApiParameter(
        "since", OpenApiTypes.DATETIME, description="From this moment (ISO 8601; a bare date is its midnight)."
    ),
    OpenApiParameter(
        "until", OpenApiTypes.DATETIME, description="Before this moment; a bare date includes that whole day."
    ),
    LIMIT_PARAMETER,
    OFFSET_PARAMETER,
]


_TYPED_FILTERS = ("action", "source", "document", "since", "until")


class AuditEventListApi(ProjectScopedAPIView):
    pagination_class = PagePagination  # read by drf-spectacular to document the page shape

    @extend_schema(
        operation_id="audit_events_list",
        tags=["audit"],
        summary="The audit trail of the project's tags, newest first",
        description="One event per tag created, retyped or deleted (uploads and imports add tags without events). "
        "Events outlive their document: a deleted document's events keep its name.",
        parameters=[PROJECT_NAME_PARAMETER, *_FILTERS],
        responses={
            200: SpanEventOutputSerializer(many=True),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="A filter's value is invalid; each message says why."
            ),
        },
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        # The page's form sends its empty fields; a script that names a typed filter must give it a value.
        blank = [name for name in _TYPED_FILTERS if name in request.query_params and not request.query_params[name]]
        if blank:
            raise exceptions.ValidationError({name: ["Give a value, or leave the filter out."] for name in blank})
        form = AuditFilterForm(request.query_params, project=project)
        if not form.is_valid():
            raise exceptions.ValidationError({field: list(errors) for field, errors in form.errors.items()})
        events = audit.span_event_list(project=project, **form.criteria())
        return paginated_response(
            request=request, view=self, queryset=events, serializer_class=SpanEventOutputSerializer
        )

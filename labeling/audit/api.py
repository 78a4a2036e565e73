"""The audit trail over REST: the project's events, filtered by the page's own form (``forms.AuditFilterForm``).
Reads only."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from labeling.audit import selectors
from labeling.audit.forms import AuditFilterForm
from labeling.models import SpanEvent
from projects.api import PROJECT_NAME_PARAMETER, ProjectScopedAPIView, paginated_response
from projects.models import ROW_ID_MAX
from projects.pagination import LIMIT_PARAMETER, OFFSET_PARAMETER, PagePagination
from projects.roles import Permission


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
        events = selectors.span_event_list(project=project, **form.criteria())
        return paginated_response(
            request=request, view=self, queryset=events, serializer_class=SpanEventOutputSerializer
        )

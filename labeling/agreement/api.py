"""REST endpoints of an annotator's own tags on a double-annotated document.

The tagging page (static/js/annotate/) talks to these exactly as to the gold span endpoints (``labeling.api``): the
same request bodies, the same response shape, the same error shape (the API's one exception handler,
``projects.api_errors``), so the page needs no second code path. Only the copy's annotator may change it (403 for
anyone else); an assignment, span or entity type of another document or project is a 404, like a missing one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from labeling.agreement import selectors, services
from labeling.api import DocumentScoped, entity_type_from_body, span_created
from labeling.models import AnnotationAssignment, AnnotatorSpan, Document
from labeling.serializers import (
    SPAN_FIELDS,
    CoveredTextMixin,
    ErrorSerializer,
    SnappedMixin,
    SpanCreateInputSerializer,
    SpanUpdateInputSerializer,
)
from projects.api import ApiOperations, ProjectScopedAPIView, valid_input
from projects.models import EntityType
from projects.parsers import BoundedJSONParser
from projects.roles import Permission

operation = ApiOperations(
    tags=["agreement"],
    not_found=OpenApiResponse(ErrorSerializer, description="No such project, document, assignment or tag."),
    forbidden=OpenApiResponse(ErrorSerializer, description="Your role does not allow this, or it is not your copy."),
    invalid=OpenApiResponse(ErrorSerializer, description="The input breaks a rule; each message says which."),
)


class AnnotatorSpanOutputSerializer(CoveredTextMixin, serializers.ModelSerializer):
    """An annotator's own tag on their copy of a document: the fields of a gold span, with created_by the annotator."""

    entity_type_name = serializers.CharField(source="entity_type.name", read_only=True)
    created_by = serializers.IntegerField(source="assignment.annotator_id", read_only=True)

    class Meta:
        model = AnnotatorSpan
        fields = [*SPAN_FIELDS, "created_by", "created_at"]
        read_only_fields = fields


class AnnotatorSpanCreateOutputSerializer(SnappedMixin, AnnotatorSpanOutputSerializer):
    class Meta(AnnotatorSpanOutputSerializer.Meta):
        fields = [*AnnotatorSpanOutputSerializer.Meta.fields, "snapped"]
        read_only_fields = fields


class AssignmentOutputSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", read_only=True)
    status = serializers.CharField(read_only=True, help_text="open, submitted or adjudicated.")

    class Meta:
        model = AnnotationAssignment
        fields = ["id", "document", "annotator", "status", "submitted_at", "adjudicated_at"]
        read_only_fields = fields


class _LayerApi(DocumentScoped, ProjectScopedAPIView):
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    def layer(self, document_id: int, assignment_id: int) -> tuple[Document, AnnotationAssignment]:
        _, document = self.get_document(Permission.ANNOTATE)
        return document, selectors.assignment_get(document=document, assignment_id=assignment_id)

    def entity_type(self, assignment: AnnotationAssignment, entity_type_id: int) -> EntityType:
        return entity_type_from_body(assignment.document.project, entity_type_id)  # type: ignore[no-any-return]

    def span_response(self, span: AnnotatorSpan, document: Document, code: int = status.HTTP_200_OK) -> Response:
        return Response(AnnotatorSpanOutputSerializer(span, context={"text": document.text}).data, status=code)


class AnnotatorSpanListApi(_LayerApi):
    @operation(
        "annotator_span_create",
        "Tag a region in your own copy of a document assigned for agreement",
        AnnotatorSpanCreateOutputSerializer,
        status=201,
        request=SpanCreateInputSerializer,
        description="The same body, rules and response as creating a span; the tag stays in your copy until "
        "the document is adjudicated.",
    )
    def post(self, request: Request, project_name: str, document_id: int, assignment_id: int) -> Response:
        document, assignment = self.layer(document_id, assignment_id)
        data = valid_input(SpanCreateInputSerializer, request.data)
        entity_type = self.entity_type(assignment, data.validated_data["entity_type"])
        span = services.annotator_span_create(
            assignment=assignment,
            entity_type=entity_type,
            start=data.validated_data["start"],
            end=data.validated_data["end"],
            user=request.user,
        )
        return span_created(AnnotatorSpanCreateOutputSerializer, span, document, data)


class AnnotatorSpanDetailApi(_LayerApi):
    def span(self, document_id: int, assignment_id: int, annotator_span_id: int) -> Any:
        document, assignment = self.layer(document_id, assignment_id)
        return document, selectors.annotator_span_get(assignment=assignment, annotator_span_id=annotator_span_id)

    @operation(
        "annotator_span_update",
        "Change a tag's entity type in your own copy",
        AnnotatorSpanOutputSerializer,
        request=SpanUpdateInputSerializer,
    )
    def patch(
        self, request: Request, project_name: str, document_id: int, assignment_id: int, annotator_span_id: int
    ) -> Response:
        document, span = self.span(document_id, assignment_id, annotator_span_id)
        data = valid_input(SpanUpdateInputSerializer, request.data)
        entity_type = self.entity_type(span.assignment, data.validated_data["entity_type"])
        span = services.annotator_span_update_type(span=span, entity_type=entity_type, user=request.user)
        return self.span_response(span, document)

    @operation("annotator_span_delete", "Remove a tag from your own copy", None, status=204, refusable=True)
    def delete(
        self, request: Request, project_name: str, document_id: int, assignment_id: int, annotator_span_id: int
    ) -> Response:
        _, span = self.span(document_id, assignment_id, annotator_span_id)
        services.annotator_span_delete(span=span, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentSubmitApi(_LayerApi):
    @operation(
        "assignment_submit",
        "Say your copy of the document is done (it then counts for agreement)",
        AssignmentOutputSerializer,
        request=None,
        refusable=True,
    )
    def post(self, request: Request, project_name: str, document_id: int, assignment_id: int) -> Response:
        _, assignment = self.layer(document_id, assignment_id)
        assignment = services.assignment_submit(assignment=assignment, user=request.user)
        return Response(AssignmentOutputSerializer(assignment).data)

"""REST endpoints for pre-annotation suggestions: list (VIEW); accept, reject, accept all, reject all, restore
(ANNOTATE).

Accepting creates the tag through ``labeling.services.span_create``, so a refusal (overlap policy, bounds) comes
back as a 400 with the span rules' own message, exactly as when tagging by hand.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from labeling.api import DocumentScoped, document_status_header, entity_type_from_body, with_document_status
from labeling.api import operation as document_operation
from labeling.models import Document, Suggestion
from labeling.serializers import SPAN_FIELDS, CoveredTextMixin, ErrorSerializer, SpanOutputSerializer
from labeling.suggestions import selectors, services
from projects.api import ProjectScopedAPIView, valid_input
from projects.models import ROW_ID_MAX, EntityType, Project
from projects.parsers import BoundedJSONParser
from projects.roles import Permission

operation = replace(
    document_operation,
    tags=["suggestions"],
    not_found=OpenApiResponse(ErrorSerializer, description="No such project, document or suggestion, or not a member."),
    invalid=OpenApiResponse(OpenApiTypes.OBJECT, description="The span rules refused the tag; the message says why."),
)


class SuggestionOutputSerializer(CoveredTextMixin, serializers.ModelSerializer):
    entity_type_name = serializers.CharField(source="entity_type.name", read_only=True)

    class Meta:
        model = Suggestion
        fields = [*SPAN_FIELDS, "confidence", "model_name"]
        read_only_fields = fields


class SuggestionListOutputSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField(), help_text="The models the suggestions come from.")
    suggestions = SuggestionOutputSerializer(many=True)


class SuggestionAcceptInputSerializer(serializers.Serializer):
    entity_type = serializers.IntegerField(
        required=False, allow_null=True, help_text="Accept as this entity type instead of the suggested one."
    )


class SuggestionBulkInputSerializer(serializers.Serializer):
    entity_type = serializers.IntegerField(
        required=False, allow_null=True, help_text="Only the suggestions of this entity type (default: all)."
    )


_SUGGESTION_IDS = serializers.ListField(
    child=serializers.IntegerField(), help_text="Every suggestion taken out of pending: what a restore brings back."
)


class SuggestionAcceptAllOutputSerializer(serializers.Serializer):
    accepted = SpanOutputSerializer(many=True, help_text="The tags created, most confident first.")
    skipped = serializers.IntegerField(help_text="Suggestions dropped because they collided with a tag.")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why the span rules refused some.")
    suggestions = _SUGGESTION_IDS


class SuggestionRejectAllOutputSerializer(serializers.Serializer):
    rejected = serializers.IntegerField()
    suggestions = _SUGGESTION_IDS


class SuggestionRestoreInputSerializer(serializers.Serializer):
    suggestions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ROW_ID_MAX),
        allow_empty=False,
        max_length=10_000,
        help_text="Ids of the suggestions.",
    )


class SuggestionRestoreOutputSerializer(serializers.Serializer):
    suggestions = SuggestionOutputSerializer(many=True, help_text="The restored suggestions that no tag overlaps.")


def _entity_type(project: Project, entity_type_id: int | None) -> EntityType | None:
    return None if entity_type_id is None else entity_type_from_body(project, entity_type_id)


class _SuggestionApi(DocumentScoped, ProjectScopedAPIView):
    parser_classes = [BoundedJSONParser, FormParser]

    def get_suggestion(self) -> tuple[Project, Document, Suggestion]:
        """The pending suggestion the URL names, for one who may annotate its document (accept, reject)."""
        project, document = self.get_document(Permission.ANNOTATE)
        suggestion = selectors.suggestion_get(document=document, suggestion_id=self.kwargs["suggestion_id"])
        return project, document, suggestion


class SuggestionListApi(_SuggestionApi):
    @operation(
        "suggestions_list",
        "A document's pending suggestions (none that overlaps a tag), with the models they come from",
        SuggestionListOutputSerializer,
    )
    def get(self, request: Request, project_name: str, document_id: int) -> Response:
        _, document = self.get_document(Permission.VIEW)
        pending = list(selectors.suggestion_list(document=document))
        data = {
            "models": sorted({suggestion.model_name for suggestion in pending}),
            "suggestions": SuggestionOutputSerializer(pending, many=True, context={"text": document.text}).data,
        }
        return Response(data)


class SuggestionAcceptApi(_SuggestionApi):
    @operation(
        "suggestion_accept",
        "Make a suggestion a tag (optionally as another entity type); the suggestion is no longer pending",
        SpanOutputSerializer,
        status=201,
        request=SuggestionAcceptInputSerializer,
        parameters=document_status_header(201),
    )
    def post(self, request: Request, project_name: str, document_id: int, suggestion_id: int) -> Response:
        project, document, suggestion = self.get_suggestion()
        data = valid_input(SuggestionAcceptInputSerializer, request.data)
        entity_type = _entity_type(project, data.validated_data.get("entity_type"))
        span = services.suggestion_accept(suggestion=suggestion, user=request.user, entity_type=entity_type)
        output = SpanOutputSerializer(span, context={"text": document.text}).data
        return with_document_status(Response(output, status=status.HTTP_201_CREATED), document)


class SuggestionRejectApi(_SuggestionApi):
    @operation(
        "suggestion_reject",
        "Reject a suggestion: it is no longer shown (a restore brings it back)",
        None,
        status=204,
        request=None,
    )
    def post(self, request: Request, project_name: str, document_id: int, suggestion_id: int) -> Response:
        _, _, suggestion = self.get_suggestion()
        services.suggestion_reject(suggestion=suggestion)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SuggestionAcceptAllApi(_SuggestionApi):
    @operation(
        "suggestions_accept_all",
        "Accept every suggestion of the document (or of one entity type), most confident first",
        SuggestionAcceptAllOutputSerializer,
        request=SuggestionBulkInputSerializer,
        description="Suggestions that collide with a tag (including one accepted earlier in the same call) are "
        "skipped and removed: the tag wins.",
        parameters=document_status_header(200),
    )
    def post(self, request: Request, project_name: str, document_id: int) -> Response:
        project, document = self.get_document(Permission.ANNOTATE)
        data = valid_input(SuggestionBulkInputSerializer, request.data)
        entity_type = _entity_type(project, data.validated_data.get("entity_type"))
        result = services.suggestions_accept_all(document=document, user=request.user, entity_type=entity_type)
        output: dict[str, Any] = {
            "accepted": SpanOutputSerializer(result.accepted, many=True, context={"text": document.text}).data,
            "skipped": result.skipped,
            "reasons": result.reasons,
            "suggestions": result.suggestions,
        }
        return with_document_status(Response(output), document)


class SuggestionRejectAllApi(_SuggestionApi):
    @operation(
        "suggestions_reject_all",
        "Reject every pending suggestion of the document (or of one entity type)",
        SuggestionRejectAllOutputSerializer,
        request=SuggestionBulkInputSerializer,
    )
    def post(self, request: Request, project_name: str, document_id: int) -> Response:
        project, document = self.get_document(Permission.ANNOTATE)
        data = valid_input(SuggestionBulkInputSerializer, request.data)
        entity_type = _entity_type(project, data.validated_data.get("entity_type"))
        rejected = services.suggestions_reject_all(document=document, entity_type=entity_type)
        return Response({"rejected": len(rejected), "suggestions": rejected})


class SuggestionRestoreApi(_SuggestionApi):
    @operation(
        "suggestions_restore",
        "Make accepted or rejected suggestions pending again (undo)",
        SuggestionRestoreOutputSerializer,
        request=SuggestionRestoreInputSerializer,
        description="Restoring an accepted suggestion leaves the tag it became: delete that tag first.",
    )
    def post(self, request: Request, project_name: str, document_id: int) -> Response:
        _, document = self.get_document(Permission.ANNOTATE)
        data = valid_input(SuggestionRestoreInputSerializer, request.data)
        restored = services.suggestions_restore(document=document, suggestion_ids=data.validated_data["suggestions"])
        output = SuggestionOutputSerializer(restored, many=True, context={"text": document.text}).data
        return Response({"suggestions": output})

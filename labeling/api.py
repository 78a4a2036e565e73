"""REST API for documents and spans: one APIView per resource, the same services and selectors as the pages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import imports, selectors, services
from labeling.models import Document, ImportJob
from labeling.serializers import (
    DocumentDetailOutputSerializer,
    DocumentFilterSerializer,
    DocumentOutputSerializer,
    DocumentPageSerializer,
    DocumentUpdateInputSerializer,
    DocumentUploadInputSerializer,
    DocumentUploadOutputSerializer,
    ErrorSerializer,
    ExportQuerySerializer,
    ImportInputSerializer,
    ImportJobOutputSerializer,
    SnappedMixin,
    SpanCreateInputSerializer,
    SpanCreateOutputSerializer,
    SpanOutputSerializer,
    SpanUpdateInputSerializer,
    UploadErrorSerializer,
)
from projects.access import project_for
from projects.api import ApiOperations, ProjectScopedAPIView, paginated_response, valid_input
from projects.models import Project
from projects.pagination import LIMIT_PARAMETER, OFFSET_PARAMETER
from projects.parsers import BoundedJSONParser
from projects.roles import Permission
from projects.selectors import entity_type_get, user_can

# The documents' operations; the labeling features' APIs document theirs as variants of these.
operation = ApiOperations(
    tags=["documents"],
    not_found=OpenApiResponse(ErrorSerializer, description="No such project or document, or you are not a member."),
    forbidden=OpenApiResponse(ErrorSerializer, description="Your role does not allow this."),
    invalid=OpenApiResponse(OpenApiTypes.OBJECT, description="The input breaks a rule; each message says which."),
)


DOCUMENT_STATUS_HEADER = "Nerlab-Document-Status"


def document_status_header(*codes: int) -> list[OpenApiParameter]:
    """How the schema documents the header that ``with_document_status`` adds to the answers ``codes``."""
    return [
        OpenApiParameter(
            DOCUMENT_STATUS_HEADER,
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            response=list(codes),
            description="The document's status after the change (untagged, in_progress or tagged): a first tag "
            "starts an untagged document, removing the last one of work in progress makes it untagged again.",
        )
    ]


def with_document_status(response: Response, document: Document) -> Response:
    """``response`` with the document's stored status in a header. The server moves the status when tags come and
    go, and another user may have set it meanwhile: the tagging page shows what the server holds rather than guessing
    with a copy of the rule."""
    response[DOCUMENT_STATUS_HEADER] = selectors.document_status(document=document)
    return response


def _assignee(project: Project, user_id: int | None) -> Any:
    if user_id is None:
        return None
    user = selectors.project_member_get(project=project, user_id=user_id)
    if user is None:
        raise exceptions.ValidationError({"assigned_to": [f"User {user_id} is not a member of {project.name}."]})
    return user


def entity_type_from_body(project: Project, entity_type_id: int) -> Any:
    """The project's entity type a request body names; an unknown id is a 400 on the field, not a 404."""
    try:
        return entity_type_get(project=project, entity_type_id=entity_type_id)
    except Http404:
        raise exceptions.ValidationError(
            {"entity_type": [f"Project {project.name} has no entity type with id {entity_type_id}."]}
        ) from None


def _flat_errors(errors: Any, where: str = "") -> list[str]:
    """A serializer's errors (nested by field and list index) as "files[1]: message" lines."""
    if isinstance(errors, dict):
        return [
            line
            for key, inner in errors.items()
            for line in _flat_errors(inner, f"{where}[{key}]" if isinstance(key, int) else f"{where}{key}")
        ]
    if isinstance(errors, list):
        return [line for inner in errors for line in _flat_errors(inner, where)]
    return [f"{where}: {errors}" if where else str(errors)]


class DocumentScoped:
    # For an API view under projects/<project_name>/documents/<document_id>/: self.get_document(Permission.X).
    # (A comment, not a docstring: the API schema would show a docstring as each endpoint's description.)
    request: Request
    kwargs: dict[str, Any]

    def get_document(self, permission: Permission) -> tuple[Project, Document]:
        project = project_for(self.request, self.kwargs["project_name"], permission)
        return project, selectors.document_get(project=project, document_id=self.kwargs["document_id"])


def span_created(serializer_class: type[SnappedMixin], span: Any, document: Document, data: Any) -> Response:
    """201 with a new span (or annotator's tag) of ``document``, saying whether it was snapped from the requested
    bounds (``data``: the validated ``SpanCreateInputSerializer``)."""
    requested = (data.validated_data["start"], data.validated_data["end"])
    output = serializer_class(span, context={"text": document.text, "requested": requested})
    return Response(output.data, status=status.HTTP_201_CREATED)


def _document_detail(document: Document) -> dict[str, Any]:
    spans = list(selectors.document_span_list(document=document))
    return DocumentDetailOutputSerializer(document, context={"spans": spans}).data


class DocumentListApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="documents_list",
        tags=operation.tags,
        summary="List documents",
        parameters=[
            DocumentFilterSerializer,
            LIMIT_PARAMETER,
            OFFSET_PARAMETER,
        ],
        responses=operation.responses({200: DocumentPageSerializer}),
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = project_for(request, project_name, Permission.VIEW)
        filters = valid_input(DocumentFilterSerializer, request.query_params)
        documents = selectors.document_list(project=project, **filters.criteria())
        return paginated_response(
            request=request, view=self, queryset=documents, serializer_class=DocumentOutputSerializer
        )

    @extend_schema(
        operation_id="documents_upload",
        tags=operation.tags,
        summary="Upload .txt files or .zip archives of them (all or nothing)",
        request={"multipart/form-data": DocumentUploadInputSerializer},
        responses=operation.responses(
            {
                201: DocumentUploadOutputSerializer,
                400: OpenApiResponse(UploadErrorSerializer, description="Every problem found; nothing was written."),
            }
        ),
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = project_for(request, project_name, Permission.MANAGE_DOCUMENTS)
        upload = DocumentUploadInputSerializer(data=request.data)
        if not upload.is_valid():
            # The same shape as a refused file's 400, so that a client reads every refused upload one way.
            errors = _flat_errors(upload.errors)
            return Response(
                UploadErrorSerializer({"errors": errors, "duplicates": []}).data, status=status.HTTP_400_BAD_REQUEST
            )
        uploads = [(file.name or "upload", file.read()) for file in upload.validated_data["files"]]
        result = services.document_upload(project=project, user=request.user, uploads=uploads)
        if result.errors:
            return Response(
                UploadErrorSerializer({"errors": result.errors, "duplicates": result.duplicates}).data,
                status=status.HTTP_400_BAD_REQUEST,
            )
        output = {"created": [{"id": d.pk, "name": d.name} for d in result.created], "duplicates": result.duplicates}
        return Response(DocumentUploadOutputSerializer(output).data, status=status.HTTP_201_CREATED)


class DocumentDetailApi(DocumentScoped, APIView):
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    @operation("document_retrieve", "A document with its text and spans", DocumentDetailOutputSerializer)
    def get(self, request: Request, project_name: str, document_id: int) -> Response:
        _, document = self.get_document(Permission.VIEW)
        return Response(_document_detail(document))

    @operation(
        "document_update",
        "Change a document's language, split ('auto' = the project's rule), assignee or status",
        DocumentDetailOutputSerializer,
        request=DocumentUpdateInputSerializer,
        description="Language, split and assignee need the manage-documents permission; status needs annotate.",
    )
    def patch(self, request: Request, project_name: str, document_id: int) -> Response:
        project, document = self.get_document(Permission.VIEW)
        data = valid_input(DocumentUpdateInputSerializer, request.data).validated_data
        edits: dict[str, Any] = {key: data[key] for key in ("language", "split") if key in data}
        if "split" in edits and edits["split"] == selectors.SPLIT_AUTO:
            edits["split"] = ""
        if "assigned_to" in data:
            edits["assigned_to"] = _assignee(project, data["assigned_to"])
        needed = ([Permission.MANAGE_DOCUMENTS] if edits else []) + ([Permission.ANNOTATE] if "status" in data else [])
        for permission in needed:
            if not user_can(user=request.user, project=project, permission=permission):
                raise exceptions.PermissionDenied(f"Your role in {project.name} does not allow this ({permission}).")
        if edits:
            services.document_update(document=document, **edits)
        if "status" in data:
            services.document_set_status(document=document, status=data["status"], user=request.user)
        return Response(_document_detail(document))

    @operation("document_delete", "Delete a document and its spans", None, status=204)
    def delete(self, request: Request, project_name: str, document_id: int) -> Response:
        _, document = self.get_document(Permission.MANAGE_DOCUMENTS)
        services.document_delete(document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SpanListApi(DocumentScoped, APIView):
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    @operation("spans_list", "The spans of a document", SpanOutputSerializer(many=True))
    def get(self, request: Request, project_name: str, document_id: int) -> Response:
        _, document = self.get_document(Permission.VIEW)
        spans = selectors.document_span_list(document=document)
        return Response(SpanOutputSerializer(spans, many=True, context={"text": document.text}).data)

    @operation(
        "span_create",
        "Tag a region of a document (offsets in code points, end exclusive)",
        SpanCreateOutputSerializer,
        status=201,
        request=SpanCreateInputSerializer,
        description="In a project that labels tokens, the region is widened to whole tokens; the response "
        "gives the offsets stored, and `snapped` says whether they differ from the ones sent.",
        parameters=document_status_header(201),
    )
    def post(self, request: Request, project_name: str, document_id: int) -> Response:
        project, document = self.get_document(Permission.ANNOTATE)
        data = valid_input(SpanCreateInputSerializer, request.data)
        entity_type = entity_type_from_body(project, data.validated_data["entity_type"])
        span = services.span_create(
            document=document,
            entity_type=entity_type,
            start=data.validated_data["start"],
            end=data.validated_data["end"],
            user=request.user,
        )
        return with_document_status(span_created(SpanCreateOutputSerializer, span, document, data), document)


class SpanDetailApi(DocumentScoped, APIView):
    @operation("span_delete", "Remove a span", None, status=204, parameters=document_status_header(204))
    def delete(self, request: Request, project_name: str, document_id: int, span_id: int) -> Response:
        _, document = self.get_document(Permission.ANNOTATE)
        span = selectors.document_get_span(document=document, span_id=span_id)
        services.span_delete(span=span, user=request.user)
        return with_document_status(Response(status=status.HTTP_204_NO_CONTENT), document)

    @extend_schema(
        operation_id="span_update",
        tags=operation.tags,
        summary="Change a span's entity type",
        request=SpanUpdateInputSerializer,
        responses=operation.responses(
            {
                200: SpanOutputSerializer,
                409: OpenApiResponse(
                    ErrorSerializer, description="The span was retyped (see expected_entity_type) or removed meanwhile."
                ),
            },
            refusable=True,
        ),
    )
    def patch(self, request: Request, project_name: str, document_id: int, span_id: int) -> Response:
        project, document = self.get_document(Permission.ANNOTATE)
        span = selectors.document_get_span(document=document, span_id=span_id)
        data = valid_input(SpanUpdateInputSerializer, request.data)
        entity_type = entity_type_from_body(project, data.validated_data["entity_type"])
        span = services.span_update_type(
            span=span,
            entity_type=entity_type,
            user=request.user,
            expected_entity_type_id=data.validated_data.get("expected_entity_type"),
        )
        return Response(SpanOutputSerializer(span, context={"text": document.text}).data)


# --- import and export --------------------------------------------------------------------------------------------

import_operation = replace(operation, tags=["import and export"])


def _job_response(job: ImportJob) -> Response:
    """201 when imported, 400 when the file had problems (nothing written), 202 while it runs in the background."""
    code = {
        ImportJob.Status.SUCCEEDED: status.HTTP_201_CREATED,
        ImportJob.Status.FAILED: status.HTTP_400_BAD_REQUEST,
    }.get(job.status, status.HTTP_202_ACCEPTED)  # type: ignore[call-overload]
    return Response(ImportJobOutputSerializer(job).data, status=code)


class ImportListApi(ProjectScopedAPIView):
    parser_classes = [MultiPartParser, FormParser]

    @import_operation(
        "imports_list", "Recent imports of the project, newest first", ImportJobOutputSerializer(many=True)
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.MANAGE_DOCUMENTS)
        return Response(ImportJobOutputSerializer(selectors.import_job_list(project=project), many=True).data)

    @extend_schema(
        operation_id="imports_create",
        tags=import_operation.tags,
        summary="Import labelled documents from a file in any format (all or nothing)",
        description="The whole file is validated before anything is written. Small files are imported at once "
        "(201 with the report, or 400 with every problem and nothing written); large ones are queued (202): poll "
        "the job's URL. Unknown entity types are problems unless `create_missing_types` is true. `format` may be "
        "left out (or `auto`): the format is then told from the content, and the report's `format` says which.",
        request={"multipart/form-data": ImportInputSerializer},
        responses=import_operation.responses(
            {
                201: ImportJobOutputSerializer,
                202: ImportJobOutputSerializer,
                400: OpenApiResponse(
                    OpenApiTypes.OBJECT,
                    description="The job with its report (as for 201): every problem, nothing written; or, when the "
                    "form itself is wrong, each field's problems.",
                ),
            }
        ),
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.MANAGE_DOCUMENTS)
        upload = valid_input(ImportInputSerializer, request.data)
        data = upload.validated_data
        texts = data.get("texts")
        job = imports.import_job_start(
            project=project,
            user=request.user,
            format=data["format"],
            data=data["file"].read(),
            file_name=data["file"].name or "upload",
            options=upload.options(),
            texts_data=texts.read() if texts else None,
            texts_file_name=(texts.name or "texts.zip") if texts else "",
        )
        if job.status == ImportJob.Status.FAILED:
            imports.import_job_discard_upload(job=job)  # the caller still has the file; keep no copy of it
        return _job_response(job)


class ImportDetailApi(ProjectScopedAPIView):
    @import_operation("import_retrieve", "An import's status, progress and report", ImportJobOutputSerializer)
    def get(self, request: Request, project_name: str, import_job_id: int) -> Response:
        project = self.get_project(Permission.MANAGE_DOCUMENTS)
        job = selectors.import_job_get(project=project, job_id=import_job_id)
        return Response(ImportJobOutputSerializer(job).data)


class _FileFormatParameter(DefaultContentNegotiation):
    """Here ``?format=`` names the export's file format, not one of DRF's renderers (which would answer 404)."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        renderer = renderers[0]  # errors answer in JSON; a successful export is a file, not rendered
        return renderer, renderer.media_type


# One answer per file type the formats write (a JSON export is a JSON document, the rest are files).
_EXPORT_ANSWERS = {
    (200, media_type.split(";")[0]): OpenApiTypes.ANY if media_type == "application/json" else OpenApiTypes.BINARY
    for media_type in sorted(set(imports.CONTENT_TYPES.values()))
}


class ExportApi(ProjectScopedAPIView):
    content_negotiation_class = _FileFormatParameter

    @extend_schema(
        operation_id="export_download",
        tags=import_operation.tags,
        summary="Download the project's documents, or those matching the document list's filters, in any format",
        parameters=[ExportQuerySerializer],
        responses=import_operation.responses(_EXPORT_ANSWERS, refusable=True),
    )
    def get(self, request: Request, project_name: str) -> HttpResponse:
        project = self.get_project(Permission.MANAGE_DOCUMENTS)
        query = valid_input(ExportQuerySerializer, request.query_params)
        try:
            exported = imports.project_export_file(
                project=project,
                format=query.validated_data["format"],
                scheme=query.validated_data["scheme"],
                tokenizer=query.validated_data["tokenizer"],
                **query.criteria(),
            )
        except imports.ExportError as error:
            raise exceptions.ValidationError({"problems": [str(problem) for problem in error.problems]}) from None
        response = HttpResponse(exported.data, content_type=exported.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
        return response

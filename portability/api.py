"""REST API of the portability app (under /api/v1/): clone, whole-project archives, "your data", containers."""

from __future__ import annotations

import tempfile

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portability import selectors, services
from portability.archive import archive_file_name
from portability.serializers import (
    ArchiveImportInputSerializer,
    ArchiveQuerySerializer,
    ContainerFileOutputSerializer,
    DataInventorySerializer,
    ProjectCloneInputSerializer,
)
from projects.api import (
    PROJECT_NAME_PARAMETER,
    ProjectScopedAPIView,
    UserCredentials,
    path_parameter,
    project_created,
    valid_input,
)
from projects.roles import Permission
from projects.serializers import ProjectOutputSerializer


@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class ProjectCloneApi(ProjectScopedAPIView):
    @extend_schema(
        summary="Clone a project (schema, documents, tags, split, settings; optionally models); you own the copy",
        request=ProjectCloneInputSerializer,
        responses={201: ProjectOutputSerializer},
    )
    def post(self, request: Request, project_name: str) -> Response:
        source = self.get_project(Permission.MANAGE_DOCUMENTS)  # a copy of everything, like an export
        data = valid_input(ProjectCloneInputSerializer, request.data).validated_data
        clone = services.project_clone(source=source, user=request.user, **data)
        return project_created(clone, request.user)


@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class ProjectArchiveApi(ProjectScopedAPIView):
    @extend_schema(
        summary="Export everything: the whole project as one zip",
        parameters=[ArchiveQuerySerializer],
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request, project_name: str) -> FileResponse:
        project = self.get_project(Permission.MANAGE_DOCUMENTS)
        query = valid_input(ArchiveQuerySerializer, request.query_params)
        output = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it, which deletes it)
        services.project_archive_write(
            project=project,
            output=output,
            include_models=query.validated_data["models"],
            include_members=query.validated_data["members"],
        )
        output.seek(0)
        return FileResponse(
            output, as_attachment=True, filename=archive_file_name(project), content_type="application/zip"
        )


@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class ProjectDataApi(ProjectScopedAPIView):
    @extend_schema(
        summary="What the project stores and where",
        description="Server locations (storage path, database name and host, containers folder) are empty "
        "strings unless you are a superuser.",
        responses=DataInventorySerializer,
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        inventory = selectors.project_data_inventory(project=project, user=request.user)
        return Response(DataInventorySerializer(inventory).data)


class ArchiveImportApi(APIView):
    permission_classes = [UserCredentials]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Import a whole-project archive as a new project (you own it)",
        request={"multipart/form-data": ArchiveImportInputSerializer},
        responses={201: ProjectOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = valid_input(ArchiveImportInputSerializer, request.data).validated_data
        imported = services.project_archive_import(
            source=data["archive"],
            user=request.user,
            name=data["name"],
            include_models=data["include_models"],
            restore_members=data["restore_members"],
        )
        return project_created(imported.project, request.user)


class ContainerFileApi(APIView):
    """A container is a folder of .txt files that the Azure-compatible ``:import`` reads document texts from. It
    belongs to the user who created it (the first PUT into a free name); only they (and superusers) may use it."""

    permission_classes = [UserCredentials]
    parser_classes = [FileUploadParser]

    @extend_schema(
        summary="Put a .txt document into a container of yours (for the Azure-compatible import)",
        description="The first PUT into a free container name creates the container, and you own it; a container "
        "that is someone else's (or an unowned folder placed on the server) answers 403.",
        parameters=[
            path_parameter("container", OpenApiTypes.STR),
            path_parameter("file_name", OpenApiTypes.STR, "Ends in .txt."),
        ],
        request={"text/plain": OpenApiTypes.BINARY},
        responses={
            201: ContainerFileOutputSerializer,
            200: ContainerFileOutputSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A bad container or file name, or a bad text."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="The container is not yours."),
        },
    )
    def put(self, request: Request, container: str, file_name: str) -> Response:
        # The raw body is the file (as Azure's blob PUT); DRF's parsers are never asked, so nothing is buffered twice.
        data = request.body
        path, created = services.container_file_save(
            user=request.user, container=container, file_name=file_name, data=data
        )
        body = {"container": container, "name": path.name, "size_bytes": len(data), "created": created}
        return Response(
            ContainerFileOutputSerializer(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

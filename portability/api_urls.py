"""/api/v1/ routes of the portability app (names under the ``portability_api`` namespace)."""

from __future__ import annotations

from django.urls import path

from portability import api

app_name = "portability_api"
project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/clone/", api.ProjectCloneApi.as_view(), name="project_clone"),
    path(f"{project}/archive/", api.ProjectArchiveApi.as_view(), name="project_archive"),
    path(f"{project}/data/", api.ProjectDataApi.as_view(), name="project_data"),
    path("project-archives/", api.ArchiveImportApi.as_view(), name="archive_import"),
    path("containers/<str:container>/<str:file_name>", api.ContainerFileApi.as_view(), name="container_file"),
]

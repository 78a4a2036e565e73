"""/api/v1/ routes of the portability app (names under the ``portability_api`` namespace)."""

from __future__ import annotations

from django.urls import include, path

from portability import api
from projects.routes import PROJECT

app_name = "portability_api"
project = [
    path("clone/", api.ProjectCloneApi.as_view(), name="project_clone"),
    path("archive/", api.ProjectArchiveApi.as_view(), name="project_archive"),
    path("data/", api.ProjectDataApi.as_view(), name="project_data"),
]
urlpatterns = [
    path(PROJECT, include(project)),
    path("project-archives/", api.ArchiveImportApi.as_view(), name="archive_import"),
    path("containers/<str:container>/<str:file_name>", api.ContainerFileApi.as_view(), name="container_file"),
]

from __future__ import annotations

from django.urls import include, path

from labeling import api
from projects.routes import PROJECT

document = [
    path("", api.DocumentDetailApi.as_view(), name="api-document-detail"),
    path("spans/", api.SpanListApi.as_view(), name="api-span-list"),
    path("spans/<int:span_id>/", api.SpanDetailApi.as_view(), name="api-span-detail"),
    path("suggestions/", include("labeling.suggestions.api_urls")),
    path("assignments/<int:assignment_id>/", include("labeling.agreement.api_urls")),
]
project = [
    path("documents/", api.DocumentListApi.as_view(), name="api-document-list"),
    path("documents/<int:document_id>/", include(document)),
    path("imports/", api.ImportListApi.as_view(), name="api-import-list"),
    path("imports/<int:import_job_id>/", api.ImportDetailApi.as_view(), name="api-import-detail"),
    path("exports/", api.ExportApi.as_view(), name="api-export"),
]
urlpatterns = [path(PROJECT, include(project))]

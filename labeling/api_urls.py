from __future__ import annotations

from django.urls import include, path

from labeling import api

urlpatterns = [
    path("projects/<str:project_name>/documents/", api.DocumentListApi.as_view(), name="api-document-list"),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/",
        api.DocumentDetailApi.as_view(),
        name="api-document-detail",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/spans/",
        api.SpanListApi.as_view(),
        name="api-span-list",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/spans/<int:span_id>/",
        api.SpanDetailApi.as_view(),
        name="api-span-detail",
    ),
    path("", include("labeling.suggestions.api_urls")),
    path("", include("labeling.agreement.api_urls")),
    path("projects/<str:project_name>/imports/", api.ImportListApi.as_view(), name="api-import-list"),
    path(
        "projects/<str:project_name>/imports/<int:import_job_id>/",
        api.ImportDetailApi.as_view(),
        name="api-import-detail",
    ),
    path("projects/<str:project_name>/exports/", api.ExportApi.as_view(), name="api-export"),
]

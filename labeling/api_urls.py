from __future__ import annotations

from django.urls import path

from labeling import agreement_api, api, suggestions_api

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
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/",
        suggestions_api.SuggestionListApi.as_view(),
        name="api-suggestion-list",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/accept-all/",
        suggestions_api.SuggestionAcceptAllApi.as_view(),
        name="api-suggestion-accept-all",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/restore/",
        suggestions_api.SuggestionRestoreApi.as_view(),
        name="api-suggestion-restore",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/reject-all/",
        suggestions_api.SuggestionRejectAllApi.as_view(),
        name="api-suggestion-reject-all",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/<int:suggestion_id>/accept/",
        suggestions_api.SuggestionAcceptApi.as_view(),
        name="api-suggestion-accept",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/<int:suggestion_id>/reject/",
        suggestions_api.SuggestionRejectApi.as_view(),
        name="api-suggestion-reject",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/assignments/<int:assignment_id>/spans/",
        agreement_api.AnnotatorSpanListApi.as_view(),
        name="api-annotator-span-list",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/assignments/<int:assignment_id>/spans/"
        "<int:annotator_span_id>/",
        agreement_api.AnnotatorSpanDetailApi.as_view(),
        name="api-annotator-span-detail",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/assignments/<int:assignment_id>/submit/",
        agreement_api.AssignmentSubmitApi.as_view(),
        name="api-assignment-submit",
    ),
    path("projects/<str:project_name>/imports/", api.ImportListApi.as_view(), name="api-import-list"),
    path(
        "projects/<str:project_name>/imports/<int:import_job_id>/",
        api.ImportDetailApi.as_view(),
        name="api-import-detail",
    ),
    path("projects/<str:project_name>/exports/", api.ExportApi.as_view(), name="api-export"),
]

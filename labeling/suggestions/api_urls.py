"""/api/v1/ routes of the tagging page's suggestions; names stay flat, as before the move."""

from __future__ import annotations

from django.urls import path

from labeling.suggestions import api

urlpatterns = [
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/",
        api.SuggestionListApi.as_view(),
        name="api-suggestion-list",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/accept-all/",
        api.SuggestionAcceptAllApi.as_view(),
        name="api-suggestion-accept-all",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/restore/",
        api.SuggestionRestoreApi.as_view(),
        name="api-suggestion-restore",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/reject-all/",
        api.SuggestionRejectAllApi.as_view(),
        name="api-suggestion-reject-all",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/<int:suggestion_id>/accept/",
        api.SuggestionAcceptApi.as_view(),
        name="api-suggestion-accept",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/suggestions/<int:suggestion_id>/reject/",
        api.SuggestionRejectApi.as_view(),
        name="api-suggestion-reject",
    ),
]

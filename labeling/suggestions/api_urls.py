"""/api/v1/ routes of the tagging page's suggestions, under a document's URL (``labeling.api_urls`` mounts them at
``documents/<document_id>/suggestions/``); names stay flat, as before the move."""

from __future__ import annotations

from django.urls import path

from labeling.suggestions import api

urlpatterns = [
    path("", api.SuggestionListApi.as_view(), name="api-suggestion-list"),
    path("accept-all/", api.SuggestionAcceptAllApi.as_view(), name="api-suggestion-accept-all"),
    path("restore/", api.SuggestionRestoreApi.as_view(), name="api-suggestion-restore"),
    path("reject-all/", api.SuggestionRejectAllApi.as_view(), name="api-suggestion-reject-all"),
    path("<int:suggestion_id>/accept/", api.SuggestionAcceptApi.as_view(), name="api-suggestion-accept"),
    path("<int:suggestion_id>/reject/", api.SuggestionRejectApi.as_view(), name="api-suggestion-reject"),
]

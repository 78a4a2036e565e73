"""/api/v1/ routes of an annotator's own copy (agreement assignments), under a document's URL (``labeling.api_urls``
mounts them at ``documents/<document_id>/assignments/<assignment_id>/``); names stay flat, as before the move."""

from __future__ import annotations

from django.urls import path

from labeling.agreement import api

urlpatterns = [
    path("spans/", api.AnnotatorSpanListApi.as_view(), name="api-annotator-span-list"),
    path("spans/<int:annotator_span_id>/", api.AnnotatorSpanDetailApi.as_view(), name="api-annotator-span-detail"),
    path("submit/", api.AssignmentSubmitApi.as_view(), name="api-assignment-submit"),
]

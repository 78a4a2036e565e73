"""/api/v1/ routes of an annotator's own copy (agreement assignments); names stay flat, as before the move."""

from __future__ import annotations

from django.urls import path

from labeling.agreement import api

urlpatterns = [
    path(
        "projects/<str:project_name>/documents/<int:document_id>/assignments/<int:assignment_id>/spans/",
        api.AnnotatorSpanListApi.as_view(),
        name="api-annotator-span-list",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/assignments/<int:assignment_id>/spans/"
        "<int:annotator_span_id>/",
        api.AnnotatorSpanDetailApi.as_view(),
        name="api-annotator-span-detail",
    ),
    path(
        "projects/<str:project_name>/documents/<int:document_id>/assignments/<int:assignment_id>/submit/",
        api.AssignmentSubmitApi.as_view(),
        name="api-assignment-submit",
    ),
]

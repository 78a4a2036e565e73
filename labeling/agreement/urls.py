from __future__ import annotations

from django.urls import path

from labeling.agreement import views as agreement_views

app_name = "agreement"

urlpatterns = [
    path("projects/<str:project_name>/agreement/", agreement_views.agreement_report, name="report"),
    path(
        "projects/<str:project_name>/agreement/assignments/",
        agreement_views.assignment_list,
        name="assignment_list",
    ),
    path(
        "projects/<str:project_name>/agreement/documents/<int:document_id>/",
        agreement_views.adjudicate,
        name="adjudicate",
    ),
]

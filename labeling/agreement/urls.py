from __future__ import annotations

from django.urls import path

from labeling.agreement import views

app_name = "agreement"

urlpatterns = [
    path("projects/<str:project_name>/agreement/", views.agreement_report, name="report"),
    path(
        "projects/<str:project_name>/agreement/assignments/",
        views.assignment_list,
        name="assignment_list",
    ),
    path(
        "projects/<str:project_name>/agreement/documents/<int:document_id>/",
        views.adjudicate,
        name="adjudicate",
    ),
]

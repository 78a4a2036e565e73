"""Pages of agreement, under a project's URL (``labeling.urls`` mounts them)."""

from __future__ import annotations

from django.urls import path

from labeling.agreement import views

app_name = "agreement"

urlpatterns = [
    path("agreement/", views.agreement_report, name="report"),
    path("agreement/assignments/", views.assignment_list, name="assignment_list"),
    path("agreement/documents/<int:document_id>/", views.adjudicate, name="adjudicate"),
]

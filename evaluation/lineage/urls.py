from __future__ import annotations

from django.urls import path

from evaluation.lineage import views

app_name = "lineage"

project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/snapshots/<int:snapshot_id>/", views.snapshot_detail, name="snapshot_detail"),
    path(f"{project}/documents/<int:document_id>/models/", views.document_models, name="document_models"),
]

from __future__ import annotations

from django.urls import path

from evaluation.lineage import views
from projects.routes import PROJECT

app_name = "lineage"

urlpatterns = [
    path(f"{PROJECT}snapshots/<int:snapshot_id>/", views.snapshot_detail, name="snapshot_detail"),
    path(f"{PROJECT}documents/<int:document_id>/models/", views.document_models, name="document_models"),
]

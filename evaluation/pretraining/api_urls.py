"""/api/v1/ routes of pretraining, in the ``evaluation_api`` namespace (evaluation/api_urls.py includes them)."""

from __future__ import annotations

from django.urls import path

from evaluation.pretraining import api
from projects.routes import PROJECT

urlpatterns = [
    path(f"{PROJECT}pretraining-runs/", api.PretrainingRunListApi.as_view(), name="pretraining_run_list"),
    path(
        f"{PROJECT}pretraining-runs/<int:pretraining_run_id>/",
        api.PretrainingRunDetailApi.as_view(),
        name="pretraining_run_detail",
    ),
]

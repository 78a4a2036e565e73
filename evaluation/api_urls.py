"""/api/v1/ routes of the evaluation app (names under the ``evaluation_api`` namespace)."""

from __future__ import annotations

from django.urls import include, path

from evaluation import api
from projects.routes import PROJECT

app_name = "evaluation_api"

project = [
    path("training-runs/", api.TrainingRunListApi.as_view(), name="training_run_list"),
    path("training-runs/<int:run_id>/", api.TrainingRunDetailApi.as_view(), name="training_run_detail"),
    path("training-runs/<int:run_id>/cancel/", api.TrainingRunCancelApi.as_view(), name="training_run_cancel"),
    path("models/", api.TrainedModelListApi.as_view(), name="trained_model_list"),
    path("models/<int:model_id>/", api.TrainedModelDetailApi.as_view(), name="trained_model_detail"),
    path("models/<int:model_id>/evaluation/", api.EvaluationApi.as_view(), name="evaluation_detail"),
]
urlpatterns = [
    path(PROJECT, include(project)),
    path("", include("evaluation.pretraining.api_urls")),
]

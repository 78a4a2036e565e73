"""/api/v1/ routes of the serving app (names under the ``serving_api`` namespace)."""

from __future__ import annotations

from django.urls import path

from projects.routes import PROJECT
from serving import api

app_name = "serving_api"
deployments = f"{PROJECT}deployments"
urlpatterns = [
    path(f"{deployments}/", api.DeploymentListApi.as_view(), name="deployment_list"),
    # Before the detail route: "swap" is reserved and cannot be a deployment's name.
    path(f"{deployments}/swap/", api.DeploymentSwapApi.as_view(), name="deployment_swap"),
    path(f"{deployments}/<str:deployment_name>/", api.DeploymentDetailApi.as_view(), name="deployment_detail"),
    path(f"{deployments}/<str:deployment_name>/predict", api.DeploymentPredictApi.as_view(), name="deployment_predict"),
]

from __future__ import annotations

from django.urls import path

from projects.routes import PROJECT
from serving import azure, views

app_name = "serving"

urlpatterns = [
    path(f"{PROJECT}deployments/", views.deployment_list, name="deployment_list"),
    path(f"{PROJECT}deploy/", views.deployment_deploy, name="deployment_deploy"),
    # Before the detail route: "swap" is reserved and cannot be a deployment's name.
    path(f"{PROJECT}deployments/swap/", views.deployment_swap, name="deployment_swap"),
    path(f"{PROJECT}deployments/<str:deployment_name>/", views.deployment_detail, name="deployment_detail"),
    path(f"{PROJECT}deployments/<str:deployment_name>/delete/", views.deployment_delete, name="deployment_delete"),
    path(f"{PROJECT}try/", views.try_it, name="try_it"),
    path(f"{PROJECT}next-steps/", views.project_next_steps_card, name="next_steps"),
    # Azure AI Language's runtime API (what azure-ai-textanalytics calls).
    path("language/analyze-text/jobs", azure.AnalyzeTextJobSubmitApi.as_view(), name="analyze_text_jobs"),
    path("language/analyze-text/jobs/<str:job_id>", azure.AnalyzeTextJobApi.as_view(), name="analyze_text_job"),
]

from __future__ import annotations

from django.urls import path

from serving import azure, views

app_name = "serving"

project = "projects/<str:project_name>"
urlpatterns = [
    path(f"{project}/deployments/", views.deployment_list, name="deployment_list"),
    path(f"{project}/deploy/", views.deployment_deploy, name="deployment_deploy"),
    # Before the detail route: "swap" is reserved and cannot be a deployment's name.
    path(f"{project}/deployments/swap/", views.deployment_swap, name="deployment_swap"),
    path(f"{project}/deployments/<str:deployment_name>/", views.deployment_detail, name="deployment_detail"),
    path(f"{project}/deployments/<str:deployment_name>/delete/", views.deployment_delete, name="deployment_delete"),
    path(f"{project}/try/", views.try_it, name="try_it"),
    path(f"{project}/next-steps/", views.project_next_steps_card, name="next_steps"),
    # Azure AI Language's runtime API (what azure-ai-textanalytics calls).
    path("language/analyze-text/jobs", azure.AnalyzeTextJobSubmitApi.as_view(), name="analyze_text_jobs"),
    path("language/analyze-text/jobs/<str:job_id>", azure.AnalyzeTextJobApi.as_view(), name="analyze_text_job"),
]

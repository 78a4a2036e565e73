"""Pages of the portability app, and Azure's authoring API under /language/authoring/analyze-text/ (beside the
runtime API that serving mounts at /language/analyze-text/jobs)."""

from __future__ import annotations

from django.urls import path

from portability import azure_authoring as azure
from portability import views
from projects.routes import PROJECT

app_name = "portability"

authoring = "language/authoring/analyze-text/projects"
one = f"{authoring}/<str:projectName>"
model = f"{one}/models/<str:trainedModelLabel>"
urlpatterns = [
    path("import-project-archive/", views.project_archive_import, name="project_archive_import"),
    path(f"{PROJECT}clone/", views.project_clone, name="project_clone"),
    path(f"{PROJECT}archive/", views.project_archive_download, name="project_archive"),
    path(f"{PROJECT}data/", views.project_data, name="project_data"),
    # Azure AI Language's authoring API (what Azure's authoring clients and REST scripts call). Path parameters
    # carry Azure's own names ({projectName}, {trainedModelLabel}, {deploymentName}, {jobId}); the views get
    # nerlab's names (see azure_authoring._AuthoringView.dispatch). The global routes come first: "global" is
    # Azure's reserved word there, never a project.
    path(authoring, azure.ProjectListApi.as_view(), name="azure_project_list"),
    path(f"{authoring}/global/deletion-jobs/<str:jobId>", azure.DeletionJobApi.as_view(), name="azure_deletion_job"),
    path(
        f"{authoring}/global/training-config-versions",
        azure.TrainingConfigVersionsApi.as_view(),
        name="azure_training_config_versions",
    ),
    path(one, azure.ProjectDetailApi.as_view(), name="azure_project_detail"),
    path(f"{one}/:import", azure.ImportApi.as_view(), name="azure_import"),
    path(f"{one}/import/jobs/<str:jobId>", azure.ImportJobApi.as_view(), name="azure_import_job"),
    path(f"{one}/:export", azure.ExportApi.as_view(), name="azure_export"),
    path(f"{one}/export/jobs/<str:jobId>", azure.ExportJobApi.as_view(), name="azure_export_job"),
    path(f"{one}/export/jobs/<str:jobId>/result", azure.ExportResultApi.as_view(), name="azure_export_result"),
    path(f"{one}/:train", azure.TrainApi.as_view(), name="azure_train"),
    path(f"{one}/train/jobs", azure.TrainJobListApi.as_view(), name="azure_train_jobs"),
    path(f"{one}/train/jobs/<str:jobId>", azure.TrainJobApi.as_view(), name="azure_train_job"),
    path(f"{one}/train/jobs/<str:jobId>/:cancel", azure.TrainJobCancelApi.as_view(), name="azure_train_cancel"),
    path(f"{one}/models", azure.ModelListApi.as_view(), name="azure_model_list"),
    path(model, azure.ModelDetailApi.as_view(), name="azure_model_detail"),
    path(f"{model}/evaluation/summary-result", azure.EvaluationSummaryApi.as_view(), name="azure_evaluation_summary"),
    path(f"{model}/evaluation/result", azure.EvaluationResultApi.as_view(), name="azure_evaluation_result"),
    path(f"{one}/deployments", azure.DeploymentListApi.as_view(), name="azure_deployment_list"),
    # Before the deployment routes: ":swap" and "swap" are Azure's words, never deployment names.
    path(f"{one}/deployments/:swap", azure.SwapApi.as_view(), name="azure_swap"),
    path(f"{one}/deployments/swap/jobs/<str:jobId>", azure.SwapJobApi.as_view(), name="azure_swap_job"),
    path(f"{one}/deployments/<str:deploymentName>", azure.DeploymentDetailApi.as_view(), name="azure_deployment"),
    path(
        f"{one}/deployments/<str:deploymentName>/jobs/<str:jobId>",
        azure.DeploymentJobApi.as_view(),
        name="azure_deployment_job",
    ),
]

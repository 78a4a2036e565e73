"""REST API for training runs, trained models and evaluations (under /api/v1/projects/<name>/)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from evaluation import selectors, services
from evaluation.pretraining import selectors as pretraining_selectors
from evaluation.serializers import (
    EvaluationOutputSerializer,
    TrainedModelOutputSerializer,
    TrainingRunOutputSerializer,
    TrainingRunStartInputSerializer,
)
from labeling.serializers import ErrorSerializer
from ner.metrics import azure_summary
from projects.api import (
    PROJECT_NAME_PARAMETER,
    JobDetailApi,
    JobListApi,
    JobRows,
    ProjectScopedAPIView,
    paginated_response,
    path_parameter,
    valid_input,
)
from projects.models import Project
from projects.pagination import PagePagination
from projects.roles import Permission


class _ReportFormatNegotiation(DefaultContentNegotiation):
    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


TRAINING_RUNS = JobRows(
    list=selectors.training_run_list,
    get=selectors.training_run_get,
    output=TrainingRunOutputSerializer,
    url_kwarg="run_id",
)

RUN_ID_PARAMETER = path_parameter("run_id", OpenApiTypes.INT, "The run's id.")
MODEL_ID_PARAMETER = path_parameter("model_id", OpenApiTypes.INT, "The trained model's id.")


@extend_schema_view(
    get=extend_schema(
        summary="The project's training runs, newest first, with their progress",
        responses=TrainingRunOutputSerializer(many=True),
    ),
    post=extend_schema(
        summary="Freeze the tagged documents and queue a training run",
        description="Answers 202 at once; poll the run for progress. One run trains at a time per project.",
        request=TrainingRunStartInputSerializer,
        responses={202: TrainingRunOutputSerializer},
    ),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class TrainingRunListApi(JobListApi):
    jobs = TRAINING_RUNS

    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.TRAIN)
        data = dict(valid_input(TrainingRunStartInputSerializer, request.data).validated_data)
        models = selectors.trained_model_list(project=project)
        pretrainings = pretraining_selectors.pretraining_run_list(project=project)
        for field, rows, what in (
            ("same_settings_as", models, "trained model"),
            ("teacher", models, "trained model"),
            ("pretraining", pretrainings, "pretraining run"),
        ):
            data[field] = _named_row(data[field], rows, field=field, project=project, what=what)
        run = services.training_run_start(project=project, user=request.user, **data)
        return TRAINING_RUNS.accepted(project, run)


@extend_schema(
    parameters=[PROJECT_NAME_PARAMETER, RUN_ID_PARAMETER],
    summary="One training run and its progress",
    responses=TrainingRunOutputSerializer,
)
class TrainingRunDetailApi(JobDetailApi):
    jobs = TRAINING_RUNS


@extend_schema(parameters=[PROJECT_NAME_PARAMETER, RUN_ID_PARAMETER])
class TrainingRunCancelApi(ProjectScopedAPIView):
    @extend_schema(
        summary="Cancel a queued or running training run",
        description="A queued run is cancelled at once; a running one stops within seconds and leaves no model.",
        request=None,
        responses=TrainingRunOutputSerializer,
    )
    def post(self, request: Request, project_name: str, run_id: int) -> Response:
        project = self.get_project(Permission.TRAIN)
        run = services.training_run_cancel(run=selectors.training_run_get(project=project, run_id=run_id))
        return TRAINING_RUNS.response(project, run.pk)


@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class TrainedModelListApi(ProjectScopedAPIView):
    pagination_class = PagePagination

    @extend_schema(
        summary="The project's trained models, newest first", responses=TrainedModelOutputSerializer(many=True)
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        models = selectors.trained_model_list(project=project)
        return paginated_response(
            request=request, view=self, queryset=models, serializer_class=TrainedModelOutputSerializer
        )


@extend_schema_view(
    get=extend_schema(summary="One trained model", responses=TrainedModelOutputSerializer),
    delete=extend_schema(
        summary="Delete a model with its evaluation and files",
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer, description="The model is still deployed; the message names the deployments."
            ),
        },
    ),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER, MODEL_ID_PARAMETER])
class TrainedModelDetailApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str, model_id: int) -> Response:
        project = self.get_project(Permission.VIEW)
        model = selectors.trained_model_get(project=project, model_id=model_id)
        return Response(TrainedModelOutputSerializer(model).data)

    def delete(self, request: Request, project_name: str, model_id: int) -> Response:
        project = self.get_project(Permission.TRAIN)
        services.trained_model_delete(model=selectors.trained_model_get(project=project, model_id=model_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    parameters=[
        PROJECT_NAME_PARAMETER,
        MODEL_ID_PARAMETER,
        OpenApiParameter(
            "format",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            enum=["native", "azure"],
            description="native (default): nerlab's full report; azure: Azure's customEntityRecognitionEvaluation.",
        ),
    ]
)
class EvaluationApi(ProjectScopedAPIView):
    # Here ``?format=`` names the report's shape (native/azure), not a DRF renderer.
    content_negotiation_class = _ReportFormatNegotiation

    @extend_schema(summary="A model's evaluation on its test set", responses=EvaluationOutputSerializer)
    def get(self, request: Request, project_name: str, model_id: int) -> Response:
        project = self.get_project(Permission.VIEW)
        model = selectors.trained_model_get(project=project, model_id=model_id)
        report = selectors.evaluation_report(model=model)
        fmt = request.query_params.get("format", "native")
        if fmt not in ("native", "azure"):
            return Response({"format": ["Use native or azure."]}, status=status.HTTP_400_BAD_REQUEST)
        body = azure_summary(report) if fmt == "azure" else report.to_dict()
        return Response({"model_id": model.pk, "model_name": model.name, "format": fmt, "evaluation": body})


def _named_row(row_id: int | None, rows: QuerySet[Any], *, field: str, project: Project, what: str) -> Any:
    """The project's row that a training request names by id in ``field`` (None when it names none)."""
    if row_id is None:
        return None
    row = rows.filter(pk=row_id).first()
    if row is None:
        raise ValidationError({field: f"{project.name} has no {what} with id {row_id}."})
    return row

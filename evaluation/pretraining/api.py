"""REST API of pretraining runs (under /api/v1/projects/<name>/pretraining-runs/)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from evaluation.models import PretrainingRun
from evaluation.pretraining import selectors, services
from evaluation.serializers import JobOutputSerializer
from labeling.serializers import ErrorSerializer
from ner.limits import SEED_MAX
from projects.api import PROJECT_NAME_PARAMETER, JobDetailApi, JobListApi, JobRows, path_parameter, valid_input
from projects.roles import Permission
from projects.serializer_fields import TextField

RUN_ID_PARAMETER = path_parameter("pretraining_run_id", OpenApiTypes.INT, "The pretraining run's id.")


class PretrainingRunStartInputSerializer(serializers.Serializer):
    max_steps = serializers.IntegerField(
        min_value=1,
        max_value=services.MAX_STEPS_LIMIT,
        default=services.DEFAULT_MAX_STEPS,
        help_text="Updates of about 3,000 words each.",
    )
    seed = serializers.IntegerField(min_value=0, max_value=SEED_MAX, default=0)


class PretrainingRunOutputSerializer(JobOutputSerializer):
    status = TextField(help_text="One of: " + ", ".join(PretrainingRun.Status.values))

    class Meta:
        model = PretrainingRun
        fields = [
            "id",
            "status",
            "language",
            "seed",
            "max_steps",
            "percent",
            "step",
            "loss",
            "eta_s",
            "document_count",
            "characters",
            "words",
            "weights_sha256",
            "duration_s",
            "error",
            "attempts",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


PRETRAINING_RUNS = JobRows(
    list=selectors.pretraining_run_list,
    get=selectors.pretraining_run_get,
    output=PretrainingRunOutputSerializer,
    url_kwarg="pretraining_run_id",
)


@extend_schema_view(
    get=extend_schema(summary="The project's pretraining runs", responses=PretrainingRunOutputSerializer(many=True))
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class PretrainingRunListApi(JobListApi):
    jobs = PRETRAINING_RUNS

    @extend_schema(
        summary="Pretrain the CNN on the project's text",
        description="Queues a pretraining of the CNN's tok2vec on the text of every document outside the test side; "
        "a finished run's id may then be given as a training run's `pretraining`. One at a time per project.",
        request=PretrainingRunStartInputSerializer,
        responses={202: PretrainingRunOutputSerializer},
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.TRAIN)
        data = valid_input(PretrainingRunStartInputSerializer, request.data).validated_data
        run = services.pretraining_run_start(project=project, user=request.user, **data)
        return PRETRAINING_RUNS.accepted(project, run)


@extend_schema_view(
    get=extend_schema(summary="One pretraining run and its progress", responses=PretrainingRunOutputSerializer)
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER, RUN_ID_PARAMETER])
class PretrainingRunDetailApi(JobDetailApi):
    jobs = PRETRAINING_RUNS

    @extend_schema(
        summary="Delete a finished pretraining and its weights",
        description="Refused (409) while it runs or while a training run started from it.",
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer, description="Still running, or a training started from it; the message says which."
            ),
        },
    )
    def delete(self, request: Request, project_name: str, pretraining_run_id: int) -> Response:
        project = self.get_project(Permission.TRAIN)
        services.pretraining_run_delete(run=selectors.pretraining_run_get(project=project, run_id=pretraining_run_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

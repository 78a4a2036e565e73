"""REST API for deployments and the native prediction API (under /api/v1/).

Every view starts from ``projects.access.project_for`` (through ``ProjectScopedAPIView.get_project``): a non-member, or
a project API key of another project, gets 404; a role without the permission gets 403; a project API key may
call only ``predict``. Managing deployments needs ``deploy`` (owners); reading them ``view``; predicting
``predict`` (every role, and project keys).
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from evaluation.models import TrainedModel
from projects.api import PROJECT_NAME_PARAMETER, ProjectScopedAPIView, path_parameter, request_api_key, valid_input
from projects.models import Project
from projects.roles import Permission
from serving import selectors, services
from serving.authentication import CachedApiKeyAuthentication, project_cache
from serving.serializers import (
    DeploymentCreateInputSerializer,
    DeploymentOutputSerializer,
    DeploymentReplaceInputSerializer,
    DeploymentSwapInputSerializer,
    DeploymentSwapOutputSerializer,
    PredictInputSerializer,
    PredictOutputSerializer,
)

DEPLOYMENT_NAME_PARAMETER = path_parameter("deployment_name", OpenApiTypes.STR, "The deployment's name.")


def _model_from(project: Project, value: str) -> TrainedModel:
    """A model of the project by name, or by id when the value is a number and no model has that name."""
    model = selectors.deployable_model_list(project=project).filter(name=value).first()
    if model is None and value.isdigit():
        model = selectors.deployable_model_list(project=project).filter(pk=int(value)).first()
    if model is None:
        raise exceptions.ValidationError({"model": f"No trained model named {value!r} in this project."})
    return model


@extend_schema_view(
    get=extend_schema(summary="The project's deployments", responses=DeploymentOutputSerializer(many=True)),
    post=extend_schema(
        summary="Deploy a trained model under a name (an existing name is redeployed with the new model)",
        request=DeploymentCreateInputSerializer,
        responses={201: DeploymentOutputSerializer, 200: DeploymentOutputSerializer},
    ),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class DeploymentListApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return Response(DeploymentOutputSerializer(selectors.deployment_list(project=project), many=True).data)

    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.DEPLOY)
        data = valid_input(DeploymentCreateInputSerializer, request.data).validated_data
        model = _model_from(project, data["model"])
        deployment, created = services.deployment_create_or_replace(
            project=project, name=data["name"], model=model, user=request.user
        )
        return Response(
            DeploymentOutputSerializer(deployment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_view(
    get=extend_schema(summary="One deployment", responses=DeploymentOutputSerializer),
    put=extend_schema(
        summary="Redeploy: serve another model under this existing name (create new names with POST)",
        request=DeploymentReplaceInputSerializer,
        responses=DeploymentOutputSerializer,
    ),
    delete=extend_schema(summary="Delete a deployment (the model is kept)", responses={204: None}),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER, DEPLOYMENT_NAME_PARAMETER])
class DeploymentDetailApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return Response(
            DeploymentOutputSerializer(selectors.deployment_get(project=project, name=deployment_name)).data
        )

    def put(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project = self.get_project(Permission.DEPLOY)
        existing = selectors.deployment_get(project=project, name=deployment_name)  # 404 for an unknown name
        data = valid_input(DeploymentReplaceInputSerializer, request.data).validated_data
        model = _model_from(project, data["model"])
        deployment, _ = services.deployment_create_or_replace(
            project=project, name=existing.name, model=model, user=request.user
        )
        return Response(DeploymentOutputSerializer(deployment).data)

    def delete(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project = self.get_project(Permission.DEPLOY)
        services.deployment_delete(deployment=selectors.deployment_get(project=project, name=deployment_name))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class DeploymentSwapApi(ProjectScopedAPIView):
    @extend_schema(
        summary="Swap the models of two deployments atomically (e.g. promote staging to production)",
        request=DeploymentSwapInputSerializer,
        responses=DeploymentSwapOutputSerializer,
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.DEPLOY)
        data = valid_input(DeploymentSwapInputSerializer, request.data).validated_data
        try:
            first, second = services.deployment_swap(
                project=project,
                first_name=data["first"],
                second_name=data["second"],
                user=request.user,
            )
        except Http404 as error:
            # The URL exists; a missing name is a mistake in the body.
            raise exceptions.ValidationError({"non_field_errors": [str(error)]}) from None
        return Response(DeploymentSwapOutputSerializer({"deployments": [first, second]}).data)


# The cached authenticator takes the same keys as every other endpoint; the schema says so by name.
@extend_schema(
    parameters=[PROJECT_NAME_PARAMETER, DEPLOYMENT_NAME_PARAMETER],
    auth=[{"ApiKey": []}, {"SubscriptionKey": []}, {"cookieAuth": []}],
)
class DeploymentPredictApi(ProjectScopedAPIView):
    # The hot path: API keys and their project scope come from a per-process cache of at most 5 seconds
    # (serving.authentication explains what that means for revocation); signed-in users are checked every time.
    authentication_classes = [CachedApiKeyAuthentication, SessionAuthentication]

    def get_project(self, permission: Permission) -> Project:
        api_key = request_api_key(self.request)
        if api_key is None:
            return super().get_project(permission)
        scope = (api_key.pk, self.kwargs["project_name"], permission.value)
        project = project_cache.get(scope)
        if project is None:
            project = super().get_project(permission)  # 404 / 403 are raised here and never cached
            project_cache.put(scope, project)
        return project

    @extend_schema(
        summary="Find entities in up to 25 documents, with a confidence score for each",
        description=(
            "Authenticate with an API key (`Authorization: Api-Key <key>` or `Ocp-Apim-Subscription-Key: <key>`): "
            "a user key with any role in the project, or a project key of this project. Offsets and lengths count "
            "`stringIndexType` units (default: Unicode code points, as Python indexes strings)."
        ),
        request=PredictInputSerializer,
        responses={
            200: PredictOutputSerializer,
            400: OpenApiResponse(description="A limit is exceeded, or a document is blank."),
            404: OpenApiResponse(description="No such project or deployment (or the key cannot see it)."),
            503: OpenApiResponse(description="The deployed model's files cannot be loaded."),
        },
    )
    def post(self, request: Request, project_name: str, deployment_name: str) -> Response:
        project = self.get_project(Permission.PREDICT)
        deployment = services.deployment_resolve(project=project, name=deployment_name)  # 404 before any 400
        data = valid_input(PredictInputSerializer, request.data).validated_data
        if "text" in data:
            documents = [services.DocumentInput(id="1", text=data["text"])]
        else:
            documents = [
                services.DocumentInput(id=doc.get("id") or str(index), text=doc["text"], language=doc.get("language"))
                for index, doc in enumerate(data["documents"], start=1)
            ]
        try:
            prediction = services.deployment_predict(
                deployment=deployment,
                documents=documents,
                string_index_type=data["stringIndexType"],
            )
        except services.PredictionError as error:
            field = "stringIndexType" if error.azure_code == "InvalidParameterValue" else "documents"
            raise exceptions.ValidationError({field: error.messages}) from None
        except services.PredictionUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        body = {
            "deploymentName": prediction.deployment.name,
            "modelId": prediction.deployment.model_id,
            "modelVersion": prediction.deployment.model.name,
            "stringIndexType": prediction.string_index_type,
            "documents": [result.to_dict() for result in prediction.documents],
        }
        return Response(body)

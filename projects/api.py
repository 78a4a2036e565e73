"""REST API for projects, members, invitations, entity types, stats and API keys (under /api/v1/).

Every project-scoped view starts from ``projects.access.project_for``: a non-member gets 404, a member
whose role lacks the permission gets 403, and a project API key reaches only its own project's prediction API.

Other apps build on the shared pieces here: ``ProjectScopedAPIView`` (``self.get_project(Permission.X)``),
``ApiOperations`` (an API module's documented operations), ``path_parameter``, ``valid_input`` (a request's body or
query through its input serializer), ``JobRows`` (a background job answered with its row), ``JobListApi`` and
``JobDetailApi`` (a kind of job listed and polled), ``UserCredentials``, ``paginated_response`` and
``project_created``.
Errors are answered in one place for every view: ``projects.api_errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, permissions, status
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from projects import selectors, services
from projects.access import project_for
from projects.models import ApiKey, Membership, Project
from projects.pagination import PagePagination
from projects.roles import Permission
from projects.serializers import (
    ApiKeyCreatedOutputSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeyOutputSerializer,
    EntityTypeCreateInputSerializer,
    EntityTypeOutputSerializer,
    InvitationCreateInputSerializer,
    InvitationOutputSerializer,
    MemberCreateInputSerializer,
    MemberOutputSerializer,
    MemberUpdateInputSerializer,
    ProjectCreateInputSerializer,
    ProjectOutputSerializer,
    ProjectStatsOutputSerializer,
    ProjectUpdateInputSerializer,
)

# --- shared helpers (importable by other apps' APIs) ------------------------------------------------------------


def path_parameter(name: str, type: OpenApiTypes, description: str = "") -> OpenApiParameter:
    """How the schema documents a segment of an endpoint's path."""
    return OpenApiParameter(name, type, OpenApiParameter.PATH, description=description)


def valid_input[S: BaseSerializer](serializer_class: type[S], data: Any, **kwargs: Any) -> S:
    """``serializer_class`` bound to a request's body or query, once it is valid: otherwise a 400 (the API's one
    exception handler words it) with each field's errors."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer


PROJECT_NAME_PARAMETER = path_parameter("project_name", OpenApiTypes.STR, "The project's name.")


@dataclass(frozen=True)
class ApiOperations:
    """How one API module documents its operations: under one tag, each with its success answer and the errors any
    of them can give (worded by the module for its resources). ``operation(...)`` is the ``extend_schema`` of one."""

    tags: list[str]
    not_found: OpenApiResponse
    forbidden: OpenApiResponse
    invalid: OpenApiResponse

    def __call__(
        self,
        operation_id: str,
        summary: str,
        ok: Any,
        *,
        status: int = 200,
        request: Any = empty,
        refusable: bool | None = None,
        description: str | None = None,
        parameters: list[OpenApiParameter] | None = None,
    ) -> Callable[[Any], Any]:
        """``ok`` answers with ``status``; a 400 is documented when the operation takes a body (or ``refusable``)."""
        refusable = refusable if refusable is not None else request not in (empty, None)
        return extend_schema(
            operation_id=operation_id,
            tags=self.tags,
            summary=summary,
            description=description,
            request=request,
            parameters=parameters,
            responses=self.responses({status: ok}, refusable=refusable),
        )

    def responses(self, answers: dict[Any, Any], *, refusable: bool = False) -> dict[Any, Any]:
        """``answers`` (status -> what the operation answers), then the errors: 400 if ``refusable``, 403, 404."""
        return {**answers, **({400: self.invalid} if refusable else {}), 403: self.forbidden, 404: self.not_found}


def request_api_key(request: Request) -> ApiKey | None:
    """The API key that authenticated this request, if one did (session requests have none)."""
    return request.auth if isinstance(request.auth, ApiKey) else None


@csrf_exempt  # a 404 whatever the method: CSRF's HTML 403 would hide it, and nothing is changed
def api_not_found(request: HttpRequest, unmatched: str = "") -> HttpResponse:
    """Any path under /api/v1/ that names no resource (an id that is not a number, a typo): the API's JSON 404,
    not the site's HTML page. A GET without its trailing slash is redirected as APPEND_SLASH would."""
    if settings.APPEND_SLASH and request.method in ("GET", "HEAD") and not request.path_info.endswith("/"):
        try:
            found = resolve(f"{request.path_info}/").func is not api_not_found
        except Resolver404:
            found = False
        if found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return JsonResponse({"detail": "Not found."}, status=404)


class ProjectScopedAPIView(APIView):
    # A view under ``projects/<project_name>/``; handlers call ``self.get_project(Permission.X)`` first. A comment, not
    # a docstring: the schema shows a view's docstring, inherited too, as the description of each of its endpoints.

    def get_project(self, permission: Permission) -> Project:
        return project_for(self.request, self.kwargs["project_name"], permission)


class UserCredentials(permissions.BasePermission):
    """Signed in, or a user API key: a project API key may only call its project's prediction API."""

    message = "A project API key can only call the prediction API."

    def has_permission(self, request: Request, view: APIView) -> bool:
        api_key = request_api_key(request)
        return bool(request.user and request.user.is_authenticated) and (api_key is None or api_key.project is None)


def paginated_response(
    *, request: Request, view: APIView, queryset: QuerySet[Any], serializer_class: type[BaseSerializer]
) -> Response:
    """One page (``?limit=&offset=``) of ``queryset`` in the shape drf-spectacular documents for list views."""
    paginator = PagePagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    assert page is not None  # PagePagination always pages (default limit from PAGE_SIZE)
    return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": request}).data)


def project_created(project: Project, user: Any) -> Response:
    """201 with a project ``user`` has just made (created, cloned or imported), showing their role in it."""
    project.user_role = selectors.membership_role(user=user, project=project)  # type: ignore[attr-defined]
    return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


@dataclass(frozen=True)
class JobRows:
    """How the API answers with a project's background jobs of one kind: a page of them (``list(project=)``), or one
    row read again through ``get`` (``get(project=, run_id=)``, the selector that adds what ``output`` shows), never
    the instance a service returned. ``url_kwarg`` names a job's id in its URL."""

    list: Callable[..., QuerySet[Any]]
    get: Callable[..., Any]
    output: type[BaseSerializer]
    url_kwarg: str

    def response(self, project: Project, job_id: int, *, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.output(self.get(project=project, run_id=job_id)).data, status=code)

    def accepted(self, project: Project, job: Any) -> Response:
        """202: ``job`` is queued; poll its row for progress."""
        return self.response(project, job.pk, code=status.HTTP_202_ACCEPTED)


# Every kind of job is listed and polled the same way: what a client does after the 202 of its POST (queued with
# the kind's own permission and input, so each list view writes its ``post``). Comments, not docstrings: the schema
# would show a docstring as each endpoint's description.


class JobListApi(ProjectScopedAPIView):
    # The project's jobs of one kind, a page at a time, in the order ``jobs.list`` gives them.
    jobs: ClassVar[JobRows]
    pagination_class = PagePagination  # read by drf-spectacular to document the page shape

    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return paginated_response(
            request=request, view=self, queryset=self.jobs.list(project=project), serializer_class=self.jobs.output
        )


class JobDetailApi(ProjectScopedAPIView):
    # One job of the project, with its progress.
    jobs: ClassVar[JobRows]

    def get(self, request: Request, project_name: str, **url_ids: int) -> Response:
        return self.jobs.response(self.get_project(Permission.VIEW), url_ids[self.jobs.url_kwarg])


# --- projects ---------------------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="Your projects", responses=ProjectOutputSerializer(many=True)),
    post=extend_schema(
        summary="Create a project (you become its owner)",
        request=ProjectCreateInputSerializer,
        responses={201: ProjectOutputSerializer},
    ),
)
class ProjectListApi(APIView):
    permission_classes = [UserCredentials]
    pagination_class = PagePagination  # read by drf-spectacular to document the page shape

    def get(self, request: Request) -> Response:
        # The user's role rides on the membership join the selector already filters on.
        projects = selectors.project_list_for_user(user=request.user)
        return paginated_response(
            request=request, view=self, queryset=projects, serializer_class=ProjectOutputSerializer
        )

    def post(self, request: Request) -> Response:
        data = valid_input(ProjectCreateInputSerializer, request.data).validated_data
        return project_created(services.project_create(user=request.user, **data), request.user)


@extend_schema_view(
    get=extend_schema(summary="A project and its settings", responses=ProjectOutputSerializer),
    patch=extend_schema(
        summary="Change a project's description or settings",
        request=ProjectUpdateInputSerializer,
        responses=ProjectOutputSerializer,
    ),
    delete=extend_schema(summary="Delete a project with all its documents, tags and models", responses={204: None}),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class ProjectDetailApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return Response(ProjectOutputSerializer(project).data)

    def patch(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.EDIT_PROJECT)
        data = valid_input(ProjectUpdateInputSerializer, request.data, partial=True).validated_data
        project = services.project_update(project=project, **data)
        return Response(ProjectOutputSerializer(project).data)

    def delete(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.DELETE_PROJECT)
        services.project_delete(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[PROJECT_NAME_PARAMETER], summary="Counts of documents, tags and tags per entity type")
class ProjectStatsApi(ProjectScopedAPIView):
    @extend_schema(responses=ProjectStatsOutputSerializer)
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        stats = selectors.project_stats(project=project)
        return Response(ProjectStatsOutputSerializer(stats).data)


# --- members and invitations ------------------------------------------------------------------------------------


def _membership_get(*, project: Project, username: str) -> Membership:
    return selectors.row_get_or_404(
        selectors.member_list(project=project).filter(user__username=username),
        missing=f"{username} is not a member of this project.",
    )


@extend_schema_view(
    get=extend_schema(summary="The project's members and their roles", responses=MemberOutputSerializer(many=True)),
    post=extend_schema(
        summary="Add an existing user to the project",
        request=MemberCreateInputSerializer,
        responses={201: MemberOutputSerializer},
    ),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class MemberListApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return Response(MemberOutputSerializer(selectors.member_list(project=project), many=True).data)

    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.MANAGE_MEMBERS)
        data = valid_input(MemberCreateInputSerializer, request.data).validated_data
        user = data["username"]
        if selectors.membership_role(user=user, project=project) is not None:
            # Adding must not silently change a role (or demote the last owner); PATCH says what it does.
            raise exceptions.ValidationError(
                {"username": f"{user.username} is already a member; change their role instead."}
            )
        membership = services.membership_set(project=project, user=user, role=data["role"])
        return Response(MemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="One member's role", responses=MemberOutputSerializer),
    patch=extend_schema(
        summary="Change a member's role", request=MemberUpdateInputSerializer, responses=MemberOutputSerializer
    ),
    delete=extend_schema(summary="Remove a member (a project keeps at least one owner)", responses={204: None}),
)
@extend_schema(
    parameters=[
        PROJECT_NAME_PARAMETER,
        path_parameter("username", OpenApiTypes.STR, "The member's username."),
    ]
)
class MemberDetailApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str, username: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return Response(MemberOutputSerializer(_membership_get(project=project, username=username)).data)

    def patch(self, request: Request, project_name: str, username: str) -> Response:
        project = self.get_project(Permission.MANAGE_MEMBERS)
        membership = _membership_get(project=project, username=username)
        data = valid_input(MemberUpdateInputSerializer, request.data).validated_data
        membership = services.membership_set(project=project, user=membership.user, role=data["role"])
        return Response(MemberOutputSerializer(membership).data)

    def delete(self, request: Request, project_name: str, username: str) -> Response:
        project = self.get_project(Permission.MANAGE_MEMBERS)
        services.membership_remove(membership=_membership_get(project=project, username=username))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _invitation_link(request: Request, token: str) -> str | None:
    # The acceptance page belongs to the projects pages; until it exists the token alone is returned.
    try:
        return request.build_absolute_uri(reverse("projects:invitation_accept", kwargs={"token": token}))
    except NoReverseMatch:
        return None


@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class InvitationCreateApi(ProjectScopedAPIView):
    @extend_schema(
        summary="Create an invitation link (the token is shown only in this response)",
        request=InvitationCreateInputSerializer,
        responses={201: InvitationOutputSerializer},
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.MANAGE_MEMBERS)
        data = valid_input(InvitationCreateInputSerializer, request.data).validated_data
        invitation, token = services.invitation_create(project=project, created_by=request.user, **data)
        body = {
            "id": invitation.pk,
            "role": invitation.role,
            "email": invitation.email,
            "expires_at": invitation.expires_at,
            "token": token,
            "link": _invitation_link(request, token),
        }
        return Response(InvitationOutputSerializer(body).data, status=status.HTTP_201_CREATED)


# --- entity types -----------------------------------------------------------------------------------------------

ENTITY_TYPE_ID_PARAMETER = path_parameter("entity_type_id", OpenApiTypes.INT, "The entity type's id.")


@extend_schema_view(
    get=extend_schema(summary="The project's entity types", responses=EntityTypeOutputSerializer(many=True)),
    post=extend_schema(
        summary="Add an entity type",
        request=EntityTypeCreateInputSerializer,
        responses={201: EntityTypeOutputSerializer},
    ),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER])
class EntityTypeListApi(ProjectScopedAPIView):
    def get(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.VIEW)
        return Response(EntityTypeOutputSerializer(selectors.entity_type_list(project=project), many=True).data)

    def post(self, request: Request, project_name: str) -> Response:
        project = self.get_project(Permission.MANAGE_SCHEMA)
        data = valid_input(EntityTypeCreateInputSerializer, request.data).validated_data
        entity_type = services.entity_type_create(project=project, **data)
        return Response(EntityTypeOutputSerializer(entity_type).data, status=status.HTTP_201_CREATED)


# --- API keys ---------------------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="Your API keys (revoked ones included)", responses=ApiKeyOutputSerializer(many=True)),
    post=extend_schema(
        summary="Create an API key (the key is shown only in this response)",
        request=ApiKeyCreateInputSerializer,
        responses={201: ApiKeyCreatedOutputSerializer},
    ),
)
class ApiKeyListApi(APIView):
    permission_classes = [UserCredentials]

    def get(self, request: Request) -> Response:
        api_keys = selectors.api_key_list(user=request.user)
        return Response(ApiKeyOutputSerializer(api_keys, many=True).data)

    def post(self, request: Request) -> Response:
        data = valid_input(ApiKeyCreateInputSerializer, request.data).validated_data
        project = None
        if data["project"]:
            # A project key serves that project's deployments, so handing one out is a deployer's decision.
            try:
                project = project_for(request, data["project"], Permission.DEPLOY)
            except Http404:
                raise exceptions.ValidationError(
                    {"project": "You are not a member of a project by this name."}
                ) from None
        api_key, raw = services.api_key_create(user=request.user, name=data["name"], project=project)
        api_key.key = raw  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedOutputSerializer(api_key).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[path_parameter("api_key_id", OpenApiTypes.INT, "The key's id.")])
class ApiKeyDetailApi(APIView):
    permission_classes = [UserCredentials]

    @extend_schema(summary="Revoke one of your API keys", responses={204: None})
    def delete(self, request: Request, api_key_id: int) -> Response:
        api_key = request.user.api_keys.filter(pk=api_key_id).first()
        if api_key is None:
            raise exceptions.NotFound("You have no API key with this id.")
        if api_key.revoked_at is None:
            services.api_key_revoke(api_key=api_key)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Deleting and merging entity types (pages and API): they delete or move spans, so they live with the spans and
their audit trail (labeling.services), while the rest of the entity type pages stay in projects."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import services
from projects import selectors
from projects import services as project_services
from projects.access import project_view
from projects.api import ENTITY_TYPE_ID_PARAMETER, PROJECT_NAME_PARAMETER, ProjectScopedAPIView, valid_input
from projects.forms import EntityTypeMergeForm
from projects.models import EntityType, Project
from projects.roles import Permission
from projects.serializers import (
    EntityTypeDeleteOutputSerializer,
    EntityTypeMergeInputSerializer,
    EntityTypeMergeOutputSerializer,
    EntityTypeOutputSerializer,
    EntityTypeUpdateInputSerializer,
)
from projects.views import entity_type_list_context, entity_type_with_count

# --- Pages ---


@project_view(Permission.MANAGE_SCHEMA, methods=["GET", "POST"])
def entity_type_delete(request: HttpRequest, project: Project, entity_type_id: int) -> HttpResponse:
    entity_type = entity_type_with_count(project, entity_type_id)
    if request.method == "POST":
        removed = services.entity_type_delete(entity_type=entity_type, user=request.user)
        messages.success(request, f"Entity type {entity_type.name} deleted with its {removed} span(s).")
        return redirect("projects:entity_type_list", project_name=project.name)
    return render(request, "labeling/entity_type_delete.html", {"project": project, "entity_type": entity_type})


@project_view(Permission.MANAGE_SCHEMA, methods=["GET", "POST"])
def entity_type_merge(request: HttpRequest, project: Project) -> HttpResponse:
    """GET ?source=&target= shows what the merge does; POST (with confirm) does it."""
    entity_types = selectors.entity_type_list_with_counts(project=project)
    form = EntityTypeMergeForm(request.POST or request.GET or None, entity_types=entity_types)
    if not form.is_valid():
        if form.is_bound:
            for error in form.non_field_errors():
                messages.error(request, error)
        context = entity_type_list_context(request, project, merge_form=form)
        return render(request, "projects/entity_type_list.html", context)
    source, target = form.cleaned_data["source"], form.cleaned_data["target"]
    if request.method == "POST" and request.POST.get("confirm"):
        try:
            moved, removed = services.entity_type_merge(source=source, target=target, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                f"Merged {source.name} into {target.name}: {moved} span(s) moved, {removed} duplicate(s) removed.",
            )
        return redirect("projects:entity_type_list", project_name=project.name)
    duplicates = (
        source.spans.filter(  # type: ignore[attr-defined]
            Q(document__spans__entity_type=target)
            & Q(document__spans__start=F("start"))
            & Q(document__spans__end=F("end"))
        )
        .distinct()
        .count()
    )
    context = {
        "project": project,
        "source": source,
        "target": target,
        "duplicates": duplicates,
        "moving": source.span_count - duplicates,
    }
    return render(request, "labeling/entity_type_merge.html", context)


# --- API ---


class _EntityTypeApi(ProjectScopedAPIView):
    def get_entity_type(self, permission: Permission) -> tuple[Project, EntityType]:
        # The entity type the URL names, once the caller's role in its project allows ``permission``.
        project = self.get_project(permission)
        return project, selectors.entity_type_get(project=project, entity_type_id=self.kwargs["entity_type_id"])


@extend_schema_view(
    get=extend_schema(summary="One entity type", responses=EntityTypeOutputSerializer),
    patch=extend_schema(
        summary="Rename or restyle an entity type",
        request=EntityTypeUpdateInputSerializer,
        responses=EntityTypeOutputSerializer,
    ),
    delete=extend_schema(
        summary="Delete an entity type and every span of it", responses={200: EntityTypeDeleteOutputSerializer}
    ),
)
@extend_schema(parameters=[PROJECT_NAME_PARAMETER, ENTITY_TYPE_ID_PARAMETER])
class EntityTypeDetailApi(_EntityTypeApi):
    def get(self, request: Request, project_name: str, entity_type_id: int) -> Response:
        _, entity_type = self.get_entity_type(Permission.VIEW)
        return Response(EntityTypeOutputSerializer(entity_type).data)

    def patch(self, request: Request, project_name: str, entity_type_id: int) -> Response:
        _, entity_type = self.get_entity_type(Permission.MANAGE_SCHEMA)
        data = valid_input(EntityTypeUpdateInputSerializer, request.data, partial=True).validated_data
        entity_type = project_services.entity_type_update(entity_type=entity_type, **data)
        return Response(EntityTypeOutputSerializer(entity_type).data)

    def delete(self, request: Request, project_name: str, entity_type_id: int) -> Response:
        _, entity_type = self.get_entity_type(Permission.MANAGE_SCHEMA)
        deleted_spans = services.entity_type_delete(entity_type=entity_type, user=request.user)
        return Response(EntityTypeDeleteOutputSerializer({"deleted_spans": deleted_spans}).data)


@extend_schema(parameters=[PROJECT_NAME_PARAMETER, ENTITY_TYPE_ID_PARAMETER])
class EntityTypeMergeApi(_EntityTypeApi):
    @extend_schema(
        summary="Move every span of this type to another type, then delete this type",
        request=EntityTypeMergeInputSerializer,
        responses=EntityTypeMergeOutputSerializer,
    )
    def post(self, request: Request, project_name: str, entity_type_id: int) -> Response:
        project, source = self.get_entity_type(Permission.MANAGE_SCHEMA)
        into = valid_input(EntityTypeMergeInputSerializer, request.data).validated_data["into"]
        try:
            target = selectors.entity_type_get(project=project, entity_type_id=into)
        except Http404:
            # The URL's type exists; a bad target is a mistake in the body, not a missing resource.
            raise exceptions.ValidationError({"into": "No such entity type in this project."}) from None
        moved, duplicates_removed = services.entity_type_merge(source=source, target=target, user=request.user)
        data = {"moved": moved, "duplicates_removed": duplicates_removed, "into": target}
        return Response(EntityTypeMergeOutputSerializer(data).data)

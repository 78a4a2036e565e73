"""Reads for projects. Every project-scoped read starts from ``project_get_for_user``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from projects.models import ApiKey, EntityType, Invitation, Membership, Project
from projects.roles import Permission, Role, role_allows

PALETTE = (
    "#8ecae6", "#ffb703", "#90be6d", "#f4a3a8", "#cdb4db", "#ffd6a5", "#a0c4ff", "#caffbf",
    "#fdffb6", "#bdb2ff", "#ffc6ff", "#9bf6ff", "#e9c46a", "#84a59d", "#f28482", "#b5e48c",
)  # fmt: skip

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


def row_get_or_404[RowT: Model](rows: QuerySet[RowT], *, missing: str) -> RowT:
    """The first of ``rows`` (already filtered to the one wanted), or a 404 that says ``missing``.

    Every ``<entity>_get`` selector filters by its parent (project, document...) as well as by id, so that another
    project's row reads exactly like a missing one.
    """
    row = rows.first()
    if row is None:
        raise Http404(missing)
    return row


def project_rows_newest_first[RowT: Model](
    model: type[RowT], *, project: Project, related: Sequence[str]
) -> QuerySet[RowT]:
    """The project's rows of ``model`` (training runs, jobs, curves), newest first, with ``related`` joined.

    Of rows with the same timestamp the later id comes first, so a page and the API list them in one stable order.
    """
    return model._default_manager.filter(project=project).select_related(*related).order_by("-created_at", "-id")


def project_list_for_user(*, user: AnyUser) -> QuerySet[Project]:
    """The user's projects, each annotated with ``user_role``."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user).annotate(user_role=F("memberships__role")).order_by("name")


def membership_role(*, user: AnyUser, project: Project) -> Role | None:
    if not user.is_authenticated:
        return None
    role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    return Role(role) if role else None


def project_get_for_user(*, user: AnyUser, name: str, permission: Permission, api_key: ApiKey | None = None) -> Project:
    """The project a user may act on, or 404 when they are not a member (never revealing it exists).

    A member whose role lacks ``permission`` gets 403. A project API key reaches only its own project, and
    only to predict.
    """
    if api_key is not None and api_key.project_id is not None:
        if api_key.project.name != name:
            raise Http404("No such project.")
        if permission is not Permission.PREDICT:
            raise PermissionDenied("A project API key can only call the prediction API.")
        # The key acts for its user: once they leave the project (or lose the role), the key stops working.
        key_role = membership_role(user=api_key.user, project=api_key.project)
        if key_role is None or not role_allows(key_role, permission):
            raise PermissionDenied("The user of this project API key is no longer allowed to predict on it.")
        return api_key.project
    project = Project.objects.filter(name=name, memberships__user=user).first() if user.is_authenticated else None
    if project is None:
        raise Http404("No such project.")
    role = membership_role(user=user, project=project)
    if role is None or not role_allows(role, permission):
        raise PermissionDenied(f"Your role in {project.name} does not allow this ({permission.value}).")
    project.user_role = role  # type: ignore[attr-defined]
    return project


def user_can(*, user: AnyUser, project: Project, permission: Permission) -> bool:
    role = getattr(project, "user_role", None) or membership_role(user=user, project=project)
    return role is not None and role_allows(role, permission)


def entity_type_list(*, project: Project) -> QuerySet[EntityType]:
    return project.entity_types.order_by("name")


def entity_type_get(*, project: Project, entity_type_id: int) -> EntityType:
    return row_get_or_404(
        project.entity_types.filter(pk=entity_type_id), missing="No such entity type in this project."
    )


def member_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


@dataclass(frozen=True)
class EntityTypeStats:
    entity_type: EntityType
    spans: int
    documents: int


@dataclass(frozen=True)
class ProjectStats:
    documents: int
    tagged_documents: int
    in_progress_documents: int
    spans: int
    per_type: list[EntityTypeStats]


def project_stats(*, project: Project) -> ProjectStats:
    # Reverse relations, so that projects never imports labeling (the dependency points the other way).
    counts = project.documents.aggregate(  # type: ignore[attr-defined]
        total=Count("id"),
        tagged=Count("id", filter=Q(status="tagged")),
        in_progress=Count("id", filter=Q(status="in_progress")),
    )
    types = project.entity_types.annotate(
        span_count=Count("spans"), document_count=Count("spans__document", distinct=True)
    ).order_by("name")
    per_type = [EntityTypeStats(t, t.span_count, t.document_count) for t in types]  # type: ignore[attr-defined]
    return ProjectStats(
        documents=counts["total"],
        tagged_documents=counts["tagged"],
        in_progress_documents=counts["in_progress"],
        spans=sum(s.spans for s in per_type),
        per_type=per_type,
    )


def invitation_pending_list(*, project: Project) -> QuerySet[Invitation]:
    return project.invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("created_by")


def entity_type_list_with_counts(*, project: Project) -> QuerySet[EntityType]:
    return entity_type_list(project=project).annotate(
        span_count=Count("spans"), document_count=Count("spans__document", distinct=True)
    )


def project_delete_summary(*, project: Project) -> list[tuple[str, int]]:
    """What deleting the project removes: documents, spans, types, members, then anything that later apps hang
    off Project (trained models, deployments...), found through its reverse relations so it stays complete."""
    counted = [
        ("document", "documents", project.documents.count()),  # type: ignore[attr-defined]
        ("span", "spans", project.entity_types.aggregate(n=Count("spans"))["n"]),
        ("entity type", "entity types", project.entity_types.count()),
        ("member", "members", project.memberships.count()),
    ]
    shown = {"documents", "entity_types", "memberships"}
    for relation in Project._meta.related_objects:
        accessor = relation.get_accessor_name()
        if not relation.one_to_many or accessor in shown or relation.on_delete.__name__ != "CASCADE":
            continue
        count = getattr(project, accessor).count()
        if count:
            meta = relation.related_model._meta
            counted.append((str(meta.verbose_name), str(meta.verbose_name_plural), count))
    # "1 member", "2 members": the label agrees with its count.
    return [(one if count == 1 else many, count) for one, many, count in counted]


def api_key_list(*, user: AnyUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).select_related("project")  # type: ignore[misc]


def api_key_get_active(*, user: AnyUser, api_key_id: int) -> ApiKey:
    keys = ApiKey.objects.filter(user=user, pk=api_key_id, revoked_at__isnull=True)  # type: ignore[misc]
    return row_get_or_404(keys, missing="No such active API key.")


def entity_type_next_color(*, project: Project) -> str:
    """The colour a new entity type gets unless one is chosen: the first of the palette the project does not use."""
    used = set(project.entity_types.values_list("color", flat=True))
    for colour in PALETTE:
        if colour not in used:
            return colour
    return PALETTE[project.entity_types.count() % len(PALETTE)]

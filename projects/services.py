"""Writes for projects, members, invitations, entity types and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ner import limits
from projects.models import ApiKey, EntityType, Invitation, Membership, Project
from projects.roles import Role
from projects.selectors import entity_type_next_color
from projects.storage import project_storage_prefix, storage_tree_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

PROJECT_EDITABLE_FIELDS = (
    "description",
    "language",
    "multilingual",
    "label_mode",
    "overlap_policy",
    "split_mode",
    "test_percent",
    "split_seed",
    "training_scope",
)


def _secret_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def project_create(*, user: AbstractBaseUser, name: str, language: str, **fields: Any) -> Project:
    unknown = set(fields) - set(PROJECT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown project fields: {', '.join(sorted(unknown))}")
    project = Project(name=name, language=language, created_by=user, **fields)
    project.full_clean()
    project.save()
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


@transaction.atomic
def project_update(*, project: Project, **fields: Any) -> Project:
    unknown = set(fields) - set(PROJECT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These project fields cannot be changed: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(project, field, value)
    project.full_clean()
    if project.multilingual:
        # A multilingual project needs a language on every document; blanks take the project's.
        project.documents.filter(language="").update(language=project.language)  # type: ignore[attr-defined]
    project.save()
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete the project, every row that belongs to it, and (once committed) every file it stored."""
    project_pk = project.pk
    project.delete()
    transaction.on_commit(lambda: storage_tree_delete(project_storage_prefix(project_pk)))


def _owner_count(project: Project) -> int:
    return project.memberships.filter(role=Role.OWNER).count()


@transaction.atomic
def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    role = Role(role)
    Project.objects.select_for_update().get(pk=project.pk)  # serialise owner-count checks
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None:
        membership = Membership(project=project, user=user, role=role)
    else:
        if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(project) == 1:
            raise ValidationError("A project needs at least one owner; make someone else owner first.")
        membership.role = role
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    Project.objects.select_for_update().get(pk=membership.project_id)
    if membership.role == Role.OWNER and _owner_count(membership.project) == 1:
        raise ValidationError("A project needs at least one owner; make someone else owner first.")
    membership.delete()


def invitation_create(
    *, project: Project, role: str, created_by: AbstractBaseUser, email: str = ""
) -> tuple[Invitation, str]:
    """An invitation and its token; the token is shown once and only its hash is stored."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        project=project,
        role=Role(role),
        email=email,
        token_hash=_secret_hash(token),
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=settings.NERLAB_INVITATION_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    return invitation, token


def invitation_get_valid(*, token: str) -> Invitation:
    invitation = Invitation.objects.select_related("project").filter(token_hash=_secret_hash(token)).first()
    if invitation is None or invitation.revoked_at is not None:
        raise ValidationError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation link has already been used.")
    if invitation.expires_at < timezone.now():
        raise ValidationError("This invitation link has expired; ask the project owner for a new one.")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    invitation = invitation_get_valid(token=token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation link has already been used.")
    existing = Membership.objects.filter(project=invitation.project, user=user).first()
    membership = existing or membership_set(project=invitation.project, user=user, role=invitation.role)
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    return membership


def invitation_revoke(*, invitation: Invitation) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


# Keys the annotate page uses itself; a type with one of these as hotkey could never be applied.
RESERVED_HOTKEYS = {"?": "shortcut help", "[": "previous document", "]": "next document"}


def _check_hotkey(entity_type: EntityType) -> None:
    if entity_type.hotkey and (not entity_type.hotkey.isprintable() or entity_type.hotkey.isspace()):
        raise ValidationError({"hotkey": "A hotkey is one visible character."})
    if entity_type.hotkey in RESERVED_HOTKEYS:
        raise ValidationError(
            {"hotkey": f"{entity_type.hotkey!r} is a tagging-page shortcut ({RESERVED_HOTKEYS[entity_type.hotkey]})."}
        )


@transaction.atomic
def entity_type_create(
    *, project: Project, name: str, color: str = "", hotkey: str = "", description: str = ""
) -> EntityType:
    Project.objects.select_for_update().get(pk=project.pk)  # serialise the type-count check
    if project.entity_types.count() >= limits.ENTITY_TYPES_MAX:
        raise ValidationError(f"A project may have at most {limits.ENTITY_TYPES_MAX} entity types.")
    entity_type = EntityType(
        project=project,
        name=name,
        color=color or entity_type_next_color(project=project),
        hotkey=hotkey,
        description=description,
    )
    _check_hotkey(entity_type)
    entity_type.full_clean()
    entity_type.save()
    return entity_type


@transaction.atomic
def entity_type_update(*, entity_type: EntityType, **fields: Any) -> EntityType:
    allowed = {"name", "color", "hotkey", "description"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"These entity type fields cannot be changed: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(entity_type, field, value)
    _check_hotkey(entity_type)
    entity_type.full_clean()
    entity_type.save()
    return entity_type


def entity_type_merge_check(*, source: EntityType, target: EntityType) -> None:
    """Whether ``source`` may be merged into ``target`` (labeling.services.entity_type_merge moves the spans)."""
    if source.project_id != target.project_id:
        raise ValidationError("Entity types can only be merged within one project.")
    if source.pk == target.pk:
        raise ValidationError("Choose two different entity types to merge.")


def api_key_create(*, user: AbstractBaseUser, name: str, project: Project | None = None) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is shown once and only its hash is stored."""
    raw = "nl_" + secrets.token_urlsafe(32)
    api_key = ApiKey(user=user, project=project, name=name or "API key", prefix=raw[:10], key_hash=_secret_hash(raw))
    api_key.full_clean()
    api_key.save()
    return api_key, raw


def api_key_revoke(*, api_key: ApiKey) -> None:
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    api_key = (
        ApiKey.objects.select_related("user", "project")
        .filter(key_hash=_secret_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if api_key is not None and (
        api_key.last_used_at is None or timezone.now() - api_key.last_used_at > timedelta(minutes=5)
    ):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    return api_key

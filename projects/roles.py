"""Roles and the permission matrix: the one place that says who may do what in a project."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    ANNOTATOR = "annotator"
    VIEWER = "viewer"


class Permission(StrEnum):
    VIEW = "view"  # see the project, its documents, tags, models and evaluations
    ANNOTATE = "annotate"  # create and delete spans, mark documents tagged
    MANAGE_DOCUMENTS = "manage_documents"  # upload, delete, assign and split documents; import/export
    MANAGE_SCHEMA = "manage_schema"  # add, rename, merge and delete entity types
    EDIT_PROJECT = "edit_project"  # description, language, settings
    TRAIN = "train"  # start and cancel training, delete models
    EVALUATE = "evaluate"  # run evaluations, compare models
    DEPLOY = "deploy"  # create, swap and delete deployments
    MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove members
    DELETE_PROJECT = "delete_project"
    PREDICT = "predict"  # call a deployed model


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.EDITOR: frozenset(
        {
            Permission.VIEW,
            Permission.ANNOTATE,
            Permission.MANAGE_DOCUMENTS,
            Permission.MANAGE_SCHEMA,
            Permission.EDIT_PROJECT,
            Permission.TRAIN,
            Permission.EVALUATE,
            Permission.PREDICT,
        }
    ),
    Role.ANNOTATOR: frozenset({Permission.VIEW, Permission.ANNOTATE, Permission.PREDICT}),
    Role.VIEWER: frozenset({Permission.VIEW, Permission.PREDICT}),
}

ROLE_CHOICES = [(role.value, role.value.title()) for role in Role]


def role_allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[Role(role)]

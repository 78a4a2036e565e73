"""The project menu's view of the signed-in member: what their role is for, and which group the page belongs to.

Hiding an entry is not access control (every page checks its own permission); it keeps the menu to the work a role
does, so annotators are not sent to training and deployments.
"""

from __future__ import annotations

from typing import Any

from django import template

from projects.roles import ROLE_PERMISSIONS, Permission
from projects.selectors import membership_role

register = template.Library()

# The menu group of each page, by URL namespace (and name where a namespace spans groups).
_GROUPS = {
    "labeling": "data",
    "projects:entity_type_list": "data",
    "projects:entity_type_update": "data",
    "entity_types": "data",
    "portability": "data",
    "consistency": "quality",
    "agreement": "quality",
    "audit": "quality",
    "evaluation": "models",
    "curves": "models",
    "preannotation": "models",
    "lineage": "models",
    "serving": "deploy",
    "projects:member_list": "team",
    "projects:project_edit": "settings",
    "projects:project_detail": "dashboard",
    "labeling:document_annotate": "tag",
}


@register.simple_tag(takes_context=True)
def project_menu(context: dict[str, Any], project: Any) -> dict[str, Any]:
    request = context.get("request")
    user = context.get("user")
    role = membership_role(user=user, project=project) if user is not None else None
    allowed = ROLE_PERMISSIONS[role] if role is not None else frozenset()
    match = getattr(request, "resolver_match", None)
    current = ""
    if match is not None:
        current = _GROUPS.get(match.view_name, _GROUPS.get(match.namespace, ""))
    return {
        "current": current,
        "annotate": Permission.ANNOTATE in allowed,
        "manage_documents": Permission.MANAGE_DOCUMENTS in allowed,
        "train": Permission.TRAIN in allowed,
        "deploy": Permission.DEPLOY in allowed,
        "predict": Permission.PREDICT in allowed,
        "edit": Permission.EDIT_PROJECT in allowed,
    }

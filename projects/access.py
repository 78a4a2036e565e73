"""The one way a view (page or API) reaches a project: by name, for the request's user, with a permission."""

from __future__ import annotations

from typing import TYPE_CHECKING

from projects.models import ApiKey, Project
from projects.roles import Permission
from projects.selectors import project_get_for_user

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request


def project_for(request: HttpRequest | Request, name: str, permission: Permission) -> Project:
    """The project named ``name`` if the request's user (or its project API key) has ``permission`` on it.

    404 for a project they are not a member of (its existence is not revealed), 403 for a role without the permission.
    A page request has no API key; an API request authenticated by one carries it as ``request.auth``.
    """
    auth = getattr(request, "auth", None)
    api_key = auth if isinstance(auth, ApiKey) else None
    return project_get_for_user(user=request.user, name=name, permission=permission, api_key=api_key)

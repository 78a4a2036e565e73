"""The one way a view (page or API) reaches a project: by name, for the request's user, with a permission."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_http_methods

from projects.models import ApiKey, Project
from projects.roles import Permission
from projects.selectors import project_get_for_user, user_can

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase
    from rest_framework.request import Request

    ProjectPage = Callable[Concatenate[HttpRequest, Project, ...], HttpResponseBase]
    Page = Callable[Concatenate[HttpRequest, str, ...], HttpResponseBase]


def project_for(request: HttpRequest | Request, name: str, permission: Permission) -> Project:
    """The project named ``name`` if the request's user (or its project API key) has ``permission`` on it.

    404 for a project they are not a member of (its existence is not revealed), 403 for a role without the permission.
    A page request has no API key; an API request authenticated by one carries it as ``request.auth``.
    """
    auth = getattr(request, "auth", None)
    api_key = auth if isinstance(auth, ApiKey) else None
    return project_get_for_user(user=request.user, name=name, permission=permission, api_key=api_key)


def can(request: HttpRequest, project: Project, permission: Permission) -> bool:
    """Whether the request's user has ``permission`` on ``project`` (what a page shows or hides)."""
    return user_can(user=request.user, project=project, permission=permission)


def project_view(
    permission: Permission | Mapping[str, Permission], *, methods: tuple[str, ...] | list[str] = ("GET",)
) -> Callable[[ProjectPage], Page]:
    """A page under ``projects/<project_name>/``: the view receives the project instead of its name.

    In order: anonymous visitors are sent to the login page, a method outside ``methods`` gets 405, then the project
    is fetched with ``project_for`` (404 for non-members, 403 for a role without the permission). ``permission`` may
    map each method to its own permission (``{"GET": Permission.VIEW, "POST": Permission.TRAIN}``); its keys are
    then the methods.
    """
    needs = dict(permission) if isinstance(permission, Mapping) else dict.fromkeys(methods, permission)

    def decorate(view: ProjectPage) -> Page:
        @login_required
        @require_http_methods(list(needs))
        @functools.wraps(view)
        def page(request: HttpRequest, project_name: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return view(request, project_for(request, project_name, needs[request.method or ""]), *args, **kwargs)

        return page

    return decorate

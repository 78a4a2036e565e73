"""HTML pages for accounts, projects, members, invitations, entity types and API keys.

Every project page receives its project from ``projects.access.project_view`` (404 for non-members, 403 for a role
without the permission) and every write goes through one service in ``projects.services``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ner import limits
from projects import selectors, services
from projects.access import can, project_view
from projects.forms import (
    COMMON_LANGUAGES,
    ApiKeyForm,
    EntityTypeForm,
    EntityTypeMergeForm,
    InvitationForm,
    MemberRoleForm,
    ProjectCreateForm,
    ProjectEditForm,
    SignUpForm,
    service_errors,
)
from projects.models import ApiKey, EntityType, Invitation, Membership, Project
from projects.roles import ROLE_PERMISSIONS, Permission, Role

if TYPE_CHECKING:
    from django.http import HttpRequest


# --- Small reads used only by these pages. They belong in projects/selectors.py (not this module's to edit). ---


# --- Projects ---


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    # The user's own membership row is the one joined by the filter, so F() reads their role.
    projects = selectors.project_list_for_user(user=request.user).annotate(
        my_role=F("memberships__role"),
        document_count=Count("documents", distinct=True),
    )
    return render(request, "projects/project_list.html", {"projects": projects})


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(form):
            project = services.project_create(
                user=request.user,
                name=data["name"],
                language=data["language"],
                description=data["description"],
                multilingual=data["multilingual"],
            )
        if not form.errors:
            messages.success(request, f"Project {project.name} created. Add entity types, then upload documents.")
            return redirect("projects:project_detail", project_name=project.name)
    return render(request, "projects/project_form.html", {"form": form, "languages": COMMON_LANGUAGES})


@project_view(Permission.VIEW)
def project_detail(request: HttpRequest, project: Project) -> HttpResponse:
    stats = selectors.project_stats(project=project)
    recommended = limits.RECOMMENDED_INSTANCES_PER_TYPE
    per_type = [
        {
            "stats": item,
            "percent": min(100, round(100 * item.spans / recommended)),
            "few": item.spans < limits.FEW_INSTANCES_WARNING,
        }
        for item in stats.per_type
    ]
    context = {
        "project": project,
        "stats": stats,
        "per_type": per_type,
        "role": project.user_role,  # type: ignore[attr-defined]
        "recommended": recommended,
        "few_warning": limits.FEW_INSTANCES_WARNING,
        "training_documents_min": limits.TRAINING_DOCUMENTS_MIN,
        "can_edit": can(request, project, Permission.EDIT_PROJECT),
        "can_delete": can(request, project, Permission.DELETE_PROJECT),
        "can_manage_schema": can(request, project, Permission.MANAGE_SCHEMA),
    }
    return render(request, "projects/project_detail.html", context)


@project_view(Permission.EDIT_PROJECT, methods=["GET", "POST"])
def project_edit(request: HttpRequest, project: Project) -> HttpResponse:
    form = ProjectEditForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            services.project_update(project=project, **form.cleaned_data)
        if not form.errors:
            messages.success(request, "Project settings saved.")
            return redirect("projects:project_edit", project_name=project.name)
    context = {
        "project": project,
        "form": form,
        "languages": COMMON_LANGUAGES,
        "can_delete": can(request, project, Permission.DELETE_PROJECT),
    }
    return render(request, "projects/project_form.html", context)


@project_view(Permission.DELETE_PROJECT, methods=["GET", "POST"])
def project_delete(request: HttpRequest, project: Project) -> HttpResponse:
    if request.method == "POST":
        # Typing the name is the confirmation: a stray click cannot delete a project.
        if request.POST.get("confirm_name", "") == project.name:
            services.project_delete(project=project)
            messages.success(request, f"Project {project.name} and everything in it were deleted.")
            return redirect("projects:project_list")
        messages.error(request, "Type the project's name exactly to confirm the deletion.")
    context = {"project": project, "summary": selectors.project_delete_summary(project=project)}
    return render(request, "projects/project_delete.html", context)


# --- Members and invitations ---


def _member_list_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    can_manage = can(request, project, Permission.MANAGE_MEMBERS)
    context: dict[str, Any] = {
        "project": project,
        "members": selectors.member_list(project=project),
        "can_manage": can_manage,
        "roles": [
            (role.value, role.value.title(), sorted(p.value.replace("_", " ") for p in ROLE_PERMISSIONS[role]))
            for role in Role
        ],
        "invitation_form": InvitationForm(),
        "invitations": selectors.invitation_pending_list(project=project) if can_manage else [],
        "invitation_days": settings.NERLAB_INVITATION_DAYS,
    }
    context.update(extra)
    return context


def _membership(project: Project, membership_id: int) -> Membership:
    membership = project.memberships.select_related("user", "project").filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such member in this project.")
    return membership


@project_view(Permission.VIEW)
def member_list(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, "projects/member_list.html", _member_list_context(request, project))


@project_view(Permission.MANAGE_MEMBERS, methods=["POST"])
def member_update(request: HttpRequest, project: Project, membership_id: int) -> HttpResponse:
    membership = _membership(project, membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles owner, editor, annotator or viewer.")
    else:
        try:
            services.membership_set(project=project, user=membership.user, role=form.cleaned_data["role"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{membership.user.username} is now {form.cleaned_data['role']}.")
    return redirect("projects:member_list", project_name=project.name)


@project_view(Permission.MANAGE_MEMBERS, methods=["POST"])
def member_remove(request: HttpRequest, project: Project, membership_id: int) -> HttpResponse:
    membership = _membership(project, membership_id)
    try:
        services.membership_remove(membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user.username} was removed from {project.name}.")
        if membership.user_id == request.user.pk:  # removed themselves: the project is gone for them
            return redirect("projects:project_list")
    return redirect("projects:member_list", project_name=project.name)


@project_view(Permission.MANAGE_MEMBERS, methods=["POST"])
def invitation_create(request: HttpRequest, project: Project) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        invitation, token = services.invitation_create(
            project=project, role=form.cleaned_data["role"], email=form.cleaned_data["email"], created_by=request.user
        )
        # Rendered, not redirected: only the hash is stored, so this response is the one chance to see the link.
        link = request.build_absolute_uri(reverse("projects:invitation_accept", args=[token]))
        context = _member_list_context(request, project, new_invitation=invitation, invitation_link=link)
    else:
        context = _member_list_context(request, project, invitation_form=form)
    if request.htmx:
        return render(request, "projects/member_list.html#invitations", context)
    return render(request, "projects/member_list.html", context)


@project_view(Permission.MANAGE_MEMBERS, methods=["POST"])
def invitation_revoke(request: HttpRequest, project: Project, invitation_id: int) -> HttpResponse:
    invitation = project.invitations.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation in this project.")
    services.invitation_revoke(invitation=invitation)
    messages.success(request, f"The {invitation.role} invitation was revoked; its link no longer works.")
    return redirect("projects:member_list", project_name=project.name)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Not project-scoped: the token is the credential. A signed-in user joins with one click; a visitor creates
    an account here (the only way to self-register) or signs in first and comes back through ?next=."""
    try:
        invitation = services.invitation_get_valid(token=token)
    except ValidationError as error:
        return render(request, "projects/invitation_accept.html", {"invalid": " ".join(error.messages)}, status=410)
    project = invitation.project
    existing_role = selectors.membership_role(user=request.user, project=project)
    form = SignUpForm(request.POST or None) if not request.user.is_authenticated else None
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                services.invitation_accept(token=token, user=request.user)
            elif form is not None and form.is_valid():
                # One transaction: if the invitation was used meanwhile, no orphan account is left behind.
                with transaction.atomic():
                    new_user = form.save()
                    services.invitation_accept(token=token, user=new_user)
                login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                return render(request, "projects/invitation_accept.html", _invitation_context(invitation, form))
        except ValidationError as error:
            return render(request, "projects/invitation_accept.html", {"invalid": " ".join(error.messages)}, status=410)
        role = selectors.membership_role(user=request.user, project=project)
        messages.success(request, f"Welcome to {project.name}; your role is {role}.")
        return redirect("projects:project_detail", project_name=project.name)
    return render(
        request, "projects/invitation_accept.html", _invitation_context(invitation, form, existing_role=existing_role)
    )


def _invitation_context(invitation: Invitation, form: SignUpForm | None, existing_role: Role | None = None) -> dict:
    return {
        "invitation": invitation,
        "invited_project": invitation.project,  # not "project": the visitor is not a member yet (no project nav)
        "form": form,
        "existing_role": existing_role,
    }


# --- Entity types ---


def entity_type_list_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    """The list page's context (labeling's merge page shows the list again when its form is wrong)."""
    entity_types = selectors.entity_type_list_with_counts(project=project)
    context: dict[str, Any] = {
        "project": project,
        "entity_types": entity_types,
        "can_manage": can(request, project, Permission.MANAGE_SCHEMA),
        # A colour input always sends a colour (black when it has none): it starts at the palette's next one.
        "form": EntityTypeForm(initial={"color": selectors.entity_type_next_color(project=project)}),
        "merge_form": EntityTypeMergeForm(entity_types=selectors.entity_type_list(project=project)),
        "types_max": limits.ENTITY_TYPES_MAX,
    }
    context.update(extra)
    return context


def entity_type_with_count(project: Project, entity_type_id: int) -> EntityType:
    """The project's type with its ``span_count``, or 404 (the row, and labeling's delete page)."""
    entity_type = selectors.entity_type_list_with_counts(project=project).filter(pk=entity_type_id).first()
    if entity_type is None:
        raise Http404("No such entity type in this project.")
    return entity_type


@project_view({"GET": Permission.VIEW, "POST": Permission.MANAGE_SCHEMA})
def entity_type_list(request: HttpRequest, project: Project) -> HttpResponse:
    """The list; a POST adds a type (MANAGE_SCHEMA)."""
    if request.method == "GET":
        return render(request, "projects/entity_type_list.html", entity_type_list_context(request, project))
    form = EntityTypeForm(request.POST)
    if form.is_valid():
        with service_errors(form):
            entity_type = services.entity_type_create(project=project, **form.cleaned_data)
        if not form.errors:
            messages.success(request, f"Entity type {entity_type.name} added.")
            return redirect("projects:entity_type_list", project_name=project.name)
    return render(request, "projects/entity_type_list.html", entity_type_list_context(request, project, form=form))


@project_view(Permission.MANAGE_SCHEMA, methods=["GET", "POST"])
def entity_type_update(request: HttpRequest, project: Project, entity_type_id: int) -> HttpResponse:
    """GET: the edit form (htmx: the table row in edit mode). POST: save; htmx gets the row back."""
    entity_type = entity_type_with_count(project, entity_type_id)
    initial = {field: getattr(entity_type, field) for field in ("name", "color", "hotkey", "description")}
    form = EntityTypeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            services.entity_type_update(entity_type=entity_type, **form.cleaned_data)
        if not form.errors:
            if request.htmx:
                context = {"project": project, "entity_type": entity_type_with_count(project, entity_type_id)}
                return render(request, "projects/entity_type_list.html#row", {**context, "can_manage": True})
            messages.success(request, f"Entity type {entity_type.name} saved.")
            return redirect("projects:entity_type_list", project_name=project.name)
    if request.POST:
        entity_type = entity_type_with_count(project, entity_type_id)  # the service may have half-applied the input
    context = {"project": project, "entity_type": entity_type, "edit_form": form}
    if request.htmx:
        return render(request, "projects/entity_type_list.html#edit_row", context)
    return render(request, "projects/entity_type_update.html", context)


@project_view(Permission.VIEW)
def entity_type_row(request: HttpRequest, project: Project, entity_type_id: int) -> HttpResponse:
    """The read-only row, for the Cancel button of the inline editor."""
    context = {
        "project": project,
        "entity_type": entity_type_with_count(project, entity_type_id),
        "can_manage": can(request, project, Permission.MANAGE_SCHEMA),
    }
    if request.htmx:
        return render(request, "projects/entity_type_list.html#row", context)
    return redirect("projects:entity_type_list", project_name=project.name)


# --- API keys ---


@login_required
@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest) -> HttpResponse:
    """The user's own keys. A POST creates one and shows its secret in this response only (only a hash is kept)."""
    projects = selectors.project_list_for_user(user=request.user)
    form = ApiKeyForm(request.POST or None, projects=projects)
    created: tuple[ApiKey, str] | None = None
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            created = services.api_key_create(
                user=request.user, name=form.cleaned_data["name"], project=form.cleaned_data["project"]
            )
        if not form.errors:
            form = ApiKeyForm(projects=projects)
    context = {
        "form": form,
        "api_keys": selectors.api_key_list(user=request.user),
        "new_key": created[0] if created else None,
        "new_secret": created[1] if created else None,
    }
    return render(request, "projects/api_key_list.html", context)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    api_key = selectors.api_key_get_active(user=request.user, api_key_id=api_key_id)
    services.api_key_revoke(api_key=api_key)
    messages.success(request, f"API key {api_key.name} ({api_key.prefix}…) revoked; scripts using it now get 401.")
    return redirect("projects:api_key_list")


# --- Self-registration (off unless NERLAB_SELF_REGISTRATION is true) ---


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up for installations that want it; by default accounts come only from invitations or admins."""
    if not settings.NERLAB_SELF_REGISTRATION:
        raise Http404("Self-registration is turned off on this server; ask a project owner for an invitation.")
    if request.user.is_authenticated:
        return redirect("projects:project_list")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        new_user = form.save()
        login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {new_user.username}. Create a project to start.")
        return redirect("projects:project_list")
    return render(request, "registration/signup.html", {"form": form})

"""Pages: clone a project, download or import a whole-project archive, and "your data"."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ner.formats import FORMATS
from portability import selectors, services
from portability.archive import archive_file_name
from portability.forms import ArchiveImportForm, ProjectCloneForm
from projects.access import can, project_view
from projects.models import Project
from projects.roles import Permission

if TYPE_CHECKING:
    from django.http import HttpRequest


# A clone is a copy of everything that its maker owns, so it needs what exporting needs.
@project_view(Permission.MANAGE_DOCUMENTS, methods=["GET", "POST"])
def project_clone(request: HttpRequest, source: Project) -> HttpResponse:
    form = ProjectCloneForm(request.POST or None, initial={"name": f"{source.name}-copy"[:50]})
    if request.method == "POST" and form.is_valid():
        try:
            clone = services.project_clone(
                source=source,
                user=request.user,
                name=form.cleaned_data["name"],
                include_models=form.cleaned_data["include_models"],
            )
        except ValidationError as error:
            form.add_error(None, error)  # a dict of field errors lands on its fields
        else:
            messages.success(request, f"{clone.name} is a copy of {source.name}; you are its owner.")
            return redirect("projects:project_detail", project_name=clone.name)
    return render(request, "portability/project_clone.html", {"project": source, "form": form})


@project_view(Permission.MANAGE_DOCUMENTS)
def project_archive_download(request: HttpRequest, project: Project) -> FileResponse:
    """The whole project as one zip (``?models=0`` leaves the models out, ``?members=1`` lists the members)."""
    # A temporary file, not memory: models make archives large. It is deleted when the response is closed.
    output = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it, which deletes it)
    services.project_archive_write(
        project=project,
        output=output,
        include_models=request.GET.get("models", "1") != "0",
        include_members=request.GET.get("members") == "1",
    )
    output.seek(0)
    return FileResponse(output, as_attachment=True, filename=archive_file_name(project), content_type="application/zip")


@login_required
@require_http_methods(["GET", "POST"])
def project_archive_import(request: HttpRequest) -> HttpResponse:
    form = ArchiveImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            imported = services.project_archive_import(
                source=form.cleaned_data["archive"],
                user=request.user,
                name=form.cleaned_data["name"],
                include_models=form.cleaned_data["include_models"],
                restore_members=form.cleaned_data["restore_members"],
            )
        except ValidationError as error:
            form.add_error(None, error)  # a dict of field errors lands on its fields
        else:
            note = f"Imported {imported.project.name}: {imported.documents:,} documents"
            if imported.models:
                note += f", models {', '.join(imported.models)}"
            messages.success(request, note + ".")
            if imported.missing_members:
                messages.warning(
                    request, f"These members do not exist here and were skipped: {', '.join(imported.missing_members)}."
                )
            for skipped in imported.notes:
                messages.warning(request, skipped)
            return redirect("projects:project_detail", project_name=imported.project.name)
    return render(request, "portability/project_archive_import.html", {"form": form})


@project_view(Permission.VIEW)
def project_data(request: HttpRequest, project: Project) -> HttpResponse:
    context = {
        "project": project,
        "inventory": selectors.project_data_inventory(project=project, user=request.user),
        "formats": FORMATS,
        "can_delete": can(request, project, Permission.DELETE_PROJECT),
        "can_export": can(request, project, Permission.MANAGE_DOCUMENTS),
    }
    return render(request, "portability/project_data.html", context)

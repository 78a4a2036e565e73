"""Document pages: list (search, filters, upload, bulk delete), detail, update, delete. Plain function views."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labeling import selectors, services
from labeling.forms import (
    COMMON_LANGUAGES,
    DocumentBulkDeleteForm,
    DocumentFilterForm,
    DocumentUpdateForm,
    DocumentUploadForm,
)
from projects.roles import Permission
from projects.selectors import entity_type_list, project_get_for_user, user_can

DOCUMENTS_PER_PAGE = 50


@login_required
@require_GET
def document_list(request: HttpRequest, project_name: str) -> HttpResponse:
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.VIEW)
    filters = DocumentFilterForm(request.GET, entity_types=entity_type_list(project=project))
    documents = selectors.document_list(project=project, **filters.criteria())
    page = Paginator(documents, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "filters": filters,
        "page": page,
        "filtered": any(value for value in filters.criteria().values()),
        "can_manage": user_can(user=request.user, project=project, permission=Permission.MANAGE_DOCUMENTS),
        "upload_form": DocumentUploadForm(),
    }
    template = "labeling/document_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#table"
    return render(request, template, context)


def _report(request: HttpRequest, level: int, lines: list[str]) -> None:
    # One message per problem, every one of them: a user fixing a batch of files needs the whole list at once.
    for line in lines:
        messages.add_message(request, level, line)


@login_required
@require_POST
def document_upload(request: HttpRequest, project_name: str) -> HttpResponse:
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.MANAGE_DOCUMENTS)
    form = DocumentUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        _report(request, messages.ERROR, [error for errors in form.errors.values() for error in errors])
        return redirect("labeling:document_list", project.name)
    uploads = [(file.name or "upload", file.read()) for file in form.cleaned_data["files"]]
    result = services.document_upload(project=project, user=request.user, uploads=uploads)
    if result.errors:
        count = len(result.errors)
        messages.error(
            request, f"Nothing was uploaded: {count} problem{'s' if count != 1 else ''} to fix, listed below."
        )
        _report(request, messages.ERROR, result.errors)
        return redirect("labeling:document_list", project.name)
    created = len(result.created)
    messages.success(request, f"Uploaded {created} document{'s' if created != 1 else ''}.")
    if result.duplicates:
        messages.warning(
            request,
            f"Skipped {len(result.duplicates)} duplicate file(s) whose text is already in the project "
            f"or repeated in this upload: {', '.join(result.duplicates[:20])}"
            + (f" and {len(result.duplicates) - 20} more" if len(result.duplicates) > 20 else ""),
        )
    return redirect("labeling:document_list", project.name)


@login_required
@require_POST
def document_bulk_delete(request: HttpRequest, project_name: str) -> HttpResponse:
    """First POST (the list's checkboxes) shows what will go; the second, with ``confirm``, deletes it."""
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.MANAGE_DOCUMENTS)
    form = DocumentBulkDeleteForm(request.POST)
    if not form.is_valid():
        _report(request, messages.ERROR, [error for errors in form.errors.values() for error in errors])
        return redirect("labeling:document_list", project.name)
    ids = form.cleaned_data["ids"]
    if request.POST.get("confirm"):
        deleted = services.documents_delete(project=project, ids=ids)
        messages.success(request, f"Deleted {deleted} document{'s' if deleted != 1 else ''}.")
        return redirect("labeling:document_list", project.name)
    documents = selectors.documents_for_ids(project=project, ids=ids)
    context = {
        "project": project,
        "documents": documents,
        "span_total": selectors.documents_span_total(documents=documents),
    }
    return render(request, "labeling/document_bulk_delete.html", context)


def _text_html(text: str) -> SafeString:
    # An HTML parser turns a literal CR or CRLF into LF, which would shift every offset after it in the page's
    # DOM; a character reference survives parsing, so the DOM text equals the stored text, code point for code point.
    return mark_safe(escape(text).replace("\r", "&#13;"))  # escaped first, on this line


@login_required
@require_GET
def document_detail(request: HttpRequest, project_name: str, document_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.VIEW)
    document = selectors.document_get(project=project, document_id=document_id)
    spans = list(selectors.document_span_list(document=document))
    context = {
        "project": project,
        "document": document,
        "spans": spans,
        "span_rows": [(span, document.text[span.start : span.end]) for span in spans],
        "segments": [
            (segment, _text_html(segment.text))
            for segment in selectors.document_segments(text=document.text, spans=spans)
        ],
        "entity_types": entity_type_list(project=project),
        "can_manage": user_can(user=request.user, project=project, permission=Permission.MANAGE_DOCUMENTS),
        "update_form": DocumentUpdateForm.for_document(document),
        "languages": COMMON_LANGUAGES,
    }
    return render(request, "labeling/document_detail.html", context)


@login_required
@require_POST
def document_update(request: HttpRequest, project_name: str, document_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.MANAGE_DOCUMENTS)
    document = selectors.document_get(project=project, document_id=document_id)
    form = DocumentUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.document_update(document=document, **form.changes())
        except ValidationError as error:
            _report(request, messages.ERROR, error.messages)
        else:
            messages.success(request, f"Saved {document.name}.")
    else:
        _report(request, messages.ERROR, [error for errors in form.errors.values() for error in errors])
    return redirect("labeling:document_detail", project.name, document.pk)


@login_required
@require_http_methods(["GET", "POST"])
def document_delete(request: HttpRequest, project_name: str, document_id: int) -> HttpResponse:
    project = project_get_for_user(user=request.user, name=project_name, permission=Permission.MANAGE_DOCUMENTS)
    document = selectors.document_get(project=project, document_id=document_id)
    if request.method == "POST":
        name = document.name
        services.document_delete(document=document)
        messages.success(request, f"Deleted {name}.")
        return redirect("labeling:document_list", project.name)
    span_count = selectors.document_span_list(document=document).count()
    return render(
        request, "labeling/document_delete.html", {"project": project, "document": document, "span_count": span_count}
    )

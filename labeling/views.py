"""Document pages: list (search, filters, upload, bulk delete and assign), detail, annotate, update, delete.

Plain function views. The annotate page saves every action through the REST span and document endpoints
(labeling/api.py) from static/js/annotate/ (ES modules), which also draws its marks; this module sends it data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django_htmx.http import HttpResponseClientRedirect

from labeling import imports, selectors, services
from labeling.agreement.selectors import annotation_layer_for, annotator_span_list
from labeling.forms import (
    COMMON_LANGUAGES,
    SPLIT_EDIT_CHOICES,
    DocumentBulkAssignForm,
    DocumentBulkDeleteForm,
    DocumentExportForm,
    DocumentFilterForm,
    DocumentImportForm,
    DocumentUpdateForm,
    DocumentUploadForm,
)
from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, Span
from labeling.suggestions.selectors import suggestion_list
from ner.formats import FORMATS
from projects.access import can, project_view
from projects.htmx import page_or_partial, wants_partial
from projects.models import Project
from projects.roles import Permission
from projects.selectors import entity_type_list, user_can

DOCUMENTS_PER_PAGE = 50


@project_view(Permission.VIEW)
def document_list(request: HttpRequest, project: Project) -> HttpResponse:
    filters = DocumentFilterForm(request.GET, entity_types=entity_type_list(project=project))
    documents = selectors.document_list(project=project, **filters.criteria())
    page = Paginator(documents, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    sides = selectors.documents_effective_split(project=project, documents=rows)
    can_manage = can(request, project, Permission.MANAGE_DOCUMENTS)
    partial = wants_partial(request)
    context = {
        "project": project,
        "filters": filters,
        "page": page,
        "rows": [(document, sides[document.pk]) for document in rows],
        "uncertainty_model": selectors.project_uncertainty_model(project=project),
        "filtered": any(value for value in filters.criteria().values()),
        "can_manage": can_manage,
        "can_annotate": can(request, project, Permission.ANNOTATE),
        "upload_form": DocumentUploadForm(),
        "members": selectors.project_member_users(project=project) if can_manage and not partial else [],
        # The statistics do not change with the filters: only the full page computes them.
        "stats": None if partial else selectors.label_stats(project=project),
    }
    template = "labeling/document_list.html"
    if partial:
        template += "#table"
    return render(request, template, context)


@project_view(Permission.MANAGE_DOCUMENTS, methods=["POST"])
def document_bulk_assign(request: HttpRequest, project: Project) -> HttpResponse:
    """Assign the documents ticked in the list to one member (or to nobody)."""
    form = DocumentBulkAssignForm(request.POST, members=selectors.project_member_users(project=project))
    if not form.is_valid():
        _report(request, messages.ERROR, [error for errors in form.errors.values() for error in errors])
        return redirect("labeling:document_list", project.name)
    assignee = form.assignee()
    try:
        changed = services.documents_assign(project=project, ids=form.cleaned_data["ids"], assigned_to=assignee)
    except ValidationError as error:
        _report(request, messages.ERROR, error.messages)
    else:
        who = assignee.username if assignee is not None else "nobody"
        messages.success(request, f"Assigned {changed} document{'s' if changed != 1 else ''} to {who}.")
    return redirect("labeling:document_list", project.name)


@project_view(Permission.VIEW)
def label_stats(request: HttpRequest, project: Project) -> HttpResponse:
    """Per entity type, spans and documents in train and test; htmx (the project page) gets just the table."""
    context = {"project": project, "stats": selectors.label_stats(project=project)}
    return render(request, page_or_partial(request, "labeling/label_stats.html", "stats"), context)


def _report(request: HttpRequest, level: int, lines: list[str]) -> None:
    # One message per problem, every one of them: a user fixing a batch of files needs the whole list at once.
    for line in lines:
        messages.add_message(request, level, line)


def _to_document_list(request: HttpRequest, project: Project) -> HttpResponse:
    """Back to the list, whose messages say how the upload went; documents.js's upload (htmx, for its progress
    bar) is sent there by the browser itself, so the whole page, messages included, is loaded."""
    url = reverse("labeling:document_list", args=[project.name])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@project_view(Permission.MANAGE_DOCUMENTS, methods=["POST"])
def document_upload(request: HttpRequest, project: Project) -> HttpResponse:
    form = DocumentUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        _report(request, messages.ERROR, [error for errors in form.errors.values() for error in errors])
        return _to_document_list(request, project)
    uploads = [(file.name or "upload", file.read()) for file in form.cleaned_data["files"]]
    result = services.document_upload(project=project, user=request.user, uploads=uploads)
    if result.errors:
        count = len(result.errors)
        messages.error(
            request, f"Nothing was uploaded: {count} problem{'s' if count != 1 else ''} to fix, listed below."
        )
        _report(request, messages.ERROR, result.errors)
        return _to_document_list(request, project)
    created = len(result.created)
    messages.success(request, f"Uploaded {created} document{'s' if created != 1 else ''}.")
    if result.duplicates:
        messages.warning(
            request,
            f"Skipped {len(result.duplicates)} duplicate file(s) whose text is already in the project "
            f"or repeated in this upload: {', '.join(result.duplicates[:20])}"
            + (f" and {len(result.duplicates) - 20} more" if len(result.duplicates) > 20 else ""),
        )
    return _to_document_list(request, project)


@project_view(Permission.MANAGE_DOCUMENTS, methods=["POST"])
def document_bulk_delete(request: HttpRequest, project: Project) -> HttpResponse:
    """First POST (the list's checkboxes) shows what will go; the second, with ``confirm``, deletes it."""
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


@project_view(Permission.VIEW)
def document_detail(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
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
        "can_manage": can(request, project, Permission.MANAGE_DOCUMENTS),
        "update_form": DocumentUpdateForm.for_document(document),
        "languages": COMMON_LANGUAGES,
    }
    return render(request, "labeling/document_detail.html", context)


@project_view(Permission.MANAGE_DOCUMENTS, methods=["POST"])
def document_update(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
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


@project_view(Permission.MANAGE_DOCUMENTS, methods=["GET", "POST"])
def document_delete(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
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


def _annotate_config(
    *,
    project: Project,
    document: Document,
    spans: Sequence[Span | AnnotatorSpan],
    entity_types: Sequence[Any],
    user: Any,
    layer: AnnotationAssignment | None,
) -> dict[str, Any]:
    """Everything static/js/annotate/ needs, as one JSON object (offsets in code points, as stored).

    With an agreement ``layer`` the page edits that annotator's own tags: the spans and their URL are the
    layer's, "mark as tagged" submits the assignment, and no model suggestions are shown (they would bias it).
    """
    # Sent in both label modes: the keyboard cursor moves token by token, and a selection is trimmed to them (or, in
    # "token" mode, widened to them) by the server's rule, ner.spans.selection_bounds, which the page applies.
    # Gap/length pairs rather than absolute offsets: small numbers, less than half the bytes on long texts.
    tokens: list[int] = []
    previous = 0
    for start, end in selectors.document_token_bounds(document=document):
        tokens += (start - previous, end - start)
        previous = end
    next_untagged = reverse("labeling:document_next", args=[project.name])
    urls = {
        "spans": reverse("api-span-list", args=[project.name, document.pk]),
        "document": reverse("api-document-detail", args=[project.name, document.pk]),
        "nextUntagged": f"{next_untagged}?after={document.pk}",
        "suggestions": reverse("api-suggestion-list", args=[project.name, document.pk]),
    }
    suggestions = []
    if layer is None:
        suggestions = [
            [s.pk, s.entity_type_id, s.start, s.end, round(s.confidence, 3)] for s in suggestion_list(document=document)
        ]
    else:
        urls["spans"] = reverse("api-annotator-span-list", args=[project.name, document.pk, layer.pk])
        urls["submit"] = reverse("api-assignment-submit", args=[project.name, document.pk, layer.pk])
    return {
        "documentId": document.pk,
        "labelMode": project.label_mode,
        "overlapPolicy": project.overlap_policy,
        "status": document.status if layer is None else layer.status,
        "layer": None if layer is None else {"assignmentId": layer.pk, "annotator": str(layer.annotator)},
        "types": [{"id": t.pk, "name": t.name, "color": t.color, "hotkey": t.hotkey.lower()} for t in entity_types],
        "spans": [[span.pk, span.entity_type_id, span.start, span.end] for span in spans],
        "suggestions": suggestions,
        "tokens": tokens,
        "canAnnotate": user_can(user=user, project=project, permission=Permission.ANNOTATE),
        "urls": urls,
    }


@project_view(Permission.VIEW)
def document_annotate(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
    """The tagging page. Members who may annotate tag here; everyone else sees the same page read-only.

    An annotator with an agreement assignment on the document tags their own copy (see labeling.agreement).
    """
    document = selectors.document_get(project=project, document_id=document_id)
    layer = annotation_layer_for(document=document, user=request.user)
    spans: list[Span | AnnotatorSpan] = list(
        selectors.document_span_list(document=document) if layer is None else annotator_span_list(assignment=layer)
    )
    entity_types = list(entity_type_list(project=project))
    previous_id, next_id = selectors.document_neighbours(project=project, document=document)
    can_manage = can(request, project, Permission.MANAGE_DOCUMENTS)
    config = _annotate_config(
        project=project, document=document, spans=spans, entity_types=entity_types, user=request.user, layer=layer
    )
    # From a model review's "Fix": open at the error (?at=, code points) with a way back (?back=, this site only).
    back = request.GET.get("back", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    at = request.GET.get("at", "")
    config["focusAt"] = int(at) if at.isdigit() and int(at) < len(document.text) else None
    context = {
        "project": project,
        "document": document,
        "layer": layer,
        "span_count": len(spans),
        "text_html": _text_html(document.text),  # plain: static/js/annotate/render.js draws the marks
        "entity_types": entity_types,
        "config": config,
        "can_annotate": config["canAnnotate"],
        "can_manage": can_manage,
        "effective_split": selectors.documents_effective_split(project=project, documents=[document])[document.pk],
        "split_choices": SPLIT_EDIT_CHOICES,
        "split_value": document.split or selectors.SPLIT_AUTO,
        "members": selectors.project_member_users(project=project) if can_manage else [],
        "previous_id": previous_id,
        "next_id": next_id,
        "back": back,
    }
    return render(request, "labeling/document_annotate.html", context)


@project_view(Permission.VIEW)
def document_next(request: HttpRequest, project: Project) -> HttpResponse:
    """Open the next document to tag (``?after=<id>``: the one just finished), or say that none is left.

    ``?order=sequence|uncertainty`` picks the order (in order, or most uncertain first) and remembers it in the
    session for the next documents; without it, the remembered order applies."""
    after = request.GET.get("after", "")
    after_id = int(after) if after.isdigit() else None
    # The session key is also read by templates/labeling/document_list.html (the order control).
    order = request.GET.get("order", "")
    if order in ("sequence", "uncertainty"):
        request.session["next_document_order"] = order
    elif order:
        messages.error(
            request, f"Unknown order {order[:40]!r}: use 'sequence' (in order) or 'uncertainty' (most uncertain first)."
        )
    stored = request.session.get("next_document_order", "sequence")
    order = stored if stored in ("sequence", "uncertainty") else "sequence"
    document = selectors.document_next_untagged(project=project, user=request.user, after_id=after_id, order=order)
    if document is None:
        messages.success(request, "No untagged documents left for you in this project.")
        return redirect("labeling:document_list", project.name)
    return redirect("labeling:document_annotate", project.name, document.pk)


# --- import and export --------------------------------------------------------------------------------------------


@project_view(Permission.MANAGE_DOCUMENTS, methods=["GET", "POST"])
def document_import(request: HttpRequest, project: Project) -> HttpResponse:
    """Choose a format and a file; small files are imported at once, large ones run in the background."""
    form = DocumentImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload, texts = form.cleaned_data["file"], form.cleaned_data["texts"]
        job = imports.import_job_start(
            project=project,
            user=request.user,
            format=form.cleaned_data["format"],
            data=upload.read(),
            file_name=upload.name or "upload",
            options=form.options(),
            texts_data=texts.read() if texts else None,
            texts_file_name=(texts.name or "texts.zip") if texts else "",
        )
        return redirect("labeling:import_job_detail", project.name, job.pk)
    context = {
        "project": project,
        "form": form,
        "jobs": selectors.import_job_list(project=project),
        "formats": FORMATS,
    }
    return render(request, "labeling/document_import.html", context, status=400 if form.errors else 200)


@project_view(Permission.MANAGE_DOCUMENTS)
def import_job_detail(request: HttpRequest, project: Project, import_job_id: int) -> HttpResponse:
    """An import's progress (htmx polls the ``job`` partial until it is finished), then its report."""
    job = selectors.import_job_get(project=project, job_id=import_job_id)
    context = {"project": project, "job": job, "report": imports.import_job_report(job=job)}
    return render(request, page_or_partial(request, "labeling/import_job_detail.html", "job"), context)


@project_view(Permission.MANAGE_DOCUMENTS, methods=["POST"])
def import_job_retry(request: HttpRequest, project: Project, import_job_id: int) -> HttpResponse:
    """Run a failed import again from its stored file, creating the missing entity types when ticked."""
    job = selectors.import_job_get(project=project, job_id=import_job_id)
    try:
        imports.import_job_retry(job=job, create_missing_types=bool(request.POST.get("create_missing_types")))
    except ValidationError as error:
        _report(request, messages.ERROR, error.messages)
    return redirect("labeling:import_job_detail", project.name, job.pk)


@project_view(Permission.MANAGE_DOCUMENTS)
def document_export(request: HttpRequest, project: Project) -> HttpResponse:
    """Pick a format and, optionally, the document list's filters; ``?format=`` downloads the file."""
    filters = DocumentFilterForm(request.GET, entity_types=entity_type_list(project=project))
    criteria = filters.criteria()
    form = DocumentExportForm(request.GET if "format" in request.GET else None)
    problems: list[Any] = []
    if form.is_bound and form.is_valid():
        try:
            exported = imports.project_export_file(
                project=project,
                format=form.cleaned_data["format"],
                scheme=form.cleaned_data["scheme"] or "iob2",
                tokenizer=form.cleaned_data["tokenizer"] or "spacy",
                **criteria,
            )
        except imports.ExportError as error:
            problems = error.problems
        else:
            response = HttpResponse(exported.data, content_type=exported.content_type)
            response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
            return response
    context = {
        "project": project,
        "form": form,
        "filters": filters,
        "filtered": any(value for value in criteria.values()),
        "count": selectors.document_list(project=project, **criteria).count(),
        "problems": problems,
        "formats": FORMATS,
    }
    return render(request, "labeling/document_export.html", context, status=400 if problems or form.errors else 200)

"""The audit trail's pages: the project's audit log and one document's tag history. Both read
``labeling.audit.selectors``; nothing here writes."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from labeling import selectors as labeling_selectors
from labeling.audit import selectors
from labeling.audit.forms import AuditFilterForm
from projects.access import project_view
from projects.htmx import page_or_partial
from projects.models import Project
from projects.roles import Permission

EVENTS_PER_PAGE = 50


@project_view(Permission.VIEW)
def audit_log(request: HttpRequest, project: Project) -> HttpResponse:
    """Who did what to the tags, newest first, with per-user counts over the same period."""
    form = AuditFilterForm(request.GET or None, project=project)
    form.is_valid()
    criteria = form.criteria()
    page = Paginator(selectors.span_event_list(project=project, **criteria), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    activity = selectors.span_event_user_counts(
        project=project,
        since=criteria["since"],
        before=criteria["before"],
        document_name=criteria["document_name"],
        source=criteria["source"],
    )
    context = {
        "project": project,
        "form": form,
        "page": page,
        "activity": activity,
        "filtered": any(value for value in criteria.values()),
        "usernames": form.usernames,
    }
    return render(request, page_or_partial(request, "labeling/audit_log.html", "results"), context)


@project_view(Permission.VIEW)
def document_history(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
    """Each tag of a document, live or deleted, with who created, retyped or deleted it; the document page loads
    the ``history`` region of this page with htmx."""
    document = labeling_selectors.document_get(project=project, document_id=document_id)
    context = {"project": project, "document": document, "tags": selectors.document_tag_history(document=document)}
    return render(request, page_or_partial(request, "labeling/audit_document_history.html", "history"), context)

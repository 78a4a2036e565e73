"""Lineage pages: a snapshot (what trained and tested its models, and what has changed since) and the models a
document fed (the document page loads its ``models`` region with htmx, since labeling cannot import evaluation)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from evaluation.lineage import selectors
from labeling.selectors import document_get
from projects.access import project_view
from projects.htmx import page_or_partial
from projects.models import Project
from projects.roles import Permission


@project_view(Permission.VIEW)
def snapshot_detail(request: HttpRequest, project: Project, snapshot_id: int) -> HttpResponse:
    snapshot = selectors.snapshot_get(project=project, snapshot_id=snapshot_id)
    context = {"project": project, "snapshot": snapshot, "detail": selectors.snapshot_detail(snapshot=snapshot)}
    return render(request, "evaluation/lineage_snapshot_detail.html", context)


@project_view(Permission.VIEW)
def document_models(request: HttpRequest, project: Project, document_id: int) -> HttpResponse:
    document = document_get(project=project, document_id=document_id)
    context = {"project": project, "document": document, "uses": selectors.document_models(document=document)}
    return render(request, page_or_partial(request, "evaluation/lineage_document_models.html", "models"), context)

"""Inter-annotator agreement: assignments of one document to several annotators, each with their own tags
(``AnnotatorSpan``), the agreement between them, and the adjudication that merges them into the gold tags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.models import AnnotationAssignment, AnnotatorSpan, Document

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet


def annotation_layer_for(*, document: Document, user: AbstractBaseUser) -> AnnotationAssignment | None:
    """The assignment whose private tags ``user`` edits on this document's tagging page, or None (gold tags).

    Once a document's assignments are adjudicated everyone works on the gold tags again.
    """
    if not user.is_authenticated:
        return None
    return (
        AnnotationAssignment.objects.filter(document=document, annotator=user)
        .exclude(status=AnnotationAssignment.Status.ADJUDICATED)
        .first()
    )


def annotator_span_list(*, assignment: AnnotationAssignment) -> QuerySet[AnnotatorSpan]:
    return assignment.spans.select_related("entity_type").order_by("start", "end", "entity_type__name")

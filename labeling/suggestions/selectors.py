"""Reads of pre-annotation suggestions: the pending ones of a document (never one overlapping a gold tag) and
counts. Accepting, rejecting and replacing them live in ``services``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, OuterRef

from labeling.models import Document, Span, Suggestion
from projects.chunks import chunks
from projects.selectors import row_get_or_404

if TYPE_CHECKING:
    from django.db.models import QuerySet


def _pending(queryset: QuerySet[Suggestion]) -> QuerySet[Suggestion]:
    # The annotator's tag wins: a suggestion touching any gold tag of its document is not pending any more.
    covering = Span.objects.filter(document=OuterRef("document"), start__lt=OuterRef("end"), end__gt=OuterRef("start"))
    return queryset.filter(~Exists(covering), state=Suggestion.State.PENDING)


def suggestion_list(*, document: Document) -> QuerySet[Suggestion]:
    """The document's pending suggestions (none that overlaps a tag), in text order."""
    return (
        _pending(document.suggestions.all()).select_related("entity_type").order_by("start", "end", "entity_type__name")
    )


def suggestion_get(*, document: Document, suggestion_id: int) -> Suggestion:
    """One pending suggestion of the document; another document's (or project's) id is a 404, like a missing one."""
    suggestions = Suggestion.objects.select_related("entity_type", "document__project").filter(
        document=document, pk=suggestion_id, state=Suggestion.State.PENDING
    )
    return row_get_or_404(
        suggestions, missing="No such suggestion in this document (it may have been accepted or rejected already)."
    )


def suggestion_model_names(*, document: Document) -> list[str]:
    """The models whose suggestions are pending on the document, by name."""
    return sorted(set(suggestion_list(document=document).values_list("model_name", flat=True)))


def suggestions_pending_count(*, documents: Sequence[int]) -> dict[int, int]:
    """Per document id, how many suggestions are pending (documents without any are absent)."""
    counts: dict[int, int] = {}
    for chunk in chunks(documents):
        rows = (
            _pending(Suggestion.objects.filter(document_id__in=chunk))
            .order_by()
            .values("document_id")
            .annotate(pending=Count("pk"))
        )
        counts.update({row["document_id"]: row["pending"] for row in rows})
    return counts

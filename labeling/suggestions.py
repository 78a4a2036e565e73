"""Pre-annotation suggestions on the tagging page: listed here, accepted into gold tags through
``labeling.services.span_create`` (so every span rule applies), rejected by deleting them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labeling.models import Document, Suggestion

if TYPE_CHECKING:
    from django.db.models import QuerySet


def suggestion_list(*, document: Document) -> QuerySet[Suggestion]:
    return document.suggestions.select_related("entity_type").order_by("start", "end", "entity_type__name")

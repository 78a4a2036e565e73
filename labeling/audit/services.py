"""The audit trail of gold tags: one ``SpanEvent`` per create, type change or delete, written in the same
transaction as the change itself by the span services (``labeling.services``), never by views.

Bulk paths (upload, import) do not write a "created" event per span: the span row keeps its ``created_by`` and
``created_at`` and the import job says which file it came from. Everything that changes or removes a span,
one at a time or in bulk (an entity type merged or deleted), is written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from labeling.models import Document, Span, SpanEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


SURFACE_MAX: Final = 300


_BULK_BATCH: Final = 500


def _event(
    span: Span, document: Document, *, action: str, source: str, user: AbstractBaseUser | None, previous_type: str = ""
) -> SpanEvent:
    return SpanEvent(
        project_id=document.project_id,
        document=document,
        document_name=document.name,
        span_id=span.pk,
        action=action,
        source=source,
        entity_type=span.entity_type.name,
        previous_entity_type=previous_type,
        start=span.start,
        end=span.end,
        surface=document.text[span.start : span.end][:SURFACE_MAX],
        user=user if user is not None and user.is_authenticated else None,
    )


def span_event_record(
    *,
    span: Span,
    action: str,
    source: str = SpanEvent.Source.TAGGING,
    user: AbstractBaseUser | None,
    previous_type: str = "",
) -> SpanEvent:
    event = _event(span, span.document, action=action, source=source, user=user, previous_type=previous_type)
    event.save()
    return event


def span_events_record_bulk(
    *,
    spans: Iterable[Span],
    action: str,
    source: str,
    user: AbstractBaseUser | None,
    new_type: str = "",
) -> int:
    """One event per span of a bulk change; spans must come with ``document`` and ``entity_type`` selected.

    ``new_type`` names the type a retype moves to (the spans still carry the old one).
    """
    events = []
    for span in spans:
        event = _event(span, span.document, action=action, source=source, user=user)
        if new_type:
            event.previous_entity_type, event.entity_type = event.entity_type, new_type
        events.append(event)
    SpanEvent.objects.bulk_create(events, batch_size=_BULK_BATCH)
    return len(events)

"""Receivers: the audit trail of spans that an entity type merge or delete (in projects) moves or removes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef
from django.dispatch import receiver

from labeling.audit.services import span_events_record_bulk
from labeling.models import Span, SpanEvent
from projects.signals import entity_type_spans_changing

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from projects.models import EntityType


@receiver(entity_type_spans_changing, dispatch_uid="labeling-audit-entity-type-spans")
def record_entity_type_span_changes(
    sender: Any, *, entity_type: EntityType, target: EntityType | None, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    spans = Span.objects.filter(entity_type=entity_type).select_related("document", "entity_type")
    if target is None:
        span_events_record_bulk(
            spans=spans, action=SpanEvent.Action.DELETED, source=SpanEvent.Source.TYPE_DELETE, user=user
        )
        return
    duplicate = Span.objects.filter(
        entity_type=target, document=OuterRef("document"), start=OuterRef("start"), end=OuterRef("end")
    )
    span_events_record_bulk(
        spans=spans.filter(Exists(duplicate)),
        action=SpanEvent.Action.DELETED,
        source=SpanEvent.Source.TYPE_MERGE,
        user=user,
    )
    span_events_record_bulk(
        spans=spans.exclude(Exists(duplicate)),
        action=SpanEvent.Action.RETYPED,
        source=SpanEvent.Source.TYPE_MERGE,
        user=user,
        new_type=target.name,
    )

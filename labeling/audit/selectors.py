"""Reads of the audit trail of gold tags: the project's log with its filters, per-user activity and one
document's tag history. The span services write the events through ``services``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from labeling.models import Document, Span, SpanEvent
from projects.models import Project


def span_event_list(
    *,
    project: Project,
    document: Document | None = None,
    document_id: int | None = None,
    document_name: str = "",
    user_id: int | None = None,
    username: str = "",
    action: str = "",
    source: str = "",
    since: datetime | None = None,
    before: datetime | None = None,
) -> QuerySet[SpanEvent]:
    """The project's events, newest first. ``document_name`` matches part of the name, so the rows of a deleted
    document (whose ``document`` is gone) stay findable; ``since`` is inclusive, ``before`` exclusive."""
    events = SpanEvent.objects.filter(project=project).select_related("user", "document")
    events = events.filter(
        **_given(
            document=document,
            document_id=document_id,
            document_name__icontains=document_name,
            user_id=user_id,
            user__username=username,
            action=action,
            source=source,
            created_at__gte=since,
            created_at__lt=before,
        )
    )
    return events.order_by("-created_at", "-id")


def _given(**lookups: object) -> dict[str, object]:
    """The filters that were given: a ``None`` or ``""`` stands for "any"."""
    return {lookup: value for lookup, value in lookups.items() if value is not None and value != ""}


def span_event_users(*, project: Project) -> list[str]:
    """Usernames for the audit log's user filter: the members, and anyone who left but still has events."""
    user_ids = SpanEvent.objects.filter(project=project, user__isnull=False).values("user_id")
    users = get_user_model().objects.filter(Q(memberships__project=project) | Q(pk__in=user_ids)).distinct()
    return sorted(users.values_list("username", flat=True))


@dataclass(frozen=True)
class UserActivity:
    """What one user did to the gold tags over a period. ``username`` is "" for a deleted user (or none)."""

    username: str
    created: int = 0
    retyped: int = 0
    deleted: int = 0
    # Tags that came with an upload or an import: they have no "created" event, only the span row's created_by.
    bulk_added: int = 0

    @property
    def total(self) -> int:
        return self.created + self.retyped + self.deleted + self.bulk_added


def span_event_user_counts(
    *,
    project: Project,
    since: datetime | None = None,
    before: datetime | None = None,
    document_name: str = "",
    source: str = "",
) -> list[UserActivity]:
    """Per user, how many tags they created, retyped and deleted in the period (busiest first).

    Uploaded and imported tags count too (``bulk_added``), from the live spans that have no "created" event, unless
    ``source`` asks for one path only: a span row does not say whether it came by upload or import.
    """
    events = span_event_list(
        project=project, since=since, before=before, document_name=document_name, source=source
    ).order_by()
    rows = events.values("user__username").annotate(
        created=Count("id", filter=Q(action=SpanEvent.Action.CREATED)),
        retyped=Count("id", filter=Q(action=SpanEvent.Action.RETYPED)),
        deleted=Count("id", filter=Q(action=SpanEvent.Action.DELETED)),
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts[row["user__username"] or ""] = {key: row[key] for key in ("created", "retyped", "deleted")}
    if not source:
        for username, added in _bulk_added_counts(project, since, before, document_name).items():
            counts.setdefault(username, {})["bulk_added"] = added
    activity = [UserActivity(username=username, **values) for username, values in counts.items()]
    return sorted(activity, key=lambda row: (-row.total, row.username == "", row.username))


def _bulk_added_counts(
    project: Project, since: datetime | None, before: datetime | None, document_name: str
) -> dict[str, int]:
    recorded = SpanEvent.objects.filter(project=project, action=SpanEvent.Action.CREATED, span_id__isnull=False)
    spans = Span.objects.filter(document__project=project).exclude(pk__in=recorded.values("span_id"))
    spans = spans.filter(
        **_given(created_at__gte=since, created_at__lt=before, document__name__icontains=document_name)
    )
    rows = spans.order_by().values("created_by__username").annotate(count=Count("id"))
    return {row["created_by__username"] or "": row["count"] for row in rows}


@dataclass(frozen=True)
class TagHistoryEntry:
    """One thing that happened to a tag. ``recorded`` is False for a creation read from the span row itself (an
    uploaded or imported tag, which has no event)."""

    action: str
    action_label: str
    source_label: str
    entity_type: str
    previous_entity_type: str
    username: str
    at: datetime
    recorded: bool = True


@dataclass
class TagHistory:
    """A tag of a document, live or deleted, with what happened to it, oldest first."""

    span_id: int | None
    start: int
    end: int
    surface: str
    entity_type: str
    exists: bool
    entries: list[TagHistoryEntry] = field(default_factory=list)

    @property
    def last(self) -> TagHistoryEntry | None:
        return self.entries[-1] if self.entries else None


BULK_SOURCE_LABEL: Final = "Upload or import (not recorded as an event)"


def _entry(event: SpanEvent) -> TagHistoryEntry:
    return TagHistoryEntry(
        action=event.action,
        action_label=event.get_action_display(),
        source_label=event.get_source_display(),
        entity_type=event.entity_type,
        previous_entity_type=event.previous_entity_type,
        username=event.user.get_username() if event.user is not None else "",
        at=event.created_at,
    )


def document_tag_history(*, document: Document) -> list[TagHistory]:
    """Every tag the document has or had, in text order, each with who created, retyped or deleted it and when.

    Live tags without a "created" event (uploaded or imported) get one read from the span's ``created_by`` and
    ``created_at``; deleted tags keep the type, offsets and text their events copied.
    """
    events = SpanEvent.objects.filter(document=document).select_related("user").order_by("created_at", "id")
    by_span: dict[int | str, list[SpanEvent]] = {}
    for event in events:
        # An event without a span id cannot be tied to others; it stands alone.
        by_span.setdefault(event.span_id if event.span_id is not None else f"event-{event.pk}", []).append(event)
    tags: list[TagHistory] = []
    for span in Span.objects.filter(document=document).select_related("entity_type", "created_by"):
        span_events = by_span.pop(span.pk, [])
        tag = TagHistory(
            span_id=span.pk,
            start=span.start,
            end=span.end,
            surface=document.text[span.start : span.end],
            entity_type=span.entity_type.name,
            exists=True,
            entries=[_entry(event) for event in span_events],
        )
        if not any(event.action == SpanEvent.Action.CREATED for event in span_events):
            first_type = span_events[0].previous_entity_type if span_events else span.entity_type.name
            tag.entries.insert(
                0,
                TagHistoryEntry(
                    action=SpanEvent.Action.CREATED,
                    action_label=SpanEvent.Action.CREATED.label,
                    source_label=BULK_SOURCE_LABEL,
                    entity_type=first_type or span.entity_type.name,
                    previous_entity_type="",
                    username=span.created_by.get_username() if span.created_by is not None else "",
                    at=span.created_at,
                    recorded=False,
                ),
            )
        tags.append(tag)
    for key, span_events in by_span.items():
        last = span_events[-1]
        tags.append(
            TagHistory(
                span_id=key if isinstance(key, int) else None,
                start=last.start,
                end=last.end,
                surface=last.surface,
                entity_type=last.entity_type,
                exists=False,
                entries=[_entry(event) for event in span_events],
            )
        )
    return sorted(tags, key=lambda tag: (tag.start, tag.end, not tag.exists, tag.span_id or 0))

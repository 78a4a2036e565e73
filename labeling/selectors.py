"""Reads for documents and spans. Every read is scoped to a project the caller already holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from labeling.models import Document, Span
from projects.models import Project

# The value of the split filter that means "no manual split: decided by the project's rule".
SPLIT_AUTO = "auto"


def _span_count() -> Coalesce:
    # A correlated subquery rather than Count("spans") with GROUP BY: SQLite would group by every selected
    # column, and the entity-type filter would otherwise multiply the joined rows.
    counts = Span.objects.filter(document=OuterRef("pk")).order_by().values("document").annotate(n=Count("pk"))
    return Coalesce(Subquery(counts.values("n"), output_field=IntegerField()), Value(0))


def document_list(
    *,
    project: Project,
    search: str = "",
    status: str = "",
    entity_type_id: int | None = None,
    split: str = "",
) -> QuerySet[Document]:
    """The project's documents, oldest first, each with ``span_count``; the text itself is deferred.

    ``search`` is a case-insensitive substring of the name or the text: portable ``icontains`` (UPPER() LIKE on
    PostgreSQL, Unicode-aware; LIKE on SQLite, whose case folding covers ASCII letters only). ``split`` is train,
    test or "auto" (no manual split); ``entity_type_id`` keeps documents with at least one span of that type.
    """
    documents = Document.objects.filter(project=project)
    if search := search.strip():
        documents = documents.filter(Q(name__icontains=search) | Q(text__icontains=search))
    if status:
        documents = documents.filter(status=status)
    if split:
        documents = documents.filter(split="" if split == SPLIT_AUTO else split)
    if entity_type_id is not None:
        documents = documents.filter(
            Exists(Span.objects.filter(document=OuterRef("pk"), entity_type_id=entity_type_id))
        )
    return documents.defer("text").annotate(span_count=_span_count()).order_by("id")


def document_get(*, project: Project, document_id: int) -> Document:
    """One document of the project; an id of another project's document is a 404, exactly like a missing one."""
    document = Document.objects.select_related("project").filter(project=project, pk=document_id).first()
    if document is None:
        raise Http404("No such document in this project.")
    return document


def documents_for_ids(*, project: Project, ids: Iterable[int]) -> QuerySet[Document]:
    """The project's documents among ``ids`` (others' ids drop out silently), with their span counts."""
    return document_list(project=project).filter(pk__in=list(ids))


def documents_span_total(*, documents: QuerySet[Document]) -> int:
    return Span.objects.filter(document__in=documents.values("pk")).count()


def document_span_list(*, document: Document) -> QuerySet[Span]:
    return document.spans.select_related("entity_type").order_by("start", "end", "entity_type__name")


def document_get_span(*, document: Document, span_id: int) -> Span:
    span = document.spans.select_related("entity_type", "document__project").filter(pk=span_id).first()
    if span is None:
        raise Http404("No such span in this document.")
    return span


@dataclass(frozen=True, slots=True)
class TextSegment:
    """A run of text covered by the same spans (none for plain text), for server-side highlighting."""

    text: str
    spans: tuple[Span, ...] = ()

    @property
    def labels(self) -> str:
        return ", ".join(span.entity_type.name for span in self.spans)

    @property
    def color(self) -> str:
        # Where spans overlap (overlap policy "allow"), the innermost (shortest) one gives the colour.
        return min(self.spans, key=lambda span: span.end - span.start).entity_type.color if self.spans else ""


def document_segments(*, text: str, spans: Sequence[Span]) -> list[TextSegment]:
    """Cut ``text`` at every span boundary (code point offsets) so that each piece has one set of spans."""
    cuts = {0, len(text), *(span.start for span in spans), *(span.end for span in spans)}
    bounds = sorted(cut for cut in cuts if 0 <= cut <= len(text))
    by_start = sorted(spans, key=lambda span: (span.start, span.end))
    segments: list[TextSegment] = []
    active: list[Span] = []
    next_span = 0
    # One sweep over the boundaries: spans join the active set where they start and leave where they end.
    for start, end in pairwise(bounds):
        while next_span < len(by_start) and by_start[next_span].start <= start:
            active.append(by_start[next_span])
            next_span += 1
        active = [span for span in active if span.end > start]
        segments.append(TextSegment(text=text[start:end], spans=tuple(active)))
    return segments


def project_document_count(*, project: Project) -> int:
    return Document.objects.filter(project=project).count()

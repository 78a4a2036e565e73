"""Reads for documents and spans. Every read is scoped to a project the caller already holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, Literal

from django.core.cache import cache
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from labeling.models import Document, ImportJob, Span
from ner import limits
from ner.splits import split_documents
from ner.tokens import token_bounds
from ner.types import LabeledDoc, Split
from ner.types import Span as NerSpan
from projects.chunks import IN_CHUNK, chunks
from projects.models import EntityType, Membership, Project
from projects.selectors import row_get_or_404

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

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
    return (
        documents.defer("text")
        .select_related("assigned_to", "tagged_by")
        .annotate(span_count=_span_count())
        .order_by("id")
    )


def document_get(*, project: Project, document_id: int) -> Document:
    """One document of the project; an id of another project's document is a 404, exactly like a missing one."""
    documents = Document.objects.select_related("project", "assigned_to", "tagged_by").filter(
        project=project, pk=document_id
    )
    return row_get_or_404(documents, missing="No such document in this project.")


def documents_for_ids(*, project: Project, ids: Iterable[int]) -> QuerySet[Document]:
    """The project's documents among ``ids`` (others' ids drop out silently), with their span counts."""
    return document_list(project=project).filter(pk__in=list(ids))


def documents_span_total(*, documents: QuerySet[Document]) -> int:
    return Span.objects.filter(document__in=documents.values("pk")).count()


def document_status(*, document: Document) -> str:
    """The document's status as stored now: a span change may just have moved it, or another user meanwhile."""
    return Document.objects.values_list("status", flat=True).get(pk=document.pk)


def document_span_list(*, document: Document) -> QuerySet[Span]:
    return document.spans.select_related("entity_type").order_by("start", "end", "entity_type__name")


def document_get_span(*, document: Document, span_id: int) -> Span:
    return row_get_or_404(
        document.spans.select_related("entity_type", "document__project").filter(pk=span_id),
        missing="No such span in this document.",
    )


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


def project_uncertainty_model(*, project: Project) -> str:
    """The model whose uncertainty scores the project's documents carry ("" when none is scored): the refresh
    after each training rescores every document still to tag, so they share one model."""
    return (
        Document.objects.filter(project=project, uncertainty__isnull=False)
        .exclude(uncertainty_model="")
        .values_list("uncertainty_model", flat=True)
        .first()
        or ""
    )


# --- the annotate page --------------------------------------------------------------------------------------------

# Token bounds of a 128k-character document take ~60 ms to compute; they depend only on the text and language.
_TOKEN_CACHE_SECONDS = 60 * 60


def document_token_bounds(*, document: Document) -> list[tuple[int, int]]:
    """The (start, end) code point offsets of the document's tokens (``ner.tokens``), cached by content."""
    language = document.effective_language
    key = f"nerlab:tokens:{document.content_hash}:{language}"
    bounds: list[tuple[int, int]] | None = cache.get(key)
    if bounds is None:
        bounds = token_bounds(document.text, language)
        cache.set(key, bounds, _TOKEN_CACHE_SECONDS)
    return bounds


def _effective_sides(project: Project, documents: Iterable[tuple[str, str | None]]) -> list[Split]:
    return split_documents(
        documents,
        mode=project.split_mode,  # type: ignore[arg-type]
        seed=project.split_seed,
        test_percent=project.test_percent,
    )


def documents_effective_split(*, project: Project, documents: Sequence[Document]) -> dict[int, str]:
    """Each document's side ("train"/"test"): its manual split, else the project's rule (``ner.splits``)."""
    sides = _effective_sides(project, [(document.content_hash, document.split) for document in documents])
    return {document.pk: side for document, side in zip(documents, sides, strict=True)}


_LABELED_FIELDS: Final = ("pk", "name", "text", "content_hash", "language", "split", "meta")
_LABELED_CHUNK: Final = IN_CHUNK  # documents per chunk: one IN (...) query's worth of ids


def _document_rows(
    project: Project, documents: QuerySet[Document] | Iterable[int] | None
) -> Iterator[list[tuple[Any, ...]]]:
    """The selected documents' (pk, name, text, content_hash, language, split, meta), in id order, in chunks."""
    rows = Document.objects.filter(project=project).order_by("pk")
    if isinstance(documents, QuerySet):
        rows = rows.filter(pk__in=documents.order_by().values("pk"))
    elif documents is not None:
        ids = sorted({int(pk) for pk in documents})
        for some in chunks(ids, _LABELED_CHUNK):
            yield list(rows.filter(pk__in=some).values_list(*_LABELED_FIELDS))
        return
    chunk: list[tuple[Any, ...]] = []
    for row in rows.values_list(*_LABELED_FIELDS).iterator(chunk_size=2_000):
        chunk.append(row)
        if len(chunk) >= _LABELED_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def documents_labeled(
    *, project: Project, documents: QuerySet[Document] | Iterable[int] | None = None
) -> dict[int, LabeledDoc]:
    """The project's documents (all, or those in ``documents``: a queryset or ids) as LabeledDocs by id, in id order.

    Each carries its spans, its name, its metadata, its language (the project's when it has none of its own) and its
    effective split: the manual one, else the project's rule (``ner.splits``). Exports and training snapshots both
    read documents through here, so a file says which side each document trains on exactly as training does.
    Reads go in chunks (one document query plus one span query per 900 documents). Raises ``SplitError`` when the
    project's split settings or a stored manual split are invalid.
    """
    type_names = dict(project.entity_types.values_list("pk", "name"))
    labeled: dict[int, LabeledDoc] = {}
    for chunk in _document_rows(project, documents):
        ids = [row[0] for row in chunk]
        spans: dict[int, list[NerSpan]] = {pk: [] for pk in ids}
        for document_id, start, end, type_id in (
            Span.objects.filter(document_id__in=ids)
            .order_by()
            .values_list("document_id", "start", "end", "entity_type_id")
        ):
            spans[document_id].append(NerSpan(start, end, type_names[type_id]))
        sides = _effective_sides(project, [(row[3], row[5]) for row in chunk])
        for (pk, name, text, _digest, language, _split, meta), side in zip(chunk, sides, strict=True):
            labeled[pk] = LabeledDoc(
                text=text,
                spans=tuple(sorted(spans[pk])),
                name=name,
                language=language or project.language,
                split=side,
                meta=dict(meta or {}),
            )
    return labeled


def document_neighbours(*, project: Project, document: Document) -> tuple[int | None, int | None]:
    """The ids of the previous and next documents in the list's order (by id)."""
    documents = Document.objects.filter(project=project)
    previous = documents.filter(pk__lt=document.pk).order_by("-pk").values_list("pk", flat=True).first()
    following = documents.filter(pk__gt=document.pk).order_by("pk").values_list("pk", flat=True).first()
    return previous, following


def document_next_untagged(
    *,
    project: Project,
    user: AbstractBaseUser | AnonymousUser,
    after_id: int | None = None,
    order: Literal["sequence", "uncertainty"] = "sequence",
) -> Document | None:
    """The next document for ``user`` to tag: not yet tagged, and not assigned to someone else.

    Documents assigned to the user come first, then unassigned ones. Within each, ``order="sequence"`` takes the
    first after ``after_id`` (the document just finished), wrapping around to the start of the list;
    ``order="uncertainty"`` takes the one the latest model is least sure about (``Document.uncertainty``, written
    after each training by ``evaluation.active_learning``), documents it has not scored after the scored ones, ties
    by id. The current document is skipped either way.
    """
    if order not in ("sequence", "uncertainty"):
        raise ValueError(f"unknown order {order!r}; use 'sequence' or 'uncertainty'")
    open_documents = Document.objects.filter(project=project).exclude(status=Document.Status.TAGGED).defer("text")
    if after_id is not None:
        open_documents = open_documents.exclude(pk=after_id)
    after = after_id or 0
    for mine in (Q(assigned_to=user), Q(assigned_to__isnull=True)):
        candidates = open_documents.filter(mine)
        if order == "uncertainty":
            document = candidates.order_by(F("uncertainty").desc(nulls_last=True), "pk").first()
        else:
            document = candidates.filter(pk__gt=after).order_by("pk").first() or candidates.order_by("pk").first()
        if document is not None:
            return document
    return None


def project_member_users(*, project: Project) -> list[AbstractBaseUser]:
    """The project's members as users, by username (for the assignment menus)."""
    memberships = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    return [membership.user for membership in memberships]


def project_member_get(*, project: Project, user_id: int) -> AbstractBaseUser | None:
    """The member of the project with this user id, or None when there is no such member."""
    membership = Membership.objects.filter(project=project, user_id=user_id).select_related("user").first()
    return membership.user if membership is not None else None


# --- label statistics ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class TypeLabelStats:
    """How much of one entity type is tagged, by side of the train/test split."""

    entity_type: EntityType
    spans_train: int = 0
    spans_test: int = 0
    documents_train: int = 0
    documents_test: int = 0

    @property
    def spans(self) -> int:
        return self.spans_train + self.spans_test

    @property
    def documents(self) -> int:
        return self.documents_train + self.documents_test

    @property
    def percent(self) -> int:
        """Progress towards Azure's guidance of about 50 tagged instances per type, capped at 100."""
        return min(100, round(100 * self.spans / limits.RECOMMENDED_INSTANCES_PER_TYPE))

    @property
    def few(self) -> bool:
        return self.spans < limits.FEW_INSTANCES_WARNING


@dataclass(slots=True)
class LabelStats:
    per_type: list[TypeLabelStats] = field(default_factory=list)
    documents_train: int = 0
    documents_test: int = 0
    recommended: int = limits.RECOMMENDED_INSTANCES_PER_TYPE
    few_warning: int = limits.FEW_INSTANCES_WARNING


def label_stats(*, project: Project) -> LabelStats:
    """Per entity type: spans and documents containing it, in train and in test. Three queries in all.

    The side of a document without a manual split comes from the project's rule, a hash of its content that SQL
    cannot compute, so the database groups spans by (type, document) and Python adds those rows up per side.
    """
    documents = list(Document.objects.filter(project=project).only("pk", "content_hash", "split"))
    sides = documents_effective_split(project=project, documents=documents)
    stats = LabelStats(
        per_type=[TypeLabelStats(entity_type) for entity_type in project.entity_types.order_by("name")],
        documents_train=sum(1 for side in sides.values() if side == "train"),
        documents_test=sum(1 for side in sides.values() if side == "test"),
    )
    by_type = {row.entity_type.pk: row for row in stats.per_type}
    counts: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"train": [0, 0], "test": [0, 0]})
    rows = (
        Span.objects.filter(document__project=project)
        .order_by()
        .values_list("entity_type_id", "document_id")
        .annotate(n=Count("pk"))
    )
    for entity_type_id, document_id, n in rows:
        side = counts[entity_type_id][sides.get(document_id, "train")]
        side[0] += n
        side[1] += 1
    for entity_type_id, per_side in counts.items():
        row = by_type.get(entity_type_id)
        if row is not None:
            row.spans_train, row.documents_train = per_side["train"]
            row.spans_test, row.documents_test = per_side["test"]
    return stats


# --- imports ------------------------------------------------------------------------------------------------------


def import_job_list(*, project: Project, limit: int = 20) -> QuerySet[ImportJob]:
    """The project's most recent imports, newest first."""
    return ImportJob.objects.filter(project=project).select_related("created_by")[:limit]


def import_job_get(*, project: Project, job_id: int) -> ImportJob:
    """One import of the project; another project's import is a 404, exactly like a missing one."""
    return row_get_or_404(
        ImportJob.objects.filter(project=project, pk=job_id).select_related("created_by"),
        missing="No such import in this project.",
    )

"""labeling's part of the whole-project archive: documents (with their spans, status, own metadata and
active-learning score), the audit trail, pending suggestions and agreement copies: dumped to the archive's shapes,
and read back (every line checked) and restored into a new project.

portability.archive puts the parts together; the shapes are described there, with the archive's layout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from django.db.models import Prefetch

from labeling.imports import labeled_docs_import
from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, Span, SpanEvent, Suggestion
from ner.formats import FormatError
from ner.formats.common import type_name
from ner.formats.errors import Problems
from ner.formats.jsonl import read_jsonl
from ner.json_input import JsonInputError, load_json
from ner.text import content_hash, decode_bytes
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.archive import (
    BULK_BATCH,
    COLUMN_INT_MAX,
    ArchiveError,
    Lines,
    Restore,
    describe,
    iso_time,
    keep_times,
    listed,
    max_length_of,
    username_of,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from projects.models import Project

_STATUSES: Final = {choice.value for choice in Document.Status}


def _document_meta(
    pk: int, status: str, uncertainty: float | None, uncertainty_model: str, metadata: dict[str, Any]
) -> dict[str, str]:
    meta = {"id": str(pk), "status": status}
    if metadata:
        # The document's own metadata (from the file it was imported from), apart from the archive's bookkeeping.
        meta["metadata"] = json.dumps(metadata, ensure_ascii=False, sort_keys=True)
    if uncertainty is not None:
        # Meta values are strings in nerlab JSONL; repr keeps the float exactly.
        meta.update(uncertainty=repr(uncertainty), uncertainty_model=uncertainty_model)
    return meta


def documents_dump(project: Project) -> list[LabeledDoc]:
    """Each document as stored: own language (blank stays blank), manual split only; id, status, score in meta."""
    type_names = dict(project.entity_types.values_list("pk", "name"))
    spans: dict[int, list[NerSpan]] = {}
    for document_id, start, end, type_id in (
        Span.objects.filter(document__project=project)
        .order_by()
        .values_list("document_id", "start", "end", "entity_type_id")
    ):
        spans.setdefault(document_id, []).append(NerSpan(start, end, type_names[type_id]))
    rows = (
        Document.objects.filter(project=project)
        .order_by("pk")
        .values_list("pk", "name", "text", "language", "split", "status", "uncertainty", "uncertainty_model", "meta")
    )
    return [
        LabeledDoc(
            text=text,
            spans=tuple(sorted(spans.get(pk, []))),
            name=name,
            language=language or None,
            split=split or None,  # type: ignore[arg-type]
            meta=_document_meta(pk, status, uncertainty, uncertainty_model, metadata),
        )
        for pk, name, text, language, split, status, uncertainty, uncertainty_model, metadata in rows.iterator(
            chunk_size=2_000
        )
    ]


def audit_dump(project: Project) -> list[dict[str, Any]]:
    events = SpanEvent.objects.filter(project=project).select_related("user").order_by("created_at", "pk")
    return [
        {
            "document": event.document_id,
            "document_name": event.document_name,
            "span": event.span_id,
            "action": event.action,
            "source": event.source,
            "entity_type": event.entity_type,
            "previous_entity_type": event.previous_entity_type,
            "start": event.start,
            "end": event.end,
            "surface": event.surface,
            "user": username_of(event.user),
            "created_at": iso_time(event.created_at),
        }
        for event in events.iterator(chunk_size=2_000)
    ]


def suggestions_dump(project: Project) -> list[dict[str, Any]]:
    rows = (
        Suggestion.objects.filter(document__project=project, state=Suggestion.State.PENDING)
        .order_by("document_id", "start", "end", "entity_type__name")
        .values_list("document_id", "start", "end", "entity_type__name", "confidence", "model_name", "created_at")
    )
    return [
        {
            "document": document,
            "start": start,
            "end": end,
            "entity_type": entity_type,
            "confidence": confidence,
            "model_name": model_name,
            "created_at": iso_time(created_at),
        }
        for document, start, end, entity_type, confidence, model_name, created_at in rows.iterator(chunk_size=2_000)
    ]


def agreement_dump(project: Project) -> list[dict[str, Any]]:
    assignments = (
        AnnotationAssignment.objects.filter(document__project=project)
        .select_related("annotator", "assigned_by", "adjudicated_by")
        .prefetch_related(Prefetch("spans", queryset=AnnotatorSpan.objects.select_related("entity_type")))
        .order_by("document_id", "pk")
    )
    return [
        {
            "document": assignment.document_id,
            "annotator": assignment.annotator.get_username(),
            "status": assignment.status,
            "assigned_by": username_of(assignment.assigned_by),
            "adjudicated_by": username_of(assignment.adjudicated_by),
            "created_at": iso_time(assignment.created_at),
            "submitted_at": iso_time(assignment.submitted_at),
            "adjudicated_at": iso_time(assignment.adjudicated_at),
            "spans": [
                {"start": span.start, "end": span.end, "label": span.entity_type.name}
                for span in sorted(assignment.spans.all(), key=lambda s: (s.start, s.end, s.entity_type.name))
            ],
        }
        for assignment in assignments
    ]


@dataclass(frozen=True)
class AuditRow:
    document: str | None  # archive document id; None: the document was deleted before the export
    document_name: str
    span: int | None  # the span id the event had: groups the events of one tag
    action: str
    source: str
    entity_type: str
    previous_entity_type: str
    start: int
    end: int
    surface: str
    user: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class SuggestionRow:
    document: str
    start: int
    end: int
    entity_type: str
    confidence: float
    model_name: str
    created_at: datetime | None


@dataclass(frozen=True)
class CopyRow:
    document: str
    annotator: str
    status: str
    assigned_by: str | None
    adjudicated_by: str | None
    created_at: datetime | None
    submitted_at: datetime | None
    adjudicated_at: datetime | None
    spans: tuple[NerSpan, ...]


def uncertainty_read(
    docs: list[LabeledDoc], lines: list[int], name: str
) -> tuple[dict[int, tuple[float, str]], Problems]:
    problems = Problems(name)
    scores: dict[int, tuple[float, str]] = {}
    model_max = max_length_of(Document, "uncertainty_model")
    for index, doc in enumerate(docs):
        raw = doc.meta.get("uncertainty")
        if raw is None or raw in ("", "null"):
            continue
        where = f"line {lines[index]}" if index < len(lines) else f"document {index + 1}"
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:  # NaN fails too
            problems.add(f"must be a number from 0 to 1, not {raw!r}", where=where, field="'meta'.'uncertainty'")
            continue
        model = doc.meta.get("uncertainty_model", "")
        if len(model) > model_max:
            problems.add(f"is longer than {model_max} characters", where=where, field="'meta'.'uncertainty_model'")
            continue
        scores[index] = (value, model)
    return scores, problems


def audit_read(lines: Lines, data: bytes, documents: Mapping[str, LabeledDoc]) -> list[AuditRow]:
    rows = []
    for row in lines.rows(data):
        before = len(lines.problems)
        document = None if row.get("document") is None else lines.document(row, "document", documents)
        start = lines.integer(row, "start", maximum=COLUMN_INT_MAX)
        end = lines.integer(row, "end", maximum=COLUMN_INT_MAX)
        if end < start:
            lines.bad("end", f"end {end} is before start {start}")
        event = AuditRow(
            document=document,
            document_name=lines.string(row, "document_name", max_length=max_length_of(SpanEvent, "document_name")),
            span=lines.optional_integer(row, "span"),
            action=lines.choice(row, "action", SpanEvent.Action.values),
            source=lines.choice(row, "source", SpanEvent.Source.values),
            entity_type=lines.string(row, "entity_type", max_length=max_length_of(SpanEvent, "entity_type")),
            previous_entity_type=lines.string(
                row, "previous_entity_type", max_length=max_length_of(SpanEvent, "previous_entity_type"), required=False
            ),
            start=start,
            end=end,
            surface=lines.string(row, "surface", max_length=max_length_of(SpanEvent, "surface"), required=False),
            user=lines.username(row, "user"),
            created_at=lines.moment(row, "created_at", required=True),
        )
        if len(lines.problems) == before:
            rows.append(event)
    return rows


def suggestions_read(
    lines: Lines, data: bytes, documents: Mapping[str, LabeledDoc], types: set[str]
) -> list[SuggestionRow]:
    rows = []
    seen: dict[tuple[str, int, int, str], str] = {}
    for row in lines.rows(data):
        before = len(lines.problems)
        document = lines.document(row, "document", documents)
        start, end = lines.region(row.get("start"), row.get("end"), documents.get(document))
        suggestion = SuggestionRow(
            document=document,
            start=start,
            end=end,
            entity_type=lines.entity_type(row.get("entity_type"), types, field_name="'entity_type'"),
            confidence=lines.number(row, "confidence", 0.0, 1.0),
            model_name=lines.string(row, "model_name", max_length=max_length_of(Suggestion, "model_name")),
            created_at=lines.moment(row, "created_at"),
        )
        key = (suggestion.document, start, end, suggestion.entity_type)
        if lines.first_of_its_key(before, key, seen, "the suggestion"):
            rows.append(suggestion)
    return rows


def _read_copy_spans(lines: Lines, raw_spans: object, doc: LabeledDoc | None, types: set[str]) -> tuple[NerSpan, ...]:
    if not isinstance(raw_spans, list):
        lines.bad("spans", f"must be a list of spans, not {describe(raw_spans)}")
        return ()
    spans: set[NerSpan] = set()
    for index, raw in enumerate(raw_spans):
        field_name = f"'spans'[{index}]"
        if not isinstance(raw, dict):
            lines.bad_at(field_name, f"a span must be an object with start, end and label, not {type_name(raw)}")
            continue
        before = len(lines.problems)
        label = lines.entity_type(raw.get("label"), types, field_name=f"{field_name}.'label'")
        start, end = lines.region(raw.get("start"), raw.get("end"), doc, field_name=field_name)
        span = NerSpan(start, end, label)
        if len(lines.problems) == before:
            if span in spans:
                lines.bad_at(field_name, f"repeats the span {label} {start}-{end}")
            spans.add(span)
    return tuple(sorted(spans))


def agreement_read(lines: Lines, data: bytes, documents: Mapping[str, LabeledDoc], types: set[str]) -> list[CopyRow]:
    rows = []
    seen: dict[tuple[str, str], str] = {}
    for row in lines.rows(data):
        before = len(lines.problems)
        document = lines.document(row, "document", documents)
        copy = CopyRow(
            document=document,
            annotator=lines.username(row, "annotator", required=True) or "",
            status=lines.choice(row, "status", AnnotationAssignment.Status.values),
            assigned_by=lines.username(row, "assigned_by"),
            adjudicated_by=lines.username(row, "adjudicated_by"),
            created_at=lines.moment(row, "created_at"),
            submitted_at=lines.moment(row, "submitted_at"),
            adjudicated_at=lines.moment(row, "adjudicated_at"),
            spans=_read_copy_spans(lines, row.get("spans", []), documents.get(document), types),
        )
        what = f"{copy.annotator}'s copy of document {copy.document}"
        if lines.first_of_its_key(before, (copy.document, copy.annotator), seen, what):
            rows.append(copy)
    return rows


def documents_restore(
    restore: Restore, docs: list[LabeledDoc], user: AbstractBaseUser, uncertainty: Mapping[int, tuple[float, str]]
) -> None:
    # Statuses are restored after the import, which marks a document with spans "tagged".
    report = labeled_docs_import(
        project=restore.project,
        user=user,
        docs=[LabeledDoc(d.text, d.spans, d.name, d.language, d.split, _own_metadata(d)) for d in docs],
    )
    if not report.written:
        problems = [str(problem) for problem in report.problems[:50]] or [report.summary()]
        raise ArchiveError(["The archive's documents could not be imported:", *problems])
    by_text = dict(Document.objects.filter(project=restore.project).values_list("content_hash", "pk"))
    by_status: dict[str, list[int]] = {}
    scored: list[Document] = []
    for index, doc in enumerate(docs):
        pk = by_text.get(content_hash(doc.text))
        if pk is None:
            continue
        if "id" in doc.meta:
            restore.document_ids[doc.meta["id"]] = pk
        status = doc.meta.get("status", "")
        if status in _STATUSES:
            by_status.setdefault(status, []).append(pk)
        if index in uncertainty:
            score, model_name = uncertainty[index]
            scored.append(Document(pk=pk, uncertainty=score, uncertainty_model=model_name))
    for status, ids in by_status.items():
        fields: dict[str, Any] = {"status": status}
        if status != Document.Status.TAGGED:
            fields.update(tagged_by=None, tagged_at=None)
        Document.objects.filter(pk__in=ids).update(**fields)
    Document.objects.bulk_update(scored, ["uncertainty", "uncertainty_model"], batch_size=BULK_BATCH)


def _own_metadata(doc: LabeledDoc) -> dict[str, str]:
    """The document's own metadata, which the archive keeps as JSON text under ``metadata`` (archives before it
    have none)."""
    text = doc.meta.get("metadata")
    if not text:
        return {}
    try:
        value = load_json(text)
    except JsonInputError as error:
        raise ArchiveError([f"documents.jsonl: {doc.name!r}: meta 'metadata': {error}."]) from None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise ArchiveError([f"documents.jsonl: {doc.name!r}: meta 'metadata' must be a JSON object of texts."])
    return {str(key): item for key, item in value.items()}


def audit_restore(restore: Restore, rows: list[AuditRow], users: Mapping[str, AbstractBaseUser]) -> list[str]:
    """The trail, with each tag's events linked to the imported tag where it still stands; returns notes."""
    live = {
        (document, start, end, label): pk
        for pk, document, start, end, label in Span.objects.filter(document__project=restore.project)
        .order_by()
        .values_list("pk", "document_id", "start", "end", "entity_type__name")
    }
    last: dict[int, AuditRow] = {}
    for row in rows:  # oldest first, so the last one seen is where the tag ended up
        if row.span is not None:
            last[row.span] = row
    span_ids: dict[int, int] = {}
    claimed: set[int] = set()
    for key, row in last.items():
        document = restore.document_ids.get(row.document) if row.document is not None else None
        if document is None or row.action == SpanEvent.Action.DELETED:
            continue
        pk = live.get((document, row.start, row.end, row.entity_type))
        if pk is not None and pk not in claimed:
            span_ids[key] = pk
            claimed.add(pk)
    events = [
        SpanEvent(
            project=restore.project,
            document_id=restore.document_ids.get(row.document) if row.document is not None else None,
            document_name=row.document_name,
            span_id=span_ids.get(row.span) if row.span is not None else None,
            action=row.action,
            source=row.source,
            entity_type=row.entity_type,
            previous_entity_type=row.previous_entity_type,
            start=row.start,
            end=row.end,
            surface=row.surface,
            user=users.get(row.user) if row.user else None,
        )
        for row in rows
    ]
    keep_times(
        SpanEvent, SpanEvent.objects.bulk_create(events, batch_size=BULK_BATCH), [row.created_at for row in rows]
    )
    unknown = {row.user for row in rows if row.user and row.user not in users}
    if not unknown:
        return []
    return [f"The audit trail names users who do not exist here ({listed(unknown)}); their changes keep no user."]


def suggestions_restore(restore: Restore, rows: list[SuggestionRow], types: Mapping[str, Any]) -> None:
    kept = [row for row in rows if row.document in restore.document_ids]
    suggestions = [
        Suggestion(
            document_id=restore.document_ids[row.document],
            entity_type=types[row.entity_type],
            start=row.start,
            end=row.end,
            confidence=row.confidence,
            model_name=row.model_name,
        )
        for row in kept
    ]
    created = Suggestion.objects.bulk_create(suggestions, batch_size=BULK_BATCH)
    keep_times(Suggestion, created, [row.created_at for row in kept])


def agreement_restore(
    restore: Restore, rows: list[CopyRow], types: Mapping[str, Any], users: Mapping[str, AbstractBaseUser]
) -> list[str]:
    """Each annotator's copy with its tags; a copy whose annotator does not exist here is skipped (a note says so).

    Annotators need not be members of the new project: their copies still count for agreement and adjudication,
    and they can work on an open one once they are given a role that may tag.
    """
    kept = [row for row in rows if row.document in restore.document_ids and row.annotator in users]
    assignments = [
        AnnotationAssignment(
            document_id=restore.document_ids[row.document],
            annotator=users[row.annotator],
            status=row.status,
            assigned_by=users.get(row.assigned_by) if row.assigned_by else None,
            submitted_at=row.submitted_at,
            adjudicated_at=row.adjudicated_at,
            adjudicated_by=users.get(row.adjudicated_by) if row.adjudicated_by else None,
        )
        for row in kept
    ]
    created = AnnotationAssignment.objects.bulk_create(assignments, batch_size=BULK_BATCH)
    keep_times(AnnotationAssignment, created, [row.created_at for row in kept])
    AnnotatorSpan.objects.bulk_create(
        [
            AnnotatorSpan(assignment=assignment, entity_type=types[span.label], start=span.start, end=span.end)
            for assignment, row in zip(created, kept, strict=True)
            for span in row.spans
        ],
        batch_size=BULK_BATCH,
    )
    skipped = [row for row in rows if row.annotator not in users]
    if not skipped:
        return []
    return [
        f"{len(skipped):,} agreement {'copy was' if len(skipped) == 1 else 'copies were'} skipped: "
        f"{'its annotator does' if len(skipped) == 1 else 'their annotators do'} not exist here "
        f"({listed(row.annotator for row in skipped)})."
    ]


def documents_read(data: bytes, name: str) -> tuple[list[LabeledDoc], list[int]]:
    """The archive's documents, and the line of documents.jsonl each is on (for problems found in their meta)."""
    if not data.strip():
        return [], []
    try:
        docs = read_jsonl(data, file_name=name)
    except FormatError as error:
        raise ArchiveError([str(problem) for problem in error.problems[:50]]) from None
    # read_jsonl made a document of every non-blank line (or refused the file): the n-th is on the n-th such line.
    lines = [number for number, line in enumerate(decode_bytes(data).split("\n"), start=1) if line.strip()]
    return docs, lines

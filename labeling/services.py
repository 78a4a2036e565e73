"""Writes for documents and spans.

Every span in nerlab is created by ``span_create`` or, with its document, by ``labeling.importing.documents_add``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labeling.audit.services import span_event_record, span_events_record_bulk
from labeling.importing import NAME_MAX, default_language, documents_add, documents_check, project_lock
from labeling.models import Document, Span, SpanEvent
from ner import limits
from ner.names import InvalidName, normalize_language
from ner.spans import SpanError, check_new_span, snap_to_tokens
from ner.text import TextFile, read_uploads
from ner.tokens import token_bounds
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.chunks import chunks
from projects.exceptions import Conflict
from projects.models import EntityType, Membership, Project
from projects.services import entity_type_merge_check

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

_BULK_BATCH = 500


class _Unset:
    """Marks a keyword argument the caller did not pass (None is a real value for assigned_to)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


@dataclass(slots=True)
class UploadResult:
    """What an upload did: the documents it created, the files it skipped as duplicates, and why it failed.

    When ``errors`` is not empty nothing was written and ``created`` is empty.
    """

    created: list[Document] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _stored_hashes(project: Project, hashes: Iterable[str]) -> set[str]:
    unique = sorted(set(hashes))
    stored: set[str] = set()
    for chunk in chunks(unique):
        stored.update(
            Document.objects.filter(project=project, content_hash__in=chunk).values_list("content_hash", flat=True)
        )
    return stored


def _split_new(project: Project, named_hashes: Sequence[tuple[str, str]]) -> tuple[set[int], list[str]]:
    """Which positions in ``named_hashes`` are new, and the names of the duplicates (stored or repeated)."""
    stored = _stored_hashes(project, (digest for _, digest in named_hashes))
    seen: set[str] = set()
    keep: set[int] = set()
    duplicates: list[str] = []
    for index, (name, digest) in enumerate(named_hashes):
        if digest in stored or digest in seen:
            duplicates.append(name)
            continue
        seen.add(digest)
        keep.add(index)
    return keep, duplicates


def _limit_error(project: Project, adding: int) -> str | None:
    existing = Document.objects.filter(project=project).count()
    if existing + adding > limits.DOCUMENTS_MAX:
        return (
            f"This upload adds {adding:,} documents to the {existing:,} already in {project.name}; "
            f"a project may hold at most {limits.DOCUMENTS_MAX:,} documents"
        )
    return None


def _name_error(name: str) -> str | None:
    if len(name) > NAME_MAX:
        return f"{name[:80]}…: the file name is {len(name):,} characters long; the limit is {NAME_MAX}"
    return None


def _clean_for_bulk(document: Document) -> None:
    # Field validation without queries: uniqueness was checked above under the project lock, the foreign keys are
    # rows we hold, and full_clean would otherwise spend four queries per document on uploads of thousands of files.
    document.full_clean(
        exclude=["project", "uploaded_by", "tagged_by", "assigned_to"],
        validate_unique=False,
        validate_constraints=False,
    )


def document_upload(*, project: Project, user: AbstractBaseUser, uploads: list[tuple[str, bytes]]) -> UploadResult:
    """Store the ``.txt`` files (and ``.zip`` archives of them) in ``uploads`` as documents: all or nothing.

    Every problem in every file is reported; if there is any, nothing is written. Files whose text is already
    in the project, or that appear twice in this upload, are skipped and named in ``duplicates``.
    """
    reading = read_uploads(uploads)  # decoding happens outside the transaction: it needs no lock
    errors = list(reading.errors)
    errors.extend(error for file in reading.files if (error := _name_error(file.name)))
    hashed: list[tuple[TextFile, str]] = [(file, file.content_hash) for file in reading.files]
    with transaction.atomic():
        project_lock(project)
        keep, duplicates = _split_new(project, [(file.name, digest) for file, digest in hashed])
        if (limit_error := _limit_error(project, len(keep))) is not None:
            errors.append(limit_error)
        if errors:
            return UploadResult(duplicates=duplicates, errors=errors)
        language = default_language(project)
        documents = [
            Document(
                project=project,
                name=file.name,
                text=file.text,
                content_hash=digest,
                char_count=len(file.text),
                language=language,
                uploaded_by=user,
            )
            for index, (file, digest) in enumerate(hashed)
            if index in keep
        ]
        for document in documents:
            _clean_for_bulk(document)
        created = Document.objects.bulk_create(documents, batch_size=_BULK_BATCH)
    return UploadResult(created=created, duplicates=duplicates)


def documents_create(*, project: Project, user: AbstractBaseUser, docs: Sequence[LabeledDoc]) -> UploadResult:
    """Store labelled documents with their spans (the demo project, tests' fixtures): all or nothing.

    The import's one path (``labeling.importing``) with missing entity types created: the same checks, duplicate
    handling and limits as any import. Each error names its document; those about the documents come first, then
    those about the entity types they would create, then the project's limits.
    """
    checked = documents_check(project=project, docs=docs)
    addition = documents_add(project=project, user=user, checked=checked, create_missing_types=True)
    duplicates = [item.name for item in addition.duplicates]
    if not addition.written:
        problems = [
            (field, f"{item.name}: {message}") for item in addition.candidates for field, message in item.problems
        ]
        errors = [message for field, message in problems if field != "label"]
        errors += [message for field, message in problems if field == "label"]
        return UploadResult(duplicates=duplicates, errors=[*errors, *addition.problems])
    return UploadResult(created=addition.created, duplicates=duplicates)


@transaction.atomic
def document_update(
    *,
    document: Document,
    language: str | _Unset = UNSET,
    split: str | _Unset = UNSET,
    assigned_to: AbstractBaseUser | _Unset | None = UNSET,
) -> Document:
    """Change a document's language, manual split ("" = decided by the project's split rule) or assignee."""
    project = document.project
    fields: list[str] = []
    if not isinstance(language, _Unset):
        language = language.strip()
        if not language:
            if project.multilingual:
                raise ValidationError({"language": "This project is multilingual: every document needs a language."})
            document.language = ""
        else:
            try:
                document.language = normalize_language(language)
            except InvalidName as error:
                raise ValidationError({"language": str(error)}) from None
        fields.append("language")
    if not isinstance(split, _Unset):
        if split not in ("", *Document.Split.values):
            raise ValidationError({"split": f"Split must be train, test or blank (automatic), not {split!r}."})
        document.split = split
        fields.append("split")
    if not isinstance(assigned_to, _Unset):
        if assigned_to is not None and not Membership.objects.filter(project=project, user=assigned_to).exists():
            raise ValidationError({"assigned_to": f"{assigned_to} is not a member of {project.name}."})
        document.assigned_to = assigned_to  # type: ignore[assignment]
        fields.append("assigned_to")
    document.full_clean(validate_unique=False, validate_constraints=False)
    if fields:
        document.save(update_fields=[*fields, "updated_at"])
    return document


@transaction.atomic
def document_delete(*, document: Document) -> None:
    document.delete()  # its spans go with it (CASCADE): deleting a document is a confirmed user action


@transaction.atomic
def documents_delete(*, project: Project, ids: Iterable[int]) -> int:
    """Delete the project's documents among ``ids``; ids of other projects' documents are ignored. Returns count."""
    wanted = sorted({int(pk) for pk in ids})
    deleted = 0
    for chunk in chunks(wanted):
        _, per_model = Document.objects.filter(project=project, pk__in=chunk).delete()
        deleted += per_model.get(Document._meta.label, 0)
    return deleted


def _lock_document(document: Document) -> Document:
    # Taking the document's row lock before reading its spans makes span checks and inserts one critical
    # section per document: two annotators cannot both add overlapping spans. (SQLite: the settings open every
    # transaction with BEGIN IMMEDIATE, which serialises writers the same way.)
    return Document.objects.select_for_update().select_related("project").get(pk=document.pk)


def _existing_spans(document: Document, start: int, end: int, exclude_pk: int | None = None) -> list[NerSpan]:
    # Only spans overlapping [start, end) can conflict with a span there (a duplicate overlaps too), so a save
    # reads a handful of rows, not the document's thousands (the (document, start) index serves the range).
    rows = Span.objects.filter(document=document, start__lt=end, end__gt=start)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return [NerSpan(start, end, label) for start, end, label in rows.values_list("start", "end", "entity_type__name")]


def _check_same_project(document: Document, entity_type: EntityType) -> None:
    if entity_type.project_id != document.project_id:
        raise ValidationError(f"Entity type {entity_type.name} does not belong to project {document.project.name}.")


# How far snapping looks for the word edges around a selection when a text has no whitespace (Chinese, Thai):
# the tokenizer then sees this window rather than the whole 128,000-character document.
_SNAP_WINDOW = 200


def _word_edge(text: str, index: int, step: int) -> int:
    """The nearest whitespace-delimited word edge from ``index`` going ``step`` (-1 or +1), within the window."""
    limit = max(0, index - _SNAP_WINDOW) if step < 0 else min(len(text), index + _SNAP_WINDOW)
    while index != limit and not text[index - 1 if step < 0 else index].isspace():
        index += step
    return index


def span_snap(*, document: Document, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` widened to whole tokens when the project labels tokens; unchanged in character mode.

    The rule itself is ``ner.spans.snap_to_tokens`` over ``ner.tokens.token_bounds`` (spaCy's tokenizer for the
    document's language). Only the words around the selection are tokenized: spaCy's tokenizer works word by
    word, so their bounds are the same as in the whole text, and a save stays fast on a 128k-character document.
    """
    project = document.project
    if project.label_mode != Project.LabelMode.TOKEN:
        return start, end
    text = document.text
    if not (0 <= start < end <= len(text)):
        return start, end  # check_bounds explains what is wrong with it
    low, high = _word_edge(text, start, -1), _word_edge(text, end, +1)
    bounds = [(low + s, low + e) for s, e in token_bounds(text[low:high], document.effective_language)]
    return snap_to_tokens(start, end, bounds)


@transaction.atomic
def span_create(
    *,
    document: Document,
    entity_type: EntityType,
    start: int,
    end: int,
    user: AbstractBaseUser,
    source: str = SpanEvent.Source.TAGGING,
) -> Span:
    """Tag ``[start, end)`` (code points) of a document as ``entity_type``; the one path that creates a span.

    ``source`` says, for the audit trail, which path asked: the tagging page, an accepted suggestion, a
    consistency fix, an adjudication.

    In a project that labels tokens (``label_mode`` "token") the region is first widened to whole tokens, so a
    selection that cuts a word in half is stored as the whole word: the page shows the same snap before saving.
    """
    _check_same_project(document, entity_type)
    locked = _lock_document(document)
    start, end = span_snap(document=locked, start=start, end=end)
    new = NerSpan(start, end, entity_type.name)
    try:
        existing = _existing_spans(locked, start, end)
        check_new_span(locked.text, existing, new, locked.project.overlap_policy)  # type: ignore[arg-type]
    except SpanError as error:
        raise ValidationError(str(error)) from None
    span = Span(document=locked, entity_type=entity_type, start=start, end=end, created_by=user)
    span.full_clean(validate_constraints=False, validate_unique=False)  # both were checked under the lock
    span.save()
    span_event_record(span=span, action=SpanEvent.Action.CREATED, source=source, user=user)
    if locked.status == Document.Status.UNTAGGED:
        Document.objects.filter(pk=locked.pk).update(status=Document.Status.IN_PROGRESS, updated_at=timezone.now())
        document.status = Document.Status.IN_PROGRESS
    return span


def _span_as_stored(document: Document, span: Span) -> Span:
    """``span`` read again under its document's lock: the caller read it before taking the lock, and another
    annotator may have retyped or removed it since. A removed one is refused (409) rather than "saved" again."""
    stored = Span.objects.select_related("entity_type").filter(pk=span.pk, document=document).first()
    if stored is None:
        raise Conflict(
            f"The tag at {span.start}-{span.end} was removed meanwhile (by someone else?); "
            "reload the page to see the document as it is now."
        )
    return stored


@transaction.atomic
def span_delete(*, span: Span, user: AbstractBaseUser | None, source: str = SpanEvent.Source.TAGGING) -> None:
    document = _lock_document(span.document)
    span = _span_as_stored(document, span)
    span_event_record(span=span, action=SpanEvent.Action.DELETED, source=source, user=user)
    span.delete()
    if document.status == Document.Status.IN_PROGRESS and not document.spans.exists():
        # Work that was started and fully undone is untagged again; a "tagged" document stays tagged, because
        # a document with no entities is a valid, deliberate answer.
        Document.objects.filter(pk=document.pk).update(status=Document.Status.UNTAGGED, updated_at=timezone.now())


@transaction.atomic
def span_update_type(
    *,
    span: Span,
    entity_type: EntityType,
    user: AbstractBaseUser | None,
    source: str = SpanEvent.Source.TAGGING,
    expected_entity_type_id: int | None = None,
) -> Span:
    """Change a span's type. ``expected_entity_type_id``: the type the caller last saw; when the stored one differs
    (another annotator changed it meanwhile) the change is refused (409) instead of overwriting theirs."""
    document = _lock_document(span.document)
    _check_same_project(document, entity_type)
    span = _span_as_stored(document, span)
    if expected_entity_type_id is not None and span.entity_type_id != expected_entity_type_id:
        covered = document.text[span.start : span.end]
        raise Conflict(
            f"“{covered}” was changed to {span.entity_type.name} meanwhile (by someone else?); it was not changed "
            f"to {entity_type.name}. Reload the page to see the document as it is now."
        )
    changed = NerSpan(span.start, span.end, entity_type.name)
    try:
        check_new_span(
            document.text,
            _existing_spans(document, span.start, span.end, exclude_pk=span.pk),
            changed,
            document.project.overlap_policy,  # type: ignore[arg-type]
        )
    except SpanError as error:
        raise ValidationError(str(error)) from None
    previous_type = span.entity_type.name
    span.entity_type = entity_type
    span.save(update_fields=["entity_type"])
    if previous_type != entity_type.name:
        span_event_record(
            span=span, action=SpanEvent.Action.RETYPED, source=source, user=user, previous_type=previous_type
        )
    return span


@transaction.atomic
def document_set_status(*, document: Document, status: str, user: AbstractBaseUser) -> Document:
    """Set a document's status; marking it tagged records who and when, any other status clears that."""
    if status not in Document.Status.values:
        raise ValidationError({"status": f"Status must be one of {', '.join(Document.Status.values)}, not {status!r}."})
    update: dict[str, Any] = {"status": status, "updated_at": timezone.now()}
    if status == Document.Status.TAGGED:
        update.update(tagged_by=user, tagged_at=timezone.now())
    else:
        update.update(tagged_by=None, tagged_at=None)
    Document.objects.filter(pk=document.pk).update(**update)
    for name, value in update.items():
        setattr(document, name, value)
    return document


@transaction.atomic
def documents_assign(*, project: Project, ids: Iterable[int], assigned_to: AbstractBaseUser | None) -> int:
    """Assign the project's documents among ``ids`` to a member (None: unassign). Returns how many changed."""
    if assigned_to is not None and not Membership.objects.filter(project=project, user=assigned_to).exists():
        raise ValidationError({"assigned_to": f"{assigned_to} is not a member of {project.name}."})
    wanted = sorted({int(pk) for pk in ids})
    changed = 0
    for chunk in chunks(wanted):
        changed += Document.objects.filter(project=project, pk__in=chunk).update(
            assigned_to=assigned_to, updated_at=timezone.now()
        )
    return changed


# --- Entity type delete and merge: they delete or move spans, so they live with the spans and write the audit trail.


@transaction.atomic
def entity_type_delete(*, entity_type: EntityType, user: AbstractBaseUser | None = None) -> int:
    """Delete a type and every span of it (each one's deletion in the audit trail); returns how many spans went."""
    spans = Span.objects.filter(entity_type=entity_type).select_related("document", "entity_type")
    span_count = span_events_record_bulk(
        spans=spans, action=SpanEvent.Action.DELETED, source=SpanEvent.Source.TYPE_DELETE, user=user
    )
    entity_type.delete()
    return span_count


@transaction.atomic
def entity_type_merge(
    *, source: EntityType, target: EntityType, user: AbstractBaseUser | None = None
) -> tuple[int, int]:
    """Move every span of ``source`` to ``target`` and delete ``source``, each span's change in the audit trail.

    Returns (spans moved, duplicates removed): a source span on exactly the region of a target span in the same
    document would be a duplicate after the merge, so it is removed instead of moved.
    """
    entity_type_merge_check(source=source, target=target)
    spans = Span.objects.filter(entity_type=source).select_related("document", "entity_type")
    duplicate_of_target = Span.objects.filter(
        entity_type=target, document=OuterRef("document"), start=OuterRef("start"), end=OuterRef("end")
    )
    duplicates = spans.filter(Exists(duplicate_of_target))
    moving = spans.exclude(Exists(duplicate_of_target))
    span_events_record_bulk(
        spans=duplicates, action=SpanEvent.Action.DELETED, source=SpanEvent.Source.TYPE_MERGE, user=user
    )
    span_events_record_bulk(
        spans=moving,
        action=SpanEvent.Action.RETYPED,
        source=SpanEvent.Source.TYPE_MERGE,
        user=user,
        new_type=target.name,
    )
    removed, _ = duplicates.delete()
    moved = Span.objects.filter(entity_type=source).update(entity_type=target)
    source.delete()
    return moved, removed

"""The one path that adds labelled documents to a project, whatever brought them.

A file import, a whole-project archive, the Azure authoring API (``labeling.imports.labeled_docs_import``) and the
demo data and test fixtures (``labeling.services.documents_create``) all go through ``documents_add``:

1. ``documents_check``: every document completely — text, name, language, split, metadata, every span — outside
   any lock, because it is most of the work;
2. under the project's lock, duplicates are set aside: texts already in the project or repeated in the batch;
3. the labels the project lacks are found (a problem unless the caller creates them);
4. the project's limits on documents and entity types are checked;
5. when nothing is wrong, the missing types are created and the documents and spans bulk-created.

Each caller words the outcome for its own audience: an ``ImportReport`` for imports, an ``UploadResult`` for
``documents_create``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from django.db import transaction
from django.utils import timezone

from labeling.models import Document, Span
from ner import limits
from ner.names import InvalidName, check_entity_type_name, normalize_language, primary_language
from ner.spans import span_verdicts
from ner.text import UploadError, check_meta, check_text, content_hash
from ner.tokens import token_bounds
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.chunks import chunks
from projects.models import EntityType, Project
from projects.services import entity_type_create

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

NAME_MAX: Final = Document._meta.get_field("name").max_length or 500
# SQLite allows 32,766 variables per statement and PostgreSQL 65,535; stay far below both.
_BULK_BATCH: Final = 1_000
_PROGRESS_STEPS: Final = 20

Progress = Callable[[int], None]


def project_lock(project: Project) -> None:
    """Take the lock that serialises every write adding documents to ``project``.

    Without it a second upload could race the document-limit count and the duplicate check (the unique
    constraint would then fail mid-write).
    """
    Project.objects.select_for_update().only("pk").get(pk=project.pk)


def default_language(project: Project) -> str:
    # Blank means "the project's language"; a multilingual project needs every document's language spelled out.
    return project.language if project.multilingual else ""


def document_language(project: Project, doc: LabeledDoc) -> tuple[str, str | None]:
    """The language to store for an added document, or why it cannot be added."""
    if not doc.language:
        return default_language(project), None
    try:
        language = normalize_language(doc.language)
    except InvalidName as error:
        return "", str(error)
    if not project.multilingual:
        # One language per project: a document in the project's language stores blank (= the project's); a
        # regional variant of it (en-US in an "en" project, as Azure files write it) keeps its code, which has the
        # same tokenizer, so an export gives back what was imported.
        if language == project.language:
            return "", None
        if primary_language(language) == primary_language(project.language):
            return language, None
        return "", (
            f"language {language} differs from the project's ({project.language}); "
            "make the project multilingual to import documents in several languages"
        )
    return language, None


# --- step 1: check every document -------------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckedDoc:
    """One document of a batch and what is wrong with it: ``problems`` are (field, message) pairs."""

    index: int
    doc: LabeledDoc
    where: str
    name: str
    digest: str = ""
    language: str = ""
    problems: list[tuple[str, str]] = field(default_factory=list)
    readable: bool = True  # the text itself is acceptable (an unreadable one cannot even be a duplicate)


def _token_edges(text: str, language: str) -> tuple[set[int], set[int]]:
    bounds = token_bounds(text, language)
    return {start for start, _ in bounds}, {end for _, end in bounds}


def _check_spans(checked: CheckedDoc, project: Project, effective_language: str) -> None:
    """The span rules (``ner.spans``: bounds, length, whitespace, overlap under the project's policy) and, when
    the project labels tokens, token boundaries."""
    doc = checked.doc
    edges: tuple[set[int], set[int]] | None = None
    verdicts = span_verdicts(doc.text, doc.spans, project.overlap_policy)  # type: ignore[arg-type]
    for number, (span, problem) in enumerate(verdicts, start=1):
        where_field = f"span {number} ({span.label} {span.start}-{span.end})"
        if problem is not None:
            checked.problems.append((where_field, problem))
            continue
        if project.label_mode != Project.LabelMode.TOKEN:
            continue
        if edges is None:
            edges = _token_edges(doc.text, effective_language)
        starts, ends = edges
        for side, offset, known in (("start", span.start, starts), ("end", span.end, ends)):
            if offset not in known:
                checked.problems.append(
                    (
                        where_field,
                        f"{span.label} {span.text_in(doc.text)!r} does not {side} on a token boundary; this "
                        "project labels whole tokens (fix the offsets, or switch the project to "
                        "character-precise selections)",
                    )
                )
                break


def _check_doc(index: int, doc: LabeledDoc, project: Project) -> CheckedDoc:
    where = f"document {index + 1}" + (f" ({doc.name!r})" if doc.name else "")
    checked = CheckedDoc(index=index, doc=doc, where=where, name=doc.name or f"document {index + 1}")
    try:
        check_text(doc.text, "")
    except UploadError as error:
        checked.problems.append(("text", str(error).removeprefix(": ")))
        checked.readable = False
        return checked
    checked.digest = content_hash(doc.text)
    if len(checked.name) > NAME_MAX:
        checked.problems.append(("name", f"the name is {len(checked.name):,} characters long; the limit is {NAME_MAX}"))
    language, error = document_language(project, doc)
    checked.language = language
    if error is not None:
        checked.problems.append(("language", error))
    if doc.split not in (None, "", *Document.Split.values):
        checked.problems.append(("split", f"split {doc.split!r} is not one of train, test"))
    if (meta_error := check_meta(doc.meta)) is not None:
        checked.problems.append(("meta", meta_error))
    _check_spans(checked, project, language or project.language)
    return checked


def documents_check(
    *, project: Project, docs: Sequence[LabeledDoc], progress: Progress | None = None
) -> list[CheckedDoc]:
    """Check every document completely (no lock is needed): every problem, with its document and field.

    ``progress`` hears 5 to 80 %: checking is most of an import's work.
    """
    step = max(1, len(docs) // _PROGRESS_STEPS)
    checked: list[CheckedDoc] = []
    for index, doc in enumerate(docs):
        checked.append(_check_doc(index, doc, project))
        if progress is not None and index % step == 0:
            progress(5 + 75 * index // max(1, len(docs)))
    return checked


# --- step 2: set duplicates aside -------------------------------------------------------------------------------------


def _stored_documents(project: Project, digests: Iterable[str]) -> dict[str, tuple[int, str]]:
    """content hash -> (document id, name) for the texts among ``digests`` already in the project."""
    unique = sorted(set(digests))
    stored: dict[str, tuple[int, str]] = {}
    for chunk in chunks(unique):
        rows = Document.objects.filter(project=project, content_hash__in=chunk)
        stored.update((digest, (pk, name)) for digest, pk, name in rows.values_list("content_hash", "pk", "name"))
    return stored


def _stored_spans(document_ids: Sequence[int]) -> dict[int, set[NerSpan]]:
    spans: dict[int, set[NerSpan]] = {pk: set() for pk in document_ids}
    for chunk in chunks(document_ids):
        rows = Span.objects.filter(document_id__in=chunk).values_list(
            "document_id", "start", "end", "entity_type__name"
        )
        for document_id, span_start, span_end, label in rows:
            spans[document_id].add(NerSpan(span_start, span_end, label))
    return spans


def _describe_difference(incoming: set[NerSpan], stored: set[NerSpan]) -> str:
    added, missing = len(incoming - stored), len(stored - incoming)
    return (
        f"{added} span{'s' if added != 1 else ''} not stored, "
        f"{missing} stored span{'s' if missing != 1 else ''} not in the file"
    )


@dataclass(slots=True)
class Addition:
    """What ``documents_add`` found and did with a batch.

    ``candidates`` are the documents that are not duplicates (in batch order, those with problems included);
    ``differing`` names the duplicates whose spans differ from the kept ones, and how (nothing is merged);
    ``problems`` are about the whole batch (the project's limits). Nothing is written while any document or the
    batch has a problem: then ``created`` is empty and ``written`` false.
    """

    candidates: list[CheckedDoc] = field(default_factory=list)
    duplicates: list[CheckedDoc] = field(default_factory=list)
    differing: list[tuple[CheckedDoc, str]] = field(default_factory=list)
    missing_types: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    created_types: list[str] = field(default_factory=list)
    created: list[Document] = field(default_factory=list)
    written: bool = False

    @property
    def accepted(self) -> list[CheckedDoc]:
        return [item for item in self.candidates if not item.problems]


def _set_duplicates_aside(project: Project, checked: Sequence[CheckedDoc], addition: Addition) -> None:
    stored = _stored_documents(project, (item.digest for item in checked if item.readable))
    stored_spans = _stored_spans(sorted({stored[item.digest][0] for item in checked if item.digest in stored}))
    seen: dict[str, CheckedDoc] = {}
    for item in checked:
        if item.readable and (item.digest in stored or item.digest in seen):
            addition.duplicates.append(item)
            incoming = set(item.doc.spans)
            if item.digest in stored:
                pk, name = stored[item.digest]
                if incoming != stored_spans[pk]:
                    addition.differing.append(
                        (
                            item,
                            f"already in the project as {name!r} with different spans "
                            f"({_describe_difference(incoming, stored_spans[pk])}); the stored document was left "
                            "unchanged",
                        )
                    )
            else:
                first = seen[item.digest]
                if incoming != set(first.doc.spans):
                    addition.differing.append(
                        (item, f"repeats the text of {first.where} with different spans; only the first was kept")
                    )
            continue
        if item.readable:
            seen[item.digest] = item
        addition.candidates.append(item)


# --- step 3: the entity types the batch needs -------------------------------------------------------------------------


def _find_missing_types(candidates: Sequence[CheckedDoc], types: dict[str, EntityType], create: bool) -> list[str]:
    """The labels the project lacks, sorted; a problem of the document that first uses one when it cannot be
    created (an invalid name) or when the caller does not create missing types."""
    # Only the documents that will be stored bring new entity types; a skipped duplicate adds nothing.
    first_use: dict[str, CheckedDoc] = {}
    for item in candidates:
        for span in item.doc.spans:
            first_use.setdefault(span.label, item)
    missing = sorted(set(first_use) - set(types))
    for label in missing:
        try:
            check_entity_type_name(label)
        except InvalidName as error:
            first_use[label].problems.append(("label", f"{label!r} cannot be an entity type: {error}"))
    if not create and missing:
        missing_set = set(missing)
        for item in candidates:
            unknown = sorted({span.label for span in item.doc.spans} & missing_set)
            if unknown:
                item.problems.append(
                    (
                        "label",
                        f"unknown entity type{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                        "tick “create missing entity types” (API: create_missing_types=true) to create "
                        f"{'them' if len(unknown) > 1 else 'it'}",
                    )
                )
    return missing


# --- step 4: the project's limits -------------------------------------------------------------------------------------


def _limit_problems(project: Project, addition: Addition, types: dict[str, EntityType], create: bool) -> list[str]:
    problems: list[str] = []
    missing = addition.missing_types
    if create and len(types) + len(missing) > limits.ENTITY_TYPES_MAX:
        problems.append(
            f"the file uses {len(missing)} entity types the project lacks besides its {len(types)}; "
            f"a project may have at most {limits.ENTITY_TYPES_MAX}"
        )
    adding = len(addition.accepted)
    existing = Document.objects.filter(project=project).count()
    if existing + adding > limits.DOCUMENTS_MAX:
        problems.append(
            f"the file adds {adding:,} documents to the {existing:,} already in {project.name}; "
            f"a project may hold at most {limits.DOCUMENTS_MAX:,}"
        )
    return problems


# --- step 5: write ----------------------------------------------------------------------------------------------------


def _write(
    *, project: Project, user: AbstractBaseUser | None, items: Sequence[CheckedDoc], types: dict[str, EntityType]
) -> list[Document]:
    # No full_clean per row: every rule a Document or Span field has was checked above for the whole batch
    # (text, name length, language, split, span bounds); per-row validation would double a 10,000-document import.
    now = timezone.now()
    documents: list[Document] = []
    for item in items:
        tagged = bool(item.doc.spans)
        documents.append(
            Document(
                project=project,
                name=item.name,
                text=item.doc.text,
                content_hash=item.digest,
                char_count=len(item.doc.text),
                language=item.language,
                split=item.doc.split or "",
                status=Document.Status.TAGGED if tagged else Document.Status.UNTAGGED,
                tagged_by=user if tagged else None,
                tagged_at=now if tagged else None,
                uploaded_by=user,
                meta=dict(item.doc.meta),
            )
        )
    created = Document.objects.bulk_create(documents, batch_size=_BULK_BATCH)
    # bulk_create sets primary keys on PostgreSQL and on SQLite >= 3.35 (RETURNING), which Django 6 requires.
    spans = [
        Span(document=document, entity_type=types[span.label], start=span.start, end=span.end, created_by=user)
        for document, item in zip(created, items, strict=True)
        for span in item.doc.sorted_spans()
    ]
    Span.objects.bulk_create(spans, batch_size=_BULK_BATCH * 2)
    return created


def documents_add(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    checked: Sequence[CheckedDoc],
    create_missing_types: bool,
    blocked: bool = False,
    progress: Progress | None = None,
) -> Addition:
    """Store the checked documents that are not duplicates, with their spans: all of them, or nothing.

    Labels the project lacks are problems unless ``create_missing_types``. ``blocked``: the caller already knows
    of a problem (records of its file that could not be read), so nothing is written whatever this finds.
    ``progress`` hears 85 % before the write.
    """
    addition = Addition()
    with transaction.atomic():
        project_lock(project)
        _set_duplicates_aside(project, checked, addition)
        types = {entity_type.name: entity_type for entity_type in project.entity_types.all()}
        addition.missing_types = _find_missing_types(addition.candidates, types, create_missing_types)
        addition.problems = _limit_problems(project, addition, types, create_missing_types)
        if blocked or addition.problems or len(addition.accepted) != len(addition.candidates):
            return addition  # nothing was written: the transaction holds no changes
        if progress is not None:
            progress(85)
        if create_missing_types:
            for label in addition.missing_types:
                types[label] = entity_type_create(project=project, name=label)
            addition.created_types = addition.missing_types
        addition.created = _write(project=project, user=user, items=addition.candidates, types=types)
        addition.written = True
    return addition

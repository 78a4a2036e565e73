"""Inter-annotator agreement: assignments of one document to several annotators, each with their own tags
(``AnnotatorSpan``), the agreement between them, and the adjudication that merges them into the gold tags.

An annotator's own tags follow the gold tags' rules exactly (``ner.spans``: bounds, snapping to tokens, the
overlap policy), checked against their own copy only. Nothing outside this package reads ``AnnotatorSpan``:
training, exports, statistics and the consistency checker see gold ``Span`` rows alone, so private tags reach
them only through :func:`adjudicate`, which writes gold tags with ``span_create``/``span_delete`` (audit source
"adjudication").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.agreement.selectors import adjudication_get
from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, SpanEvent
from labeling.selectors import document_span_list
from labeling.services import document_set_status, span_create, span_delete, span_snap
from ner.spans import SpanError, check_new_span, span_problems
from ner.types import Span as NerSpan
from projects.models import EntityType, Membership, Project
from projects.roles import Permission, role_allows

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


Status = AnnotationAssignment.Status


def _lock_layer(assignment: AnnotationAssignment, user: AbstractBaseUser) -> AnnotationAssignment:
    """The assignment, row-locked, after checking that ``user`` may change it.

    The lock makes a layer's span check and insert one critical section, as the document lock does for gold tags.
    """
    locked = (
        AnnotationAssignment.objects.select_for_update()
        .select_related("document__project", "annotator")
        .get(pk=assignment.pk)
    )
    if locked.annotator_id != user.pk:
        # Copies are blind: the agreement measures annotators who did not see (or touch) each other's work.
        raise PermissionDenied(f"This is {locked.annotator}'s own copy of the document; only they can change it.")
    if locked.status == Status.ADJUDICATED:
        raise ValidationError(
            "This copy was adjudicated and merged into the tags; reload the page to tag the document itself."
        )
    return locked


def _layer_spans(
    assignment: AnnotationAssignment, start: int, end: int, exclude_pk: int | None = None
) -> list[NerSpan]:
    # Only spans overlapping [start, end) can conflict with a new one there (a duplicate overlaps too).
    rows = AnnotatorSpan.objects.filter(assignment=assignment, start__lt=end, end__gt=start)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return [NerSpan(s, e, label) for s, e, label in rows.values_list("start", "end", "entity_type__name")]


def _check_in_layer(assignment: AnnotationAssignment, new: NerSpan, exclude_pk: int | None = None) -> None:
    document = assignment.document
    try:
        check_new_span(
            document.text,
            _layer_spans(assignment, new.start, new.end, exclude_pk),
            new,
            document.project.overlap_policy,  # type: ignore[arg-type]
        )
    except SpanError as error:
        raise ValidationError(str(error)) from None


def _check_type(assignment: AnnotationAssignment, entity_type: EntityType) -> None:
    if entity_type.project_id != assignment.document.project_id:
        raise ValidationError(f"Entity type {entity_type.name} does not belong to this project.")


@transaction.atomic
def annotator_span_create(
    *, assignment: AnnotationAssignment, entity_type: EntityType, start: int, end: int, user: AbstractBaseUser
) -> AnnotatorSpan:
    """Tag ``[start, end)`` in the annotator's own copy, under the same rules as a gold tag (``span_create``)."""
    locked = _lock_layer(assignment, user)
    _check_type(locked, entity_type)
    start, end = span_snap(document=locked.document, start=start, end=end)
    _check_in_layer(locked, NerSpan(start, end, entity_type.name))
    span = AnnotatorSpan(assignment=locked, entity_type=entity_type, start=start, end=end)
    span.full_clean(validate_constraints=False, validate_unique=False)  # both were checked under the lock
    span.save()
    return span


@transaction.atomic
def annotator_span_delete(*, span: AnnotatorSpan, user: AbstractBaseUser) -> None:
    _lock_layer(span.assignment, user)
    span.delete()


@transaction.atomic
def annotator_span_update_type(
    *, span: AnnotatorSpan, entity_type: EntityType, user: AbstractBaseUser
) -> AnnotatorSpan:
    locked = _lock_layer(span.assignment, user)
    _check_type(locked, entity_type)
    _check_in_layer(locked, NerSpan(span.start, span.end, entity_type.name), exclude_pk=span.pk)
    span.entity_type = entity_type
    span.save(update_fields=["entity_type"])
    return span


@transaction.atomic
def assignment_submit(*, assignment: AnnotationAssignment, user: AbstractBaseUser) -> AnnotationAssignment:
    """The annotator says their copy is done; it then counts for agreement. Submitting twice changes nothing.

    A submitted copy stays editable until it is adjudicated, so a slip noticed later can still be fixed.
    """
    locked = _lock_layer(assignment, user)
    if locked.status == Status.OPEN:
        locked.status = Status.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["status", "submitted_at"])
    return locked


@dataclass(slots=True)
class AssignResult:
    created: list[AnnotationAssignment] = field(default_factory=list)
    already: int = 0  # assignments that existed (the call is idempotent)


def _check_annotators(project: Project, annotators: Sequence[AbstractBaseUser]) -> list[AbstractBaseUser]:
    unique = list({user.pk: user for user in annotators}.values())
    if len(unique) < 2:
        raise ValidationError({"annotators": "Choose at least two annotators: agreement compares two or more."})
    roles = dict(Membership.objects.filter(project=project, user__in=unique).values_list("user_id", "role"))
    refused = [str(u) for u in unique if u.pk not in roles or not role_allows(roles[u.pk], Permission.ANNOTATE)]
    if refused:
        raise ValidationError(
            {"annotators": f"Not members of {project.name} allowed to tag: {', '.join(sorted(refused))}."}
        )
    return unique


@transaction.atomic
def assignments_create(
    *,
    project: Project,
    document_ids: Iterable[int],
    annotators: Sequence[AbstractBaseUser],
    user: AbstractBaseUser,
    reopen: bool = False,
) -> AssignResult:
    """Give each of ``annotators`` their own copy of each document; existing assignments are kept (idempotent).

    A document already adjudicated is refused unless ``reopen``: then its adjudicated assignments are removed
    (their outcome is in the gold tags and their audit trail) and a fresh round starts.
    """
    annotators = _check_annotators(project, annotators)
    wanted = sorted({int(pk) for pk in document_ids})
    if not wanted:
        raise ValidationError({"documents": "Choose at least one document."})
    documents = list(Document.objects.select_for_update().filter(project=project, pk__in=wanted).defer("text"))
    missing = sorted(set(wanted) - {document.pk for document in documents})
    if missing:
        raise ValidationError({"documents": f"No documents with ids {', '.join(map(str, missing))} in {project.name}."})
    adjudicated = AnnotationAssignment.objects.filter(document__in=documents, status=Status.ADJUDICATED)
    if adjudicated.exists():
        if not reopen:
            names = sorted({a.document.name for a in adjudicated.select_related("document").only("document__name")})
            raise ValidationError(
                {"documents": f"Already adjudicated: {', '.join(names)}. Tick “reopen” to start a new round on them."}
            )
        adjudicated.delete()
    existing = set(
        AnnotationAssignment.objects.filter(document__in=documents).values_list("document_id", "annotator_id")
    )
    result = AssignResult()
    for document in documents:
        for annotator in annotators:
            if (document.pk, annotator.pk) in existing:
                result.already += 1
                continue
            assignment = AnnotationAssignment(document=document, annotator=annotator, assigned_by=user)
            assignment.full_clean(validate_constraints=False, validate_unique=False)  # checked under the lock
            assignment.save()
            result.created.append(assignment)
    return result


def assignment_delete(*, assignment: AnnotationAssignment) -> None:
    """Withdraw an assignment with the annotator's copy (a confirmed owner action)."""
    assignment.delete()


@dataclass(slots=True)
class AdjudicationResult:
    created: int = 0
    deleted: int = 0
    kept: int = 0


def adjudicate(*, document: Document, decisions: Mapping[str, bool], user: AbstractBaseUser) -> AdjudicationResult:
    """Merge the submitted copies into the gold tags: ``decisions`` maps every candidate's key to accept or not.

    Accepted spans become the document's gold tags (created with ``span_create``, audit source "adjudication"),
    gold tags rejected are removed with ``span_delete``; the round's assignments are then adjudicated and the
    document tagged. All or nothing. A decision for every current candidate is required, so tags changed since
    the page was opened are never merged (or dropped) unseen.
    """
    with transaction.atomic():
        locked = Document.objects.select_for_update().select_related("project").get(pk=document.pk)
        adjudication = adjudication_get(document=locked)
        if not adjudication.ready:
            raise ValidationError("No annotator has submitted their copy of this document yet: nothing to merge.")
        candidates = {candidate.key: candidate for candidate in adjudication.candidates}
        if set(decisions) != set(candidates):
            raise ValidationError(
                "The annotators' tags changed since this page was opened; reload it and decide again."
            )
        accepted = [candidates[key] for key, accept in decisions.items() if accept]
        problems = span_problems(locked.text, [c.span for c in accepted], locked.project.overlap_policy)  # type: ignore[arg-type]
        if problems:
            raise ValidationError([f"Cannot accept these together: {problem}." for problem in problems])
        result = AdjudicationResult()
        wanted = {candidate.span for candidate in accepted}
        # Removals first, so an accepted span may replace a gold tag it overlaps.
        for span in document_span_list(document=locked):
            if NerSpan(span.start, span.end, span.entity_type.name) in wanted:
                result.kept += 1
            else:
                span_delete(span=span, user=user, source=SpanEvent.Source.ADJUDICATION)
                result.deleted += 1
        for candidate in sorted(accepted, key=lambda c: (c.start, c.end, c.entity_type.name)):
            if candidate.in_gold:
                continue
            span_create(
                document=locked,
                entity_type=candidate.entity_type,
                start=candidate.start,
                end=candidate.end,
                user=user,
                source=SpanEvent.Source.ADJUDICATION,
            )
            result.created += 1
        now = timezone.now()
        AnnotationAssignment.objects.filter(document=locked).exclude(status=Status.ADJUDICATED).update(
            status=Status.ADJUDICATED, adjudicated_at=now, adjudicated_by=user
        )
        document_set_status(document=locked, status=Document.Status.TAGGED, user=user)
    document.status = locked.status
    return result

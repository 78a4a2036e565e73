"""Inter-annotator agreement: assignments of one document to several annotators, each with their own tags
(``AnnotatorSpan``), the agreement between them, and the adjudication that merges them into the gold tags.

An annotator's own tags follow the gold tags' rules exactly (``ner.spans``: bounds, snapping to tokens, the
overlap policy), checked against their own copy only. Nothing outside this module reads ``AnnotatorSpan``:
training, exports, statistics and the consistency checker see gold ``Span`` rows alone, so private tags reach
them only through :func:`adjudicate`, which writes gold tags with ``span_create``/``span_delete`` (audit source
"adjudication").
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, SpanEvent
from labeling.selectors import document_span_list, document_token_bounds
from labeling.services import document_set_status, span_create, span_delete, span_snap
from ner.agreement import (
    AgreementReport,
    AnnotatedDoc,
    DocumentAgreement,
    SpanVote,
    agreement_report,
    conflict_groups,
    span_votes,
)
from ner.spans import SpanError, check_new_span, span_problems
from ner.types import Span as NerSpan
from projects.models import EntityType, Membership, Project
from projects.roles import Permission, role_allows

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet

Status = AnnotationAssignment.Status
# Copies that count for agreement: finished by their annotator (an adjudicated copy was submitted first).
_COMPARED = (Status.SUBMITTED, Status.ADJUDICATED)
RANDOM_PICK_MAX = 500


# --- the annotator's own layer ------------------------------------------------------------------------------------


def annotation_layer_for(*, document: Document, user: AbstractBaseUser) -> AnnotationAssignment | None:
    """The assignment whose private tags ``user`` edits on this document's tagging page, or None (gold tags).

    Once a document's assignments are adjudicated everyone works on the gold tags again.
    """
    if not user.is_authenticated:
        return None
    return (
        AnnotationAssignment.objects.filter(document=document, annotator=user)
        .exclude(status=AnnotationAssignment.Status.ADJUDICATED)
        .first()
    )


def annotator_span_list(*, assignment: AnnotationAssignment) -> QuerySet[AnnotatorSpan]:
    return assignment.spans.select_related("entity_type").order_by("start", "end", "entity_type__name")


def assignment_get(*, document: Document, assignment_id: int) -> AnnotationAssignment:
    """One assignment of the document; another document's (or project's) assignment is a 404 like a missing one."""
    assignment = (
        AnnotationAssignment.objects.select_related("document__project", "annotator")
        .filter(document=document, pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise Http404("No such assignment on this document.")
    return assignment


def annotator_span_get(*, assignment: AnnotationAssignment, annotator_span_id: int) -> AnnotatorSpan:
    span = assignment.spans.select_related("entity_type").filter(pk=annotator_span_id).first()
    if span is None:
        raise Http404("No such tag in this copy.")
    return span


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


# --- assigning ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class AssignResult:
    created: list[AnnotationAssignment] = field(default_factory=list)
    already: int = 0  # assignments that existed (the call is idempotent)


def assignable_members(*, project: Project) -> list[AbstractBaseUser]:
    """Members whose role may tag, by username: the people documents can be assigned to for agreement."""
    memberships = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    return [m.user for m in memberships if role_allows(m.role, Permission.ANNOTATE)]


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


def untagged_unassigned_documents(*, project: Project) -> QuerySet[Document]:
    """Untagged documents nobody has an agreement copy of: the natural candidates for a new round."""
    taken = AnnotationAssignment.objects.filter(document=OuterRef("pk"))
    return (
        Document.objects.filter(project=project, status=Document.Status.UNTAGGED)
        .exclude(Exists(taken))
        .defer("text")
        .order_by("id")
    )


def documents_pick_random(*, project: Project, count: int, seed: int | None = None) -> list[int]:
    """The ids of up to ``count`` random untagged documents not yet assigned for agreement."""
    if count < 1 or count > RANDOM_PICK_MAX:
        raise ValidationError({"random_count": f"Pick between 1 and {RANDOM_PICK_MAX} documents."})
    ids = list(untagged_unassigned_documents(project=project).values_list("pk", flat=True))
    return sorted(random.Random(seed).sample(ids, min(count, len(ids))))


@dataclass(frozen=True, slots=True)
class AssignedDocument:
    """A document in an agreement round, with each annotator's assignment."""

    document: Document
    assignments: tuple[AnnotationAssignment, ...]

    @property
    def submitted(self) -> int:
        return sum(a.status in _COMPARED for a in self.assignments)

    @property
    def adjudicated(self) -> bool:
        return any(a.status == Status.ADJUDICATED for a in self.assignments)


def assignment_overview(*, project: Project) -> list[AssignedDocument]:
    """Every document with agreement assignments, oldest first, each with its annotators' statuses."""
    grouped: dict[int, list[AnnotationAssignment]] = defaultdict(list)
    documents: dict[int, Document] = {}
    rows = (
        AnnotationAssignment.objects.filter(document__project=project)
        .select_related("annotator", "document")
        .defer("document__text")
        .order_by("document_id", "annotator__username")
    )
    for assignment in rows:
        grouped[assignment.document_id].append(assignment)
        documents[assignment.document_id] = assignment.document
    return [AssignedDocument(documents[pk], tuple(items)) for pk, items in grouped.items()]


# --- the agreement report -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectAgreement:
    """The agreement report with the documents it names (``report`` names documents by primary key)."""

    report: AgreementReport
    documents: Mapping[int, Document]
    adjudicated: frozenset[int]

    def worst_documents(self) -> list[tuple[Document, DocumentAgreement]]:
        return [(self.documents[int(item.name)], item) for item in self.report.documents]

    def matrix(self) -> list[tuple[str, list[float | None]]]:
        """Rows of pairwise F1, one per annotator; the diagonal and pairs without shared documents are None."""
        names = self.report.annotators
        rows: list[tuple[str, list[float | None]]] = []
        for a in names:
            cells: list[float | None] = []
            for b in names:
                pair = None if a == b else self.report.pair(a, b)
                cells.append(None if pair is None else pair.f1)
            rows.append((a, cells))
        return rows


def _layers(assignments: Iterable[AnnotationAssignment]) -> dict[str, tuple[NerSpan, ...]]:
    return {
        str(a.annotator): tuple(NerSpan(s.start, s.end, s.entity_type.name) for s in a.spans.all()) for a in assignments
    }


def project_agreement(*, project: Project, with_kappa: bool = True) -> ProjectAgreement:
    """Agreement over the project's documents with at least two finished (submitted or adjudicated) copies."""
    compared = Q(annotation_assignments__status__in=_COMPARED)
    documents = list(
        Document.objects.filter(project=project)
        .annotate(finished=Count("annotation_assignments", filter=compared))
        .filter(finished__gte=2)
        .order_by("id")
    )
    assignments = (
        AnnotationAssignment.objects.filter(document__in=documents, status__in=_COMPARED)
        .select_related("annotator")
        .prefetch_related("spans__entity_type")
    )
    by_document: dict[int, list[AnnotationAssignment]] = defaultdict(list)
    for assignment in assignments:
        by_document[assignment.document_id].append(assignment)
    docs = [
        AnnotatedDoc(
            name=str(document.pk),
            layers=_layers(by_document[document.pk]),
            tokens=document_token_bounds(document=document) if with_kappa else None,
        )
        for document in documents
    ]
    adjudicated = frozenset(
        pk for pk, items in by_document.items() if any(a.status == Status.ADJUDICATED for a in items)
    )
    return ProjectAgreement(
        report=agreement_report(docs), documents={d.pk: d for d in documents}, adjudicated=adjudicated
    )


# --- adjudication -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A span some annotator tagged (or a gold tag already there), for the adjudicator to accept or reject."""

    start: int
    end: int
    entity_type: EntityType
    text: str
    annotators: tuple[str, ...]
    in_gold: bool
    agreed: bool  # every submitted copy has it: pre-selected

    @property
    def key(self) -> str:
        return f"{self.start}-{self.end}-{self.entity_type.pk}"

    @property
    def span(self) -> NerSpan:
        return NerSpan(self.start, self.end, self.entity_type.name)


@dataclass(frozen=True, slots=True)
class Adjudication:
    """What the adjudication page shows: each submitted copy, and the candidate spans grouped by overlap."""

    document: Document
    submitted: tuple[AnnotationAssignment, ...]
    unfinished: tuple[AnnotationAssignment, ...]
    layers: Mapping[str, tuple[NerSpan, ...]]
    groups: tuple[tuple[Candidate, ...], ...]

    @property
    def candidates(self) -> list[Candidate]:
        return [candidate for group in self.groups for candidate in group]

    @property
    def ready(self) -> bool:
        return bool(self.submitted)

    @property
    def previously_adjudicated(self) -> bool:
        """No round is open, but one was merged before: the page says so instead of "nothing submitted"."""
        return not self.submitted and not self.unfinished and self.document.annotation_assignments.exists()


def _candidates(
    document: Document,
    layers: Mapping[str, Sequence[NerSpan]],
    gold: Sequence[NerSpan],
    types: Mapping[str, EntityType],
) -> tuple[tuple[Candidate, ...], ...]:
    everyone = list(layers)
    gold_set = set(gold)
    votes = span_votes(layers)
    voted = {vote.span for vote in votes}
    # Gold tags no annotator made are candidates too: the adjudicator decides the document's final tags.
    votes += [SpanVote(span, frozenset()) for span in gold if span not in voted]
    groups: list[tuple[Candidate, ...]] = []
    for group in conflict_groups(votes):
        groups.append(
            tuple(
                Candidate(
                    start=vote.span.start,
                    end=vote.span.end,
                    entity_type=types[vote.span.label],
                    text=document.text[vote.span.start : vote.span.end],
                    annotators=tuple(sorted(vote.annotators)),
                    in_gold=vote.span in gold_set,
                    agreed=bool(everyone) and vote.unanimous(everyone),
                )
                for vote in group
            )
        )
    return tuple(groups)


def adjudication_get(*, document: Document) -> Adjudication:
    """The open agreement round on ``document``: submitted copies compared, unfinished ones listed apart."""
    assignments = list(
        AnnotationAssignment.objects.filter(document=document)
        .exclude(status=Status.ADJUDICATED)
        .select_related("annotator")
        .prefetch_related("spans__entity_type")
        .order_by("annotator__username")
    )
    submitted = tuple(a for a in assignments if a.status == Status.SUBMITTED)
    unfinished = tuple(a for a in assignments if a.status == Status.OPEN)
    layers = _layers(submitted)
    gold_rows = list(document_span_list(document=document))
    types = {t.name: t for t in EntityType.objects.filter(project_id=document.project_id)}
    gold = [NerSpan(s.start, s.end, s.entity_type.name) for s in gold_rows]
    groups = _candidates(document, layers, gold, types) if submitted else ()
    return Adjudication(document=document, submitted=submitted, unfinished=unfinished, layers=layers, groups=groups)


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

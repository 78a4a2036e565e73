"""Reads of inter-annotator agreement: an annotator's own copy, who may be assigned, the assignment overview,
the agreement scores and what adjudication would decide between. Writes live in ``services``."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q

from labeling.models import AnnotationAssignment, AnnotatorSpan, Document
from labeling.selectors import document_span_list, document_token_bounds
from ner.agreement import (
    AgreementReport,
    AnnotatedDoc,
    DocumentAgreement,
    SpanVote,
    agreement_report,
    conflict_groups,
    span_votes,
)
from ner.types import Span as NerSpan
from projects.models import EntityType, Membership, Project
from projects.roles import Permission, role_allows
from projects.selectors import row_get_or_404

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet


Status = AnnotationAssignment.Status


# Copies that count for agreement: finished by their annotator (an adjudicated copy was submitted first).
_COMPARED = (Status.SUBMITTED, Status.ADJUDICATED)


RANDOM_PICK_MAX = 500


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
    assignments = AnnotationAssignment.objects.select_related("document__project", "annotator").filter(
        document=document, pk=assignment_id
    )
    return row_get_or_404(assignments, missing="No such assignment on this document.")


def annotator_span_get(*, assignment: AnnotationAssignment, annotator_span_id: int) -> AnnotatorSpan:
    return row_get_or_404(
        assignment.spans.select_related("entity_type").filter(pk=annotator_span_id), missing="No such tag in this copy."
    )


def assignable_members(*, project: Project) -> list[AbstractBaseUser]:
    """Members whose role may tag, by username: the people documents can be assigned to for agreement."""
    memberships = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    return [m.user for m in memberships if role_allows(m.role, Permission.ANNOTATE)]


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

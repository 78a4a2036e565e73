"""Reads of pre-annotation: which documents a scope selects, the jobs and what each achieved. Starting and
running a job live in ``services``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from evaluation.models import PreannotationJob
from labeling.models import Document
from labeling.suggestions.selectors import suggestions_pending_count
from projects.chunks import chunks
from projects.models import Project
from projects.selectors import project_rows_newest_first, row_get_or_404


class Scope:
    """Which documents a job covers, as the start form offers them."""

    UNTAGGED: Final = "untagged"
    UNSUGGESTED: Final = "unsuggested"
    SEARCH: Final = "search"
    IDS: Final = "ids"
    CHOICES: Final = (
        (UNTAGGED, "All untagged documents"),
        (UNSUGGESTED, "Untagged documents that have no suggestions yet"),
        (SEARCH, "Documents whose name or text contains…"),
        (IDS, "Documents by id…"),
    )


def preannotation_candidates(*, project: Project, scope: str, search: str = "", ids: Iterable[int] = ()) -> list[int]:
    """The ids, ascending, of the project's documents a job with this scope would cover (others' ids drop out)."""
    documents = Document.objects.filter(project=project)
    if scope == Scope.UNTAGGED:
        documents = documents.filter(status=Document.Status.UNTAGGED)
    elif scope == Scope.UNSUGGESTED:
        documents = documents.filter(status=Document.Status.UNTAGGED, suggestions__isnull=True)
    elif scope == Scope.SEARCH:
        term = search.strip()
        if not term:
            return []
        documents = documents.filter(Q(name__icontains=term) | Q(text__icontains=term))
    elif scope == Scope.IDS:
        wanted = sorted({int(pk) for pk in ids})
        found: list[int] = []
        for chunk in chunks(wanted):
            found.extend(documents.filter(pk__in=chunk).values_list("pk", flat=True))
        return sorted(found)
    else:
        raise ValidationError({"scope": f"Unknown document choice {scope!r}."})
    return list(documents.distinct().order_by("pk").values_list("pk", flat=True))


def preannotation_scope_counts(*, project: Project) -> dict[str, int]:
    untagged = Document.objects.filter(project=project, status=Document.Status.UNTAGGED)
    return {
        Scope.UNTAGGED: untagged.count(),
        Scope.UNSUGGESTED: untagged.filter(suggestions__isnull=True).count(),
    }


def preannotation_job_list(*, project: Project) -> QuerySet[PreannotationJob]:
    return project_rows_newest_first(PreannotationJob, project=project, related=("model", "created_by"))


def preannotation_job_get(*, project: Project, job_id: int) -> PreannotationJob:
    return row_get_or_404(
        preannotation_job_list(project=project).filter(pk=job_id), missing="No such pre-annotation job in this project."
    )


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What is left of a job's work now: pending suggestions on its documents, and where to start reviewing."""

    pending: int
    documents: int
    first_document_id: int | None


def preannotation_job_outcome(*, job: PreannotationJob) -> JobOutcome:
    counts = suggestions_pending_count(documents=list(job.document_ids))
    first = next((pk for pk in job.document_ids if counts.get(pk)), None)
    return JobOutcome(pending=sum(counts.values()), documents=len(counts), first_document_id=first)

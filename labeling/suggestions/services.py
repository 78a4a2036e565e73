"""Pre-annotation suggestions on the tagging page: listed by ``selectors``, accepted into gold tags through
``labeling.services.span_create`` (so every span rule applies), or rejected. Both keep the row with its new state,
so that undo can restore a suggestion as it was (``suggestions_restore``); only pending ones are ever shown.

A suggestion is never a tag: nothing that trains or exports reads this table. An annotator's own tag always wins:
a suggestion overlapping a gold tag is not listed, is skipped by "accept all", and is never written by a
pre-annotation job (``suggestions_replace``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import Document, Span, SpanEvent, Suggestion
from labeling.services import span_create
from labeling.suggestions.selectors import suggestion_list
from ner.types import ScoredRegion
from projects.chunks import chunks
from projects.models import EntityType

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet


_BULK_BATCH = 500


@dataclass(slots=True)
class AcceptAllResult:
    """What "accept all" did: the tags it created (in the order created), how many suggestions it dropped
    because they collided with a tag or the server's span rules refused them, and the ids of all it took out of
    pending (what undo restores)."""

    accepted: list[Span] = field(default_factory=list)
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    suggestions: list[int] = field(default_factory=list)


def _check_type(document: Document, entity_type: EntityType | None) -> None:
    if entity_type is not None and entity_type.project_id != document.project_id:
        raise ValidationError(f"Entity type {entity_type.name} does not belong to project {document.project.name}.")


@transaction.atomic
def suggestion_accept(*, suggestion: Suggestion, user: AbstractBaseUser, entity_type: EntityType | None = None) -> Span:
    """Make a suggestion a tag (as its own type, or as ``entity_type``); the suggestion is no longer pending.

    The tag is created by ``span_create``, so token snapping and the project's overlap policy apply; when it
    refuses, its ValidationError is raised and the suggestion stays pending.
    """
    locked = Suggestion.objects.select_for_update().filter(pk=suggestion.pk, state=Suggestion.State.PENDING).first()
    if locked is None:
        raise ValidationError("This suggestion has already been accepted or rejected.")
    document = suggestion.document
    _check_type(document, entity_type)
    span = span_create(
        document=document,
        entity_type=entity_type or suggestion.entity_type,
        start=locked.start,
        end=locked.end,
        user=user,
        source=SpanEvent.Source.SUGGESTION,
    )
    _set_state([locked.pk], Suggestion.State.ACCEPTED)
    return span


def _set_state(ids: Sequence[int], state: str) -> None:
    for chunk in chunks(ids, _BULK_BATCH):
        Suggestion.objects.filter(pk__in=chunk).update(state=state)


@transaction.atomic
def suggestion_reject(*, suggestion: Suggestion) -> None:
    _set_state([suggestion.pk], Suggestion.State.REJECTED)


def _scope(document: Document, entity_type: EntityType | None) -> QuerySet[Suggestion]:
    _check_type(document, entity_type)
    suggestions = Suggestion.objects.filter(document=document, state=Suggestion.State.PENDING)
    if entity_type is not None:
        suggestions = suggestions.filter(entity_type=entity_type)
    return suggestions


@transaction.atomic
def suggestions_accept_all(
    *, document: Document, user: AbstractBaseUser, entity_type: EntityType | None = None
) -> AcceptAllResult:
    """Accept every suggestion of the document (of one type, when given), most confident first.

    A suggestion that collides with a tag (one that was there, or one this call has just accepted) is skipped:
    the tag wins, whatever the overlap policy. One that ``span_create`` refuses is skipped too, with its reason.
    Every suggestion in scope is no longer pending afterwards: accepted, or rejected when skipped
    (``result.suggestions`` lists them all, for undo).
    """
    result = AcceptAllResult()
    accepted: list[int] = []
    pending = list(
        _scope(document, entity_type).select_related("entity_type").order_by("-confidence", "start", "end", "id")
    )
    for suggestion in pending:
        collides = Span.objects.filter(document=document, start__lt=suggestion.end, end__gt=suggestion.start)
        if collides.exists():
            result.skipped += 1
            continue
        try:
            # span_create is atomic itself: a refusal rolls back to its savepoint and this loop goes on.
            span = span_create(
                document=document,
                entity_type=suggestion.entity_type,
                start=suggestion.start,
                end=suggestion.end,
                user=user,
                source=SpanEvent.Source.SUGGESTION,
            )
        except ValidationError as error:
            result.skipped += 1
            result.reasons.extend(error.messages)
            continue
        result.accepted.append(span)
        accepted.append(suggestion.pk)
    result.suggestions = [suggestion.pk for suggestion in pending]
    _set_state(accepted, Suggestion.State.ACCEPTED)
    _set_state(sorted(set(result.suggestions) - set(accepted)), Suggestion.State.REJECTED)
    return result


@transaction.atomic
def suggestions_reject_all(*, document: Document, entity_type: EntityType | None = None) -> list[int]:
    """Reject every pending suggestion of the document (of one type, when given); returns their ids, for undo."""
    ids = list(_scope(document, entity_type).order_by("pk").values_list("pk", flat=True))
    _set_state(ids, Suggestion.State.REJECTED)
    return ids


@transaction.atomic
def suggestions_restore(*, document: Document, suggestion_ids: Sequence[int]) -> list[Suggestion]:
    """Make accepted or rejected suggestions of the document pending again (undo on the tagging page).

    Restoring an accepted suggestion does not remove the tag it became: undo deletes that tag first, through
    ``span_delete``, like any other. Ids of other documents are refused, naming them; a restored suggestion that
    a tag now overlaps stays hidden, as pending ones under a tag always are.
    """
    wanted = sorted(set(suggestion_ids))
    found = list(Suggestion.objects.select_for_update().filter(document=document, pk__in=wanted).order_by("pk"))
    missing = sorted(set(wanted) - {suggestion.pk for suggestion in found})
    if missing:
        raise ValidationError(f"No suggestion {', '.join(map(str, missing))} in this document.")
    _set_state(wanted, Suggestion.State.PENDING)
    return list(suggestion_list(document=document).filter(pk__in=wanted))


def _tag_cover(document: Document) -> tuple[list[int], list[int]]:
    """The gold tags' starts (sorted) and the running maximum of their ends, for overlap tests by bisection."""
    starts: list[int] = []
    reach: list[int] = []
    furthest = -1
    for start, end in Span.objects.filter(document=document).order_by("start").values_list("start", "end"):
        furthest = max(furthest, end)
        starts.append(start)
        reach.append(furthest)
    return starts, reach


def _under_a_tag(cover: tuple[list[int], list[int]], start: int, end: int) -> bool:
    starts, reach = cover
    before = bisect_left(starts, end)  # the tags that start before this region ends
    return before > 0 and reach[before - 1] > start


@transaction.atomic
def suggestions_replace(*, document: Document, model_name: str, spans: Iterable[ScoredRegion]) -> int:
    """Replace the document's suggestions (from any model) with what ``model_name`` found; returns how many.

    Dropped: labels the project has no entity type for, regions outside the text, anything overlapping a gold tag
    (the annotator's tag wins) and repeats of a region and type (the most confident is kept).
    """
    types = {entity_type.name: entity_type for entity_type in EntityType.objects.filter(project=document.project_id)}
    cover = _tag_cover(document)
    length = len(document.text)
    best: dict[tuple[int, int, int], Suggestion] = {}
    for found in spans:
        entity_type = types.get(found.label)
        if entity_type is None or not (0 <= found.start < found.end <= length):
            continue
        if _under_a_tag(cover, found.start, found.end):
            continue
        confidence = min(1.0, max(0.0, float(found.confidence if found.confidence is not None else 0.0)))
        key = (found.start, found.end, entity_type.pk)
        if key in best and best[key].confidence >= confidence:
            continue
        suggestion = Suggestion(
            document=document,
            entity_type=entity_type,
            start=found.start,
            end=found.end,
            confidence=confidence,
            model_name=model_name,
        )
        # The foreign keys are rows in hand and uniqueness is the dedupe above: no per-row queries.
        suggestion.full_clean(exclude=["document", "entity_type"], validate_unique=False, validate_constraints=False)
        best[key] = suggestion
    Suggestion.objects.filter(document=document).delete()
    created = Suggestion.objects.bulk_create(best.values(), batch_size=_BULK_BATCH)
    return len(created)

"""The consistency checker's one-click fixes (apply a type to every occurrence, remove the tags of a string); the
findings themselves are read by ``selectors``.

Fixes write only through the span services, with ``source=SpanEvent.Source.CONSISTENCY``, so the audit trail
says a consistency fix did it. A fix re-reads the current tags of that one string before writing, so it acts on
what is there now, not on what the page showed; what the overlap policy refuses is skipped and reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.consistency.selectors import _check_kind, _load, _Loaded, _longest_word
from labeling.models import Document, Span, SpanEvent
from labeling.services import span_create, span_delete, span_update_type
from ner.consistency import (
    Occurrence,
    normalize_surface,
    surface_occurrences,
)
from projects.exceptions import Conflict
from projects.models import EntityType, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


# One click changes at most this many tags; the result says how many remain, and the next click goes on.
FIX_MAX: Final = 500


@dataclass(slots=True)
class FixResult:
    """What a fix did, line by line, and what it left alone and why."""

    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    remaining: int = 0  # occurrences past FIX_MAX, left for the next click

    @property
    def summary(self) -> str:
        parts = [f"Changed {len(self.changed)} tag{'s' if len(self.changed) != 1 else ''}"]
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)}")
        if self.remaining:
            parts.append(f"{self.remaining} more to do: apply the fix again")
        return "; ".join(parts) + "."


def _where(loaded: _Loaded, occurrence: Occurrence) -> str:
    return f"{loaded.names[occurrence.doc]} at {occurrence.start}-{occurrence.end}"


def _spans_by_pk(pks: Iterable[int]) -> dict[int, Span]:
    rows = Span.objects.filter(pk__in=list(pks)).select_related("entity_type", "document__project")
    return {span.pk: span for span in rows}


def _span_pk(loaded: _Loaded, occurrence: Occurrence, label: str) -> int | None:
    return loaded.span_ids.get((occurrence.doc, occurrence.start, occurrence.end, label))


def _tagged_spans(loaded: _Loaded, todo: Sequence[Occurrence]) -> list[tuple[Occurrence, Span | None]]:
    """Each tagged occurrence with its span row as it is now: None where the tag went since the check read it."""
    pks = [_span_pk(loaded, occurrence, occurrence.label or "") for occurrence in todo]
    spans = _spans_by_pk(pk for pk in pks if pk is not None)
    return [(occurrence, spans.get(pk) if pk is not None else None) for occurrence, pk in zip(todo, pks, strict=True)]


def _check_surface(surface: str) -> str:
    surface = normalize_surface(surface)
    if not surface:
        raise ValidationError("Say which text to fix: the string is empty.")
    return surface


def _check_type(project: Project, entity_type: EntityType) -> None:
    if entity_type.project_id != project.pk:
        raise ValidationError(f"Entity type {entity_type.name} does not belong to project {project.name}.")


def consistency_apply_type(
    *, project: Project, user: AbstractBaseUser, kind: str, surface: str, entity_type: EntityType
) -> FixResult:
    """Make ``entity_type`` the tag of every occurrence of ``surface`` that a finding of ``kind`` is about.

    ``type``: retype the exact tags of other types. ``untagged``: tag the untagged occurrences. ``boundary``: where
    tags cut the string differently, replace them by one tag of the whole string (all or nothing per place).
    """
    kind = _check_kind(kind)
    surface = _check_surface(surface)
    _check_type(project, entity_type)
    loaded = _load(project, containing=_longest_word(surface))
    tagged, untagged, boundary = surface_occurrences(loaded.docs, surface, search_in=loaded.searched)
    result = FixResult()
    target = entity_type.name
    source = SpanEvent.Source.CONSISTENCY
    if kind == "type":
        todo = [occurrence for occurrence in tagged if occurrence.label != target]
        result.remaining = max(0, len(todo) - FIX_MAX)
        todo = todo[:FIX_MAX]
        for occurrence, span in _tagged_spans(loaded, todo):
            if span is None:
                result.skipped.append(f"{_where(loaded, occurrence)}: the tag was changed meanwhile")
                continue
            try:
                span_update_type(span=span, entity_type=entity_type, user=user, source=source)
            except ValidationError as error:
                result.skipped.append(f"{_where(loaded, occurrence)}: {' '.join(error.messages)}")
            else:
                result.changed.append(f"{_where(loaded, occurrence)}: {occurrence.label} → {target}")
        return result
    documents = {
        document.pk: document for document in Document.objects.filter(pk__in=set(loaded.ids)).select_related("project")
    }
    todo = untagged if kind == "untagged" else boundary
    result.remaining = max(0, len(todo) - FIX_MAX)
    todo = todo[:FIX_MAX]
    replaced_pks = [loaded.span_ids.get((o.doc, old.start, old.end, old.label)) for o in todo for old in o.overlapping]
    replaced = _spans_by_pk(pk for pk in replaced_pks if pk is not None)
    for occurrence in todo:
        document = documents.get(loaded.ids[occurrence.doc])
        if document is None:
            result.skipped.append(f"{_where(loaded, occurrence)}: the document was deleted meanwhile")
            continue
        try:
            with transaction.atomic():  # a place is replaced whole or not at all
                removed = []
                for old in occurrence.overlapping:
                    pk = loaded.span_ids.get((occurrence.doc, old.start, old.end, old.label))
                    span = replaced.get(pk) if pk is not None else None
                    if span is None:
                        raise ValidationError("a tag there was changed meanwhile")
                    span_delete(span=span, user=user, source=source)
                    removed.append(f"{old.label} “{document.text[old.start : old.end]}”")
                span_create(
                    document=document,
                    entity_type=entity_type,
                    start=occurrence.start,
                    end=occurrence.end,
                    user=user,
                    source=source,
                )
        except ValidationError as error:
            result.skipped.append(f"{_where(loaded, occurrence)}: {' '.join(error.messages)}")
        else:
            instead = f" instead of {', '.join(removed)}" if removed else ""
            result.changed.append(f"{_where(loaded, occurrence)}: tagged as {target}{instead}")
    return result


def consistency_remove(
    *, project: Project, user: AbstractBaseUser, surface: str, entity_type: EntityType | None = None
) -> FixResult:
    """Delete the tags covering exactly ``surface``, everywhere in the project (only those of ``entity_type``)."""
    surface = _check_surface(surface)
    if entity_type is not None:
        _check_type(project, entity_type)
    loaded = _load(project, containing=_longest_word(surface))
    tagged, _, _ = surface_occurrences(loaded.docs, surface, search_in=())
    todo = [o for o in tagged if entity_type is None or o.label == entity_type.name]
    result = FixResult(remaining=max(0, len(todo) - FIX_MAX))
    todo = todo[:FIX_MAX]
    for occurrence, span in _tagged_spans(loaded, todo):
        if _removed_here(span, user):
            result.changed.append(f"{_where(loaded, occurrence)}: removed {occurrence.label}")
        else:
            result.skipped.append(f"{_where(loaded, occurrence)}: the tag was deleted meanwhile")
    return result


def _removed_here(span: Span | None, user: AbstractBaseUser) -> bool:
    """Delete ``span``; False when someone else removed it first: before this fix read it, or before its lock."""
    if span is None:
        return False
    try:
        span_delete(span=span, user=user, source=SpanEvent.Source.CONSISTENCY)
    except Conflict:
        return False
    return True

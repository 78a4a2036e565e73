"""Reads of the consistency checker: a project's gold tags turned into ``ner.consistency`` findings, cached by a
fingerprint of the tags, and the rows the page shows. The one-click fixes live in ``services``.

The rules live in ``ner.consistency``. Reads here load every document that has tags or that someone has started
tagging in two queries (documents, spans), never one per document. Documents nobody has started tagging (status
"untagged", no tags) are left out: their untagged mentions are work not yet done, not inconsistencies.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Q

from labeling.models import Document, Span, SpanEvent
from ner.consistency import (
    FINDING_KINDS,
    Finding,
    FindingKind,
    Occurrence,
    check_consistency,
    normalize_surface,
)
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.models import EntityType, Project

# Words shown on each side of an occurrence.
CONTEXT_CHARS: Final = 60


_CACHE_SECONDS: Final = 15 * 60


KIND_TITLES: Final[dict[str, str]] = {
    "type": "Tagged with different types",
    "untagged": "Tagged in some places, untagged in others",
    "boundary": "Tagged with different bounds",
}


@dataclass(slots=True)
class _Loaded:
    """A project's documents as ``ner`` sees them, with what maps them back to rows."""

    docs: list[LabeledDoc] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    searched: set[int] = field(default_factory=set)  # indexes of documents someone has started tagging
    span_ids: dict[tuple[int, int, int, str], int] = field(default_factory=dict)  # (doc index, start, end, type)


def _load(project: Project, *, containing: str = "") -> _Loaded:
    """Two queries: the documents with tags or in the works (optionally only those containing a word), their tags."""
    started = Q(status__in=[Document.Status.TAGGED, Document.Status.IN_PROGRESS])
    documents = Document.objects.filter(project=project).filter(
        started | Exists(Span.objects.filter(document=OuterRef("pk")))
    )
    if containing:
        # A superset on every database (SQLite's LIKE ignores ASCII case); ner compares exactly.
        documents = documents.filter(text__contains=containing)
    rows = list(documents.order_by("id").values_list("id", "name", "text", "status"))
    index_of = {pk: index for index, (pk, *_) in enumerate(rows)}
    spans: dict[int, list[NerSpan]] = {pk: [] for pk in index_of}
    loaded = _Loaded()
    span_rows = Span.objects.filter(document__in=documents.values("pk")).values_list(
        "pk", "document_id", "start", "end", "entity_type__name"
    )
    for span_id, document_id, start, end, label in span_rows.order_by("document_id", "start", "end"):
        if document_id in spans:
            spans[document_id].append(NerSpan(start, end, label))
            loaded.span_ids[(index_of[document_id], start, end, label)] = span_id
    for index, (pk, name, text, status) in enumerate(rows):
        loaded.docs.append(LabeledDoc(text=text, spans=tuple(spans[pk]), name=name))
        loaded.ids.append(pk)
        loaded.names.append(name)
        if status != Document.Status.UNTAGGED:
            loaded.searched.add(index)
    return loaded


def _fingerprint(project: Project) -> str:
    """Changes whenever anything the check reads changes: documents, tags, their types, the audit trail."""
    documents = Document.objects.filter(project=project).aggregate(n=Count("pk"), last=Max("updated_at"))
    spans = Span.objects.filter(document__project=project).aggregate(n=Count("pk"), last=Max("pk"))
    events = SpanEvent.objects.filter(project=project).aggregate(last=Max("pk"))
    types = list(EntityType.objects.filter(project=project).order_by("pk").values_list("pk", "name"))
    raw = repr((project.pk, project.created_at, documents, spans, events, types))
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What the page needs from a full check: the findings and, per document index, its id and name."""

    findings: tuple[Finding, ...]
    ids: tuple[int, ...]
    names: tuple[str, ...]
    checked: int
    searched: int


def _snapshot(project: Project) -> _Snapshot:
    key = f"nerlab:consistency:{project.pk}:{_fingerprint(project)}"
    snapshot: _Snapshot | None = cache.get(key)
    if snapshot is None:
        loaded = _load(project)
        findings = check_consistency(loaded.docs, search_in=loaded.searched)
        snapshot = _Snapshot(
            tuple(findings), tuple(loaded.ids), tuple(loaded.names), len(loaded.docs), len(loaded.searched)
        )
        cache.set(key, snapshot, _CACHE_SECONDS)
    return snapshot


@dataclass(frozen=True, slots=True)
class Example:
    """One occurrence as the page shows it: a few words either side, the surface highlighted."""

    document_id: int
    document_name: str
    start: int
    end: int
    label: str | None
    before: str
    surface: str
    after: str
    differing: tuple[tuple[str, str], ...] = ()  # (type, text) of the tags that cut it differently


@dataclass(frozen=True, slots=True)
class Share:
    label: str | None  # None: untagged, or cut differently
    count: int
    percent: int


@dataclass(frozen=True, slots=True)
class FindingRow:
    finding: Finding
    examples: tuple[Example, ...]

    @property
    def element_id(self) -> str:
        return finding_element_id(self.finding.kind, self.finding.surface)

    @property
    def shares(self) -> list[Share]:
        finding = self.finding
        total = finding.total or 1
        shares = [Share(label, count, round(100 * count / total)) for label, count in finding.label_counts]
        if finding.other_count:
            shares.append(Share(None, finding.other_count, round(100 * finding.other_count / total)))
        return shares

    @property
    def document_count(self) -> int:
        return len({example.document_id for example in self.examples})


def finding_element_id(kind: str, surface: str) -> str:
    """A stable HTML id for a finding: surfaces hold any character, so they are hashed."""
    return f"finding-{kind}-{hashlib.sha1(surface.encode()).hexdigest()[:12]}"


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    findings: list[Finding]  # filtered, grouped by kind, most frequent first
    counts: dict[str, int]  # per kind, with the type filter applied
    checked: int  # documents with tags or in the works
    searched: int  # of those, documents searched for untagged occurrences
    ids: tuple[int, ...]
    names: tuple[str, ...]


def _involves(finding: Finding, label: str) -> bool:
    return label in finding.labels


def consistency_report(*, project: Project, kind: str = "", entity_type: str = "") -> ConsistencyReport:
    """The project's findings, optionally of one kind and involving one entity type (by name).

    Computed in one pass and cached until documents, tags or types change, so paging and filtering stay quick.
    """
    snapshot = _snapshot(project)
    findings = [finding for finding in snapshot.findings if not entity_type or _involves(finding, entity_type)]
    counts = Counter(finding.kind for finding in findings)
    if kind:
        findings = [finding for finding in findings if finding.kind == kind]
    # Grouped by kind (in the order of FINDING_KINDS), most frequent first within each: a stable sort keeps that.
    findings.sort(key=lambda finding: FINDING_KINDS.index(finding.kind))
    return ConsistencyReport(
        findings=findings,
        counts={name: counts.get(name, 0) for name in FINDING_KINDS},
        checked=snapshot.checked,
        searched=snapshot.searched,
        ids=snapshot.ids,
        names=snapshot.names,
    )


def _context(text: str, start: int, end: int) -> tuple[str, str, str]:
    """A few words either side of [start, end), cut at whitespace, with an ellipsis where text was left out."""
    left = max(0, start - CONTEXT_CHARS)
    if left > 0 and (space := text.find(" ", left, start)) != -1:
        left = space + 1
    right = min(len(text), end + CONTEXT_CHARS)
    if right < len(text) and (space := text.rfind(" ", end, right)) != -1:
        right = space
    before = (
        ("…" if left > 0 else "")
        + " ".join(text[left:start].split())
        + (" " if text[left:start][-1:].isspace() else "")
    )
    after = (
        (" " if text[end:right][:1].isspace() else "")
        + " ".join(text[end:right].split())
        + ("…" if right < len(text) else "")
    )
    return before, text[start:end], after


def _example(occurrence: Occurrence, document_id: int, name: str, text: str) -> Example:
    before, surface, after = _context(text, occurrence.start, occurrence.end)
    return Example(
        document_id=document_id,
        document_name=name,
        start=occurrence.start,
        end=occurrence.end,
        label=occurrence.label,
        before=before,
        surface=surface,
        after=after,
        differing=tuple((span.label, text[span.start : span.end]) for span in occurrence.overlapping),
    )


def consistency_rows(*, project: Project, report: ConsistencyReport, findings: Sequence[Finding]) -> list[FindingRow]:
    """The examples of a page of findings: one query for the texts of the documents they quote."""
    wanted = {report.ids[occurrence.doc] for finding in findings for occurrence in finding.occurrences}
    texts = dict(Document.objects.filter(project=project, pk__in=wanted).values_list("pk", "text"))
    rows = []
    for finding in findings:
        examples = []
        for occurrence in finding.occurrences:
            document_id = report.ids[occurrence.doc]
            text = texts.get(document_id)
            if text is not None:  # deleted since the check: nothing to quote
                examples.append(_example(occurrence, document_id, report.names[occurrence.doc], text))
        rows.append(FindingRow(finding=finding, examples=tuple(examples)))
    return rows


def _longest_word(surface: str) -> str:
    return max(surface.split(), key=len, default="")


def consistency_finding(*, project: Project, kind: str, surface: str) -> FindingRow | None:
    """The current finding of one kind about one string, freshly computed (after a fix), or None if it is gone."""
    surface = normalize_surface(surface)
    if not surface or kind not in FINDING_KINDS:
        return None
    loaded = _load(project, containing=_longest_word(surface))
    findings = check_consistency(loaded.docs, search_in=loaded.searched, surfaces=[surface], kinds=[_check_kind(kind)])
    if not findings:
        return None
    report = ConsistencyReport(
        findings=findings,
        counts={},
        checked=len(loaded.docs),
        searched=len(loaded.searched),
        ids=tuple(loaded.ids),
        names=tuple(loaded.names),
    )
    return consistency_rows(project=project, report=report, findings=findings)[0]


def _check_kind(kind: str) -> FindingKind:
    if kind not in FINDING_KINDS:
        raise ValidationError(f"Unknown kind of finding {kind!r}: use one of {', '.join(FINDING_KINDS)}.")
    return kind

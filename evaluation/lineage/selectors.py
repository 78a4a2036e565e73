"""Lineage: which documents, as they were then, trained and tested each model, and which models a document fed.

A ``DatasetSnapshot`` is the record: its id lists say which documents went to which side, its frozen JSONL what
their text and tags were. Reads only; comparing with the live documents tells what has changed since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from django.db import connections, router
from django.db.models import Q

from evaluation.models import DatasetSnapshot, TrainedModel
from evaluation.selectors import snapshot_documents
from labeling.models import Document, Span
from labeling.selectors import documents_effective_split
from ner.splits import SplitError
from ner.text import content_hash
from ner.types import LabeledDoc
from projects.chunks import chunks
from projects.models import Project
from projects.selectors import row_get_or_404

# Ids per IN (...) query: well under SQLite's bound-parameter limit.
_IN_CHUNK: Final = 500

SpanKey = tuple[int, int, str]


def snapshot_get(*, project: Project, snapshot_id: int) -> DatasetSnapshot:
    snapshots = DatasetSnapshot.objects.filter(project=project, pk=snapshot_id).select_related("project", "created_by")
    return row_get_or_404(snapshots, missing="No such snapshot in this project.")


@dataclass(frozen=True)
class SnapshotDocument:
    """One document of a snapshot: its name and tag count as frozen, and how the live document differs now."""

    document_id: int
    name: str
    side: str
    tags_then: int
    exists: bool
    current_name: str = ""
    tags_now: int | None = None
    text_changed: bool = False
    tags_changed: bool = False
    side_now: str = ""

    @property
    def side_changed(self) -> bool:
        return self.exists and bool(self.side_now) and self.side_now != self.side

    @property
    def changed(self) -> bool:
        return self.exists and (self.text_changed or self.tags_changed or self.side_changed)

    @property
    def state(self) -> str:
        """One of deleted, changed or unchanged: the page's marks."""
        if not self.exists:
            return "deleted"
        return "changed" if self.changed else "unchanged"


@dataclass
class SnapshotDetail:
    snapshot: DatasetSnapshot
    train: list[SnapshotDocument]
    test: list[SnapshotDocument]
    models: list[TrainedModel]
    # False when the frozen file could not be read: sides and live state are still known, the frozen text is not.
    frozen_readable: bool = True
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def documents(self) -> list[SnapshotDocument]:
        return self.train + self.test


def _live_documents(project: Project, ids: list[int]) -> dict[int, Document]:
    live: dict[int, Document] = {}
    for chunk in chunks(ids, _IN_CHUNK):
        rows = Document.objects.filter(project=project, pk__in=chunk).only("id", "name", "content_hash", "split")
        live.update((document.pk, document) for document in rows)
    return live


def _live_spans(ids: Iterable[int]) -> dict[int, set[SpanKey]]:
    spans: dict[int, set[SpanKey]] = defaultdict(set)
    for chunk in chunks(list(ids), _IN_CHUNK):
        rows = Span.objects.filter(document_id__in=chunk).values_list(
            "document_id", "start", "end", "entity_type__name"
        )
        for document_id, start, end, label in rows.iterator(chunk_size=2000):
            spans[document_id].add((start, end, label))
    return spans


def _frozen(snapshot: DatasetSnapshot) -> dict[int, LabeledDoc] | None:
    try:
        docs = snapshot_documents(snapshot=snapshot)
    except (OSError, ValueError):
        return None
    return {int(doc.meta["document_id"]): doc for doc in docs if doc.meta.get("document_id")}


def snapshot_detail(*, snapshot: DatasetSnapshot) -> SnapshotDetail:
    """The snapshot's documents per side, in snapshot order, each marked deleted or changed since (text, tags or
    side), and the models trained from it, newest first."""
    project = snapshot.project
    sides = [("train", list(snapshot.train_document_ids)), ("test", list(snapshot.test_document_ids))]
    all_ids = [document_id for _, ids in sides for document_id in ids]
    frozen = _frozen(snapshot)
    live = _live_documents(project, all_ids)
    live_spans = _live_spans(live)
    try:
        sides_now = documents_effective_split(project=project, documents=list(live.values()))
    except SplitError:
        sides_now = {}
    listed: dict[str, list[SnapshotDocument]] = {"train": [], "test": []}
    for side, ids in sides:
        for document_id in ids:
            then = frozen.get(document_id) if frozen is not None else None
            document = live.get(document_id)
            name = then.name if then is not None and then.name else (document.name if document else f"#{document_id}")
            tags_then = {(span.start, span.end, span.label) for span in then.spans} if then is not None else set()
            if document is None:
                listed[side].append(SnapshotDocument(document_id, name, side, len(tags_then), exists=False))
                continue
            tags_now = live_spans.get(document_id, set())
            listed[side].append(
                SnapshotDocument(
                    document_id,
                    name,
                    side,
                    len(tags_then),
                    exists=True,
                    current_name=document.name,
                    tags_now=len(tags_now),
                    text_changed=then is not None and content_hash(then.text) != document.content_hash,
                    tags_changed=then is not None and tags_then != tags_now,
                    side_now=sides_now.get(document_id, ""),
                )
            )
    detail = SnapshotDetail(
        snapshot=snapshot,
        train=listed["train"],
        test=listed["test"],
        models=list(
            TrainedModel.objects.filter(project=project, run__snapshot=snapshot)
            .select_related("run")
            .order_by("-created_at", "-id")
        ),
        frozen_readable=frozen is not None,
    )
    documents = detail.documents
    detail.counts = {
        "deleted": sum(1 for doc in documents if doc.state == "deleted"),
        "changed": sum(1 for doc in documents if doc.state == "changed"),
        "unchanged": sum(1 for doc in documents if doc.state == "unchanged"),
    }
    return detail


@dataclass(frozen=True)
class ModelUse:
    """A trained model whose snapshot held the document, and on which side."""

    model: TrainedModel
    side: str


def _snapshots_holding(project_id: int, document_id: int) -> dict[int, str]:
    """Snapshot id -> side, for the project's snapshots that trained a model and hold the document."""
    snapshots = DatasetSnapshot.objects.filter(project_id=project_id, runs__trained_model__isnull=False)
    if connections[router.db_for_read(DatasetSnapshot)].features.supports_json_field_contains:
        # PostgreSQL and MySQL test membership in the JSON lists themselves; elsewhere (SQLite) the lists of the
        # snapshots that made models (a handful per project) are read and searched here.
        snapshots = snapshots.filter(
            Q(train_document_ids__contains=[document_id]) | Q(test_document_ids__contains=[document_id])
        )
    found: dict[int, str] = {}
    for snapshot_id, train_ids, test_ids in snapshots.distinct().values_list(
        "id", "train_document_ids", "test_document_ids"
    ):
        if document_id in train_ids:
            found[snapshot_id] = "train"
        elif document_id in test_ids:
            found[snapshot_id] = "test"
    return found


def document_models(*, document: Document) -> list[ModelUse]:
    """The trained models whose snapshot included ``document`` (train or test side), newest first."""
    sides = _snapshots_holding(document.project_id, document.pk)
    if not sides:
        return []
    models = (
        TrainedModel.objects.filter(project_id=document.project_id, run__snapshot_id__in=list(sides))
        .select_related("run", "run__snapshot")
        .order_by("-created_at", "-id")
    )
    return [ModelUse(model=model, side=sides[model.run.snapshot_id]) for model in models]

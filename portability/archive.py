"""The whole-project archive: one zip that holds everything a project is, and its import as a new project.

Layout of the zip (``ARCHIVE_FORMAT`` version 2; version 1 archives, which lack the last four entries, still
import)::

    project.json             settings, entity types (colours, hotkeys, descriptions), members (optional), and an
                             index of snapshots and models with their rows' fields
    documents.jsonl          nerlab JSONL: text, spans, name, own language, manual split; meta: id, status, the
                             active-learning score (uncertainty, uncertainty_model) of a scored document, and the
                             document's own metadata as JSON text (metadata)
    snapshots/<id>.jsonl     each frozen training snapshot, as stored (those of the models and learning curves)
    models/<id>/...          each trained model's spaCy pipeline files, byte for byte
    evaluations/<id>.json    each model's evaluation report (ner.metrics.EvaluationReport.to_dict())
    predictions/<id>.json    each evaluation's per-document predictions
    audit.jsonl              the tags' audit trail, oldest first: one event per line (document, span, action,
                             source, type names, offsets, surface, username, time)
    suggestions.jsonl        pending pre-annotation suggestions: document, offsets, type name, confidence, model
    agreement.jsonl          agreement copies: document, annotator's username, status, times, the copy's spans
    learning_curves.jsonl    finished learning curves' results: snapshot, shares, settings, points, projection

Every reference is the archive's own: documents by the ``id`` in their documents.jsonl meta, snapshots by their
project.json id, entity types by name, users by username (a user this server lacks: the audit event keeps no
user, the agreement copy is skipped, and the import says so in its notes). Audit events carry the span id they
had; on import the events of one tag are linked to the imported tag when its last event left it where a tag now
is (same document, offsets and type), and keep no span id otherwise (a tag deleted before the export).

Cloning is "archive, then import under a new name" — one code path, so a clone and an archive round trip can
never drift apart. Import validates everything (the zip, project.json, every document through the same
``labeling.imports.labeled_docs_import`` rules as any import, every line of the other JSONL entries) before
anything stays written: rows go in one transaction and the files copied into storage are removed again if
anything fails.
"""

from __future__ import annotations

import io
import json
import math
import posixpath
import tempfile
import zipfile
import zlib
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Model, Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evaluation.models import DatasetSnapshot, Evaluation, LearningCurve, Prediction, TrainedModel, TrainingRun
from labeling.imports import labeled_docs_import
from labeling.models import AnnotationAssignment, AnnotatorSpan, Document, Span, SpanEvent, Suggestion
from ner.formats import FormatError
from ner.formats.common import check_offsets, dump_jsonl, is_int, parse_jsonl, type_name
from ner.formats.errors import Problem, Problems
from ner.formats.jsonl import read_jsonl, write_jsonl
from ner.json_input import JsonInputError, load_json
from ner.learning_curve import Projection
from ner.names import InvalidName, check_project_name
from ner.text import content_hash, decode_bytes
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.models import Membership, Project
from projects.roles import Role
from projects.services import PROJECT_EDITABLE_FIELDS, entity_type_create, project_create
from projects.storage import project_storage_prefix, storage_tree_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

ARCHIVE_FORMAT: Final = "nerlab-project-archive"
ARCHIVE_VERSION: Final = 2
# Version 1 archives hold no audit trail, suggestions, agreement copies, scores or learning curves.
READABLE_VERSIONS: Final = (1, 2)
PROJECT_FILE: Final = "project.json"
DOCUMENTS_FILE: Final = "documents.jsonl"
AUDIT_FILE: Final = "audit.jsonl"
SUGGESTIONS_FILE: Final = "suggestions.jsonl"
AGREEMENT_FILE: Final = "agreement.jsonl"
LEARNING_CURVES_FILE: Final = "learning_curves.jsonl"
# project.json key -> the entry it names (the key may be absent: version 1, or a hand-made archive).
EXTRA_ENTRIES: Final = {
    "audit": AUDIT_FILE,
    "suggestions": SUGGESTIONS_FILE,
    "agreement": AGREEMENT_FILE,
    "learning_curves": LEARNING_CURVES_FILE,
}
# An archive is read entry by entry into memory; these bound what a hostile zip can make us read.
ARCHIVE_ENTRY_BYTES_MAX: Final = 2 * 1024 * 1024 * 1024
ARCHIVE_ENTRIES_MAX: Final = 100_000
COMPRESSION_RATIO_MAX: Final = 200
_STATUSES = {choice.value for choice in Document.Status}
_PROBLEMS_SHOWN: Final = 50
# Usernames are looked up, never stored, so any plausible length is accepted (Django's own limit is 150).
_USERNAME_MAX: Final = 255
# The largest value of the integer columns the new rows have (PositiveIntegerField on PostgreSQL).
_COLUMN_INT_MAX: Final = 2**31 - 1
_BULK_BATCH: Final = 500


class ArchiveError(ValidationError):
    """The archive cannot be imported; the messages say what to fix. Nothing was written."""


# --------------------------------------------------------------------------------------------- writing


def _storage_files(prefix: str) -> Iterator[str]:
    """Every file under ``prefix`` in Django's storage, as paths relative to it."""
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    yield from sorted(files)
    for directory in sorted(directories):
        for name in _storage_files(f"{prefix}/{directory}"):
            yield f"{directory}/{name}"


def _read_storage(path: str) -> bytes:
    with default_storage.open(path, "rb") as handle:
        return handle.read()


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _username(user: AbstractBaseUser | None) -> str | None:
    return user.get_username() if user is not None else None


def _document_meta(
    pk: int, status: str, uncertainty: float | None, uncertainty_model: str, metadata: dict[str, Any]
) -> dict[str, str]:
    meta = {"id": str(pk), "status": status}
    if metadata:
        # The document's own metadata (from the file it was imported from), apart from the archive's bookkeeping.
        meta["metadata"] = json.dumps(metadata, ensure_ascii=False, sort_keys=True)
    if uncertainty is not None:
        # Meta values are strings in nerlab JSONL; repr keeps the float exactly.
        meta.update(uncertainty=repr(uncertainty), uncertainty_model=uncertainty_model)
    return meta


def _document_rows(project: Project) -> list[LabeledDoc]:
    """Each document as stored: own language (blank stays blank), manual split only; id, status, score in meta."""
    type_names = dict(project.entity_types.values_list("pk", "name"))
    spans: dict[int, list[NerSpan]] = {}
    for document_id, start, end, type_id in (
        Span.objects.filter(document__project=project)
        .order_by()
        .values_list("document_id", "start", "end", "entity_type_id")
    ):
        spans.setdefault(document_id, []).append(NerSpan(start, end, type_names[type_id]))
    rows = (
        Document.objects.filter(project=project)
        .order_by("pk")
        .values_list("pk", "name", "text", "language", "split", "status", "uncertainty", "uncertainty_model", "meta")
    )
    return [
        LabeledDoc(
            text=text,
            spans=tuple(sorted(spans.get(pk, []))),
            name=name,
            language=language or None,
            split=split or None,  # type: ignore[arg-type]
            meta=_document_meta(pk, status, uncertainty, uncertainty_model, metadata),
        )
        for pk, name, text, language, split, status, uncertainty, uncertainty_model, metadata in rows.iterator(
            chunk_size=2_000
        )
    ]


def _audit_rows(project: Project) -> list[dict[str, Any]]:
    events = SpanEvent.objects.filter(project=project).select_related("user").order_by("created_at", "pk")
    return [
        {
            "document": event.document_id,
            "document_name": event.document_name,
            "span": event.span_id,
            "action": event.action,
            "source": event.source,
            "entity_type": event.entity_type,
            "previous_entity_type": event.previous_entity_type,
            "start": event.start,
            "end": event.end,
            "surface": event.surface,
            "user": _username(event.user),
            "created_at": _time(event.created_at),
        }
        for event in events.iterator(chunk_size=2_000)
    ]


def _suggestion_rows(project: Project) -> list[dict[str, Any]]:
    rows = (
        Suggestion.objects.filter(document__project=project, state=Suggestion.State.PENDING)
        .order_by("document_id", "start", "end", "entity_type__name")
        .values_list("document_id", "start", "end", "entity_type__name", "confidence", "model_name", "created_at")
    )
    return [
        {
            "document": document,
            "start": start,
            "end": end,
            "entity_type": entity_type,
            "confidence": confidence,
            "model_name": model_name,
            "created_at": _time(created_at),
        }
        for document, start, end, entity_type, confidence, model_name, created_at in rows.iterator(chunk_size=2_000)
    ]


def _agreement_rows(project: Project) -> list[dict[str, Any]]:
    assignments = (
        AnnotationAssignment.objects.filter(document__project=project)
        .select_related("annotator", "assigned_by", "adjudicated_by")
        .prefetch_related(Prefetch("spans", queryset=AnnotatorSpan.objects.select_related("entity_type")))
        .order_by("document_id", "pk")
    )
    return [
        {
            "document": assignment.document_id,
            "annotator": assignment.annotator.get_username(),
            "status": assignment.status,
            "assigned_by": _username(assignment.assigned_by),
            "adjudicated_by": _username(assignment.adjudicated_by),
            "created_at": _time(assignment.created_at),
            "submitted_at": _time(assignment.submitted_at),
            "adjudicated_at": _time(assignment.adjudicated_at),
            "spans": [
                {"start": span.start, "end": span.end, "label": span.entity_type.name}
                for span in sorted(assignment.spans.all(), key=lambda s: (s.start, s.end, s.entity_type.name))
            ],
        }
        for assignment in assignments
    ]


def _curve_rows(project: Project) -> list[dict[str, Any]]:
    """Finished curves' results; a queued, running or failed curve is a job, not a result, and stays behind."""
    curves = (
        LearningCurve.objects.filter(project=project, status=LearningCurve.Status.SUCCEEDED)
        .select_related("requested_by")
        .order_by("created_at", "pk")
    )
    return [
        {
            "snapshot": curve.snapshot_id,
            "percents": curve.percents,
            "seed": curve.seed,
            "max_steps": curve.max_steps,
            "points": curve.points,
            "projection": curve.projection,
            "requested_by": _username(curve.requested_by),
            "created_at": _time(curve.created_at),
            "started_at": _time(curve.started_at),
            "finished_at": _time(curve.finished_at),
        }
        for curve in curves
    ]


def _model_entries(
    project: Project, include_models: bool, curve_snapshots: Iterable[int] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The project.json entries of snapshots and models: the snapshots the models and learning curves need."""
    models = (
        list(TrainedModel.objects.filter(project=project).select_related("run").order_by("pk"))
        if include_models
        else []
    )
    # Learning curves travel without the models (they are results, like the audit trail), so their snapshots do.
    needed = {model.run.snapshot_id for model in models} | set(curve_snapshots)
    snapshots = [
        {
            "id": snapshot.pk,
            "content_hash": snapshot.content_hash,
            "document_count": snapshot.document_count,
            "train_document_ids": snapshot.train_document_ids,
            "test_document_ids": snapshot.test_document_ids,
            "span_counts": snapshot.span_counts,
            "language": snapshot.language,
            "split_mode": snapshot.split_mode,
            "test_percent": snapshot.test_percent,
            "split_seed": snapshot.split_seed,
            "training_scope": snapshot.training_scope,
            "created_at": _time(snapshot.created_at),
            "file": f"snapshots/{snapshot.pk}.jsonl" if snapshot.file else "",
        }
        for snapshot in DatasetSnapshot.objects.filter(project=project, pk__in=needed).order_by("pk")
    ]
    entries = []
    for model in models:
        run = model.run
        entries.append(
            {
                "id": model.pk,
                "name": model.name,
                "labels": model.labels,
                "duration_s": model.duration_s,
                "snapshot_documents": model.snapshot_documents,
                "micro_f1": model.micro_f1,
                "size_bytes": model.size_bytes,
                "created_at": _time(model.created_at),
                "snapshot": run.snapshot_id,
                "run": {
                    "seed": run.seed,
                    "max_epochs": run.max_epochs,
                    "max_steps": run.max_steps,
                    "patience": run.patience,
                    "time_budget_minutes": run.time_budget_minutes,
                    "representation": run.representation,
                    "settings_rule": run.settings_rule,
                    "settings_reason": run.settings_reason,
                    "budget": run.budget,
                    "epoch": run.epoch,
                    "step": run.step,
                    "loss": run.loss,
                    "dev_f1": run.dev_f1,
                    "warnings": run.warnings,
                    "created_at": _time(run.created_at),
                    "started_at": _time(run.started_at),
                    "finished_at": _time(run.finished_at),
                },
                "files": f"models/{model.pk}/",
                "evaluation": f"evaluations/{model.pk}.json" if hasattr(model, "evaluation") else "",
            }
        )
    return snapshots, entries


def project_archive_write(
    *, project: Project, output: IO[bytes], include_models: bool = True, include_members: bool = False
) -> None:
    """Write the whole project as one zip into ``output`` (a file opened for binary writing)."""
    curves = _curve_rows(project)
    snapshots, models = _model_entries(project, include_models, (curve["snapshot"] for curve in curves))
    manifest: dict[str, Any] = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "exported_at": timezone.now().isoformat(),
        "project": {"name": project.name, **{name: getattr(project, name) for name in PROJECT_EDITABLE_FIELDS}},
        "entity_types": [
            {"name": t.name, "color": t.color, "hotkey": t.hotkey, "description": t.description}
            for t in project.entity_types.order_by("name")
        ],
        "members": (
            [
                {"username": m.user.get_username(), "role": m.role}
                for m in project.memberships.select_related("user").order_by("user__username")
            ]
            if include_members
            else []
        ),
        "documents": DOCUMENTS_FILE,
        "snapshots": snapshots,
        "models": models,
        **EXTRA_ENTRIES,
    }
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_FILE, json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr(DOCUMENTS_FILE, write_jsonl(_document_rows(project)))
        archive.writestr(AUDIT_FILE, dump_jsonl(_audit_rows(project)))
        archive.writestr(SUGGESTIONS_FILE, dump_jsonl(_suggestion_rows(project)))
        archive.writestr(AGREEMENT_FILE, dump_jsonl(_agreement_rows(project)))
        archive.writestr(LEARNING_CURVES_FILE, dump_jsonl(curves))
        for entry in snapshots:
            if entry["file"]:
                snapshot = DatasetSnapshot.objects.get(pk=entry["id"])
                archive.writestr(entry["file"], _read_storage(snapshot.file))
        for entry in models:
            model = TrainedModel.objects.get(pk=entry["id"])
            for relative in _storage_files(model.storage_path) if model.storage_path else []:
                archive.writestr(f"{entry['files']}{relative}", _read_storage(f"{model.storage_path}/{relative}"))
            evaluation = Evaluation.objects.filter(model=model).first()
            if evaluation is not None:
                archive.writestr(entry["evaluation"], json.dumps(evaluation.report, ensure_ascii=False))
                predictions = [
                    {
                        "position": p.position,
                        "name": p.name,
                        "content_hash": p.content_hash,
                        "document": p.document_id,
                        "spans": p.spans,
                        "error_count": p.error_count,
                        "outcome_counts": p.outcome_counts,
                    }
                    for p in evaluation.predictions.order_by("position")
                ]
                archive.writestr(f"predictions/{model.pk}.json", json.dumps(predictions, ensure_ascii=False))


def project_archive_bytes(*, project: Project, include_models: bool = True, include_members: bool = False) -> bytes:
    buffer = io.BytesIO()
    project_archive_write(
        project=project, output=buffer, include_models=include_models, include_members=include_members
    )
    return buffer.getvalue()


def archive_file_name(project: Project) -> str:
    return f"{project.name}-{timezone.now():%Y%m%d}.nerlab.zip"


# --------------------------------------------------------------------------------------------- reading


@dataclass
class _Archive:
    """An opened archive: its manifest and a reader for its entries (each checked before it is read)."""

    zip: zipfile.ZipFile
    manifest: dict[str, Any]
    names: set[str] = field(default_factory=set)

    def read(self, name: object) -> bytes:
        # Names come from project.json, which is the sender's: anything but one of the zip's own names is refused.
        if not isinstance(name, str):
            raise ArchiveError(f"project.json must name a file of the archive where it has {type_name(name)}.")
        if name not in self.names:
            raise ArchiveError(f"The archive lacks {name}, which project.json names.")
        info = self.zip.getinfo(name)
        if info.file_size > ARCHIVE_ENTRY_BYTES_MAX or (
            info.compress_size and info.file_size / info.compress_size > COMPRESSION_RATIO_MAX
        ):
            raise ArchiveError(f"{name} in the archive is too large or too compressed to be read safely.")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
            raise ArchiveError(f"{name} in the archive is damaged ({error}).") from None

    def under(self, folder: object) -> list[str]:
        if not isinstance(folder, str):
            raise ArchiveError(f"project.json must name a folder of the archive where it has {type_name(folder)}.")
        return sorted(name for name in self.names if name.startswith(folder) and not name.endswith("/"))


def _open(source: IO[bytes]) -> _Archive:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise ArchiveError("This is not a nerlab project archive: the file is not a zip.") from None
    infos = archive.infolist()
    if len(infos) > ARCHIVE_ENTRIES_MAX:
        raise ArchiveError(f"The archive holds {len(infos):,} files; at most {ARCHIVE_ENTRIES_MAX:,} are accepted.")
    for info in infos:
        # Nothing is ever extracted by its own name, but a path that climbs out is a sign of a hostile file.
        normal = posixpath.normpath(info.filename)
        if info.filename.startswith(("/", "\\")) or normal.startswith("..") or "\\" in info.filename:
            raise ArchiveError(f"The archive holds an unsafe path ({info.filename!r}); it was not imported.")
    result = _Archive(zip=archive, manifest={}, names={info.filename for info in infos})
    if PROJECT_FILE not in result.names:
        raise ArchiveError(
            "This is not a nerlab project archive (no project.json). To import labelled documents in another format, "
            "use the project's Import page."
        )
    manifest = _json_entry(result, PROJECT_FILE)
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError("project.json is not a nerlab project archive's manifest.")
    version = manifest.get("version")
    if not is_int(version) or version not in READABLE_VERSIONS:
        readable = " and ".join(str(number) for number in READABLE_VERSIONS)
        raise ArchiveError(f"This archive has format version {version!r}; this nerlab reads versions {readable}.")
    for key, kind in (("project", dict), ("entity_types", list), ("snapshots", list), ("models", list)):
        if not isinstance(manifest.get(key), kind):
            raise ArchiveError(f"project.json: {key!r} is missing or not a {kind.__name__}.")
    result.manifest = manifest
    return result


@dataclass(frozen=True)
class ArchiveSummary:
    """What an archive holds, for the import page's preview and the command line."""

    name: str
    documents: int
    entity_types: list[str]
    models: list[str]
    members: list[str]
    # Lines of the version 2 entries (0 in a version 1 archive).
    audit_events: int = 0
    suggestions: int = 0
    agreement_copies: int = 0
    learning_curves: int = 0


def _entry_name(archive: _Archive, key: str) -> str | None:
    """The archive's file for one of the ``EXTRA_ENTRIES``, or None when it has none (a version 1 archive)."""
    named = archive.manifest.get(key)
    if named is None:
        default = EXTRA_ENTRIES[key]
        return default if default in archive.names else None
    if not isinstance(named, str) or not named:
        raise ArchiveError(f"project.json: {key!r} must name a file of the archive.")
    return named  # _Archive.read says so when the archive lacks it


def _line_count(archive: _Archive, key: str) -> int:
    name = _entry_name(archive, key)
    return sum(1 for line in archive.read(name).split(b"\n") if line.strip()) if name else 0


def project_archive_inspect(*, source: IO[bytes]) -> ArchiveSummary:
    archive = _open(source)
    manifest = archive.manifest
    documents = archive.read(manifest.get("documents") or DOCUMENTS_FILE).count(b"\n")
    return ArchiveSummary(
        name=str(manifest["project"].get("name", "")),
        documents=documents,
        entity_types=[str(t.get("name")) for t in manifest["entity_types"] if isinstance(t, dict)],
        models=[str(m.get("name")) for m in manifest["models"] if isinstance(m, dict)],
        members=[
            f"{m.get('username')} ({m.get('role')})" for m in manifest.get("members") or [] if isinstance(m, dict)
        ],
        audit_events=_line_count(archive, "audit"),
        suggestions=_line_count(archive, "suggestions"),
        agreement_copies=_line_count(archive, "agreement"),
        learning_curves=_line_count(archive, "learning_curves"),
    )


def _check_name(name: str) -> None:
    try:
        check_project_name(name)
    except InvalidName as error:
        raise ArchiveError({"name": str(error)}) from None
    if Project.objects.filter(name__iexact=name).exists():
        raise ArchiveError(
            {
                "name": f"A project named {name} already exists (names are compared without regard to case); "
                "choose another name for the imported project."
            }
        )


def _documents(archive: _Archive) -> tuple[list[LabeledDoc], list[int]]:
    """The archive's documents, and the line of documents.jsonl each is on (for problems found in their meta)."""
    name = archive.manifest.get("documents") or DOCUMENTS_FILE
    data = archive.read(name)
    if not data.strip():
        return [], []
    try:
        docs = read_jsonl(data, file_name=name)
    except FormatError as error:
        raise ArchiveError([str(problem) for problem in error.problems[:50]]) from None
    # read_jsonl made a document of every non-blank line (or refused the file): the n-th is on the n-th such line.
    lines = [number for number, line in enumerate(decode_bytes(data).split("\n"), start=1) if line.strip()]
    return docs, lines


# --------------------------------------------------------------------------------------------- version 2 entries


@dataclass(frozen=True)
class _AuditRow:
    document: str | None  # archive document id; None: the document was deleted before the export
    document_name: str
    span: int | None  # the span id the event had: groups the events of one tag
    action: str
    source: str
    entity_type: str
    previous_entity_type: str
    start: int
    end: int
    surface: str
    user: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class _SuggestionRow:
    document: str
    start: int
    end: int
    entity_type: str
    confidence: float
    model_name: str
    created_at: datetime | None


@dataclass(frozen=True)
class _CopyRow:
    document: str
    annotator: str
    status: str
    assigned_by: str | None
    adjudicated_by: str | None
    created_at: datetime | None
    submitted_at: datetime | None
    adjudicated_at: datetime | None
    spans: tuple[NerSpan, ...]


@dataclass(frozen=True)
class _CurveRow:
    snapshot: int  # the snapshot's id in project.json
    percents: list[int]
    seed: int
    max_steps: int
    points: list[dict[str, Any]]
    projection: dict[str, Any]
    requested_by: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass
class _Extras:
    """What the version 2 entries hold, every line checked before anything is written."""

    uncertainty: dict[int, tuple[float, str]] = field(default_factory=dict)  # document's index -> score, model
    audit: list[_AuditRow] = field(default_factory=list)
    suggestions: list[_SuggestionRow] = field(default_factory=list)
    copies: list[_CopyRow] = field(default_factory=list)
    curves: list[_CurveRow] = field(default_factory=list)

    def usernames(self) -> set[str]:
        names = {row.user for row in self.audit}
        for copy in self.copies:
            names.update((copy.annotator, copy.assigned_by, copy.adjudicated_by))
        names.update(curve.requested_by for curve in self.curves)
        return {name for name in names if name}


def _max_length(model: type[Model], name: str) -> int:
    return int(model._meta.get_field(name).max_length or 0)  # type: ignore[union-attr]


def _describe(value: object) -> str:
    if value is None:
        return "missing"
    shown = repr(value)
    return f"{type_name(value)} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Lines:
    """Reads one JSONL entry line by line, keeping every problem with the entry's name, the line and the field.

    The checks return a harmless value after recording a problem; a line with any problem is left out, and the
    import stops when any line had one.
    """

    def __init__(self, name: str) -> None:
        self.problems = Problems(name)
        self.where = ""

    def rows(self, data: bytes) -> Iterator[dict[str, Any]]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            self.problems.add(f"the file is not UTF-8 text ({error.reason} at byte {error.start})")
            return
        for number, value in parse_jsonl(text, self.problems):
            self.where = f"line {number}"
            if isinstance(value, dict):
                yield value
            else:
                self.bad("", f"each line must be a JSON object, not {type_name(value)}")

    def bad(self, key: str, message: str) -> None:
        self.bad_at(f"'{key}'" if key else "", message)

    def bad_at(self, field_name: str, message: str) -> None:
        """A problem in a nested field, named as the documents' readers name them: 'spans'[2].'label'."""
        self.problems.add(message, where=self.where, field=field_name)

    def first_of_its_key(self, problems_before: int, key: Hashable, seen: dict[Any, str], what: str) -> bool:
        """Whether the line read without problems since ``problems_before`` and its key is new (then recorded in
        ``seen``); a repeated key is a problem naming ``what`` and the line that had it first."""
        if len(self.problems) != problems_before:
            return False
        if key in seen:
            self.bad("", f"repeats {what} on {seen[key]}")
            return False
        seen[key] = self.where
        return True

    def integer(self, row: Mapping[str, Any], key: str, *, minimum: int = 0, maximum: int | None = None) -> int:
        value = row.get(key)
        if is_int(value) and value >= minimum and (maximum is None or value <= maximum):
            return int(value)
        limits = f"from {minimum}" + (f" to {maximum}" if maximum is not None else "")
        self.bad(key, f"must be a whole number {limits}, not {_describe(value)}")
        return minimum

    def optional_integer(self, row: Mapping[str, Any], key: str) -> int | None:
        return None if row.get(key) is None else self.integer(row, key)

    def string(self, row: Mapping[str, Any], key: str, *, max_length: int, required: bool = True) -> str:
        """A string of at most ``max_length`` characters; a required one must not be empty, others may be absent."""
        value = row.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.bad(key, f"must be {'a non-empty' if required else 'a'} string, not {_describe(value)}")
            return ""
        if len(value) > max_length:
            self.bad(key, f"is {len(value):,} characters long; at most {max_length:,} are allowed")
            return ""
        return value

    def username(self, row: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
        if row.get(key) is None and not required:
            return None
        return self.string(row, key, max_length=_USERNAME_MAX) or None

    def choice(self, row: Mapping[str, Any], key: str, choices: Iterable[str]) -> str:
        value, allowed = row.get(key), list(choices)
        if value in allowed:
            return str(value)
        self.bad(key, f"must be one of {', '.join(allowed)}, not {_describe(value)}")
        return allowed[0]

    def moment(self, row: Mapping[str, Any], key: str, *, required: bool = False) -> datetime | None:
        value = row.get(key)
        if value is None and not required:
            return None
        try:
            moment = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.bad(key, f"must be a date and time such as 2026-01-31T09:30:00+00:00, not {_describe(value)}")
            return None
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)

    def number(self, row: Mapping[str, Any], key: str, low: float, high: float) -> float:
        value = row.get(key)
        if _is_number(value) and low <= value <= high:
            return float(value)
        self.bad(key, f"must be a number from {low:g} to {high:g}, not {_describe(value)}")
        return low

    def document(self, row: Mapping[str, Any], key: str, documents: Mapping[str, LabeledDoc]) -> str:
        """An archive document id (the ``id`` in documents.jsonl's meta), as the string that meta holds."""
        value = row.get(key)
        if (is_int(value) or isinstance(value, str)) and str(value) in documents:
            return str(value)
        shown = repr(value) if is_int(value) or isinstance(value, str) else _describe(value)
        self.bad(key, f"names document {shown}, which documents.jsonl does not hold")
        return ""

    def entity_type(self, value: object, types: set[str], *, field_name: str) -> str:
        if isinstance(value, str) and value in types:
            return value
        shown = repr(value) if isinstance(value, str) else _describe(value)
        self.bad_at(field_name, f"names entity type {shown}, which the archive does not define")
        return ""

    def region(self, start: object, end: object, doc: LabeledDoc | None, *, field_name: str = "") -> tuple[int, int]:
        """[start, end) inside the document's text (not checked when the document itself is the problem)."""
        if doc is not None and check_offsets(
            start, end, len(doc.text), self.problems, where=self.where, field=field_name
        ):
            assert isinstance(start, int) and isinstance(end, int)
            return start, end
        return 0, 0


def _read_uncertainty(
    docs: list[LabeledDoc], lines: list[int], name: str
) -> tuple[dict[int, tuple[float, str]], Problems]:
    problems = Problems(name)
    scores: dict[int, tuple[float, str]] = {}
    model_max = _max_length(Document, "uncertainty_model")
    for index, doc in enumerate(docs):
        raw = doc.meta.get("uncertainty")
        if raw is None or raw in ("", "null"):
            continue
        where = f"line {lines[index]}" if index < len(lines) else f"document {index + 1}"
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:  # NaN fails too
            problems.add(f"must be a number from 0 to 1, not {raw!r}", where=where, field="'meta'.'uncertainty'")
            continue
        model = doc.meta.get("uncertainty_model", "")
        if len(model) > model_max:
            problems.add(f"is longer than {model_max} characters", where=where, field="'meta'.'uncertainty_model'")
            continue
        scores[index] = (value, model)
    return scores, problems


def _read_audit(lines: _Lines, data: bytes, documents: Mapping[str, LabeledDoc]) -> list[_AuditRow]:
    rows = []
    for row in lines.rows(data):
        before = len(lines.problems)
        document = None if row.get("document") is None else lines.document(row, "document", documents)
        start = lines.integer(row, "start", maximum=_COLUMN_INT_MAX)
        end = lines.integer(row, "end", maximum=_COLUMN_INT_MAX)
        if end < start:
            lines.bad("end", f"end {end} is before start {start}")
        event = _AuditRow(
            document=document,
            document_name=lines.string(row, "document_name", max_length=_max_length(SpanEvent, "document_name")),
            span=lines.optional_integer(row, "span"),
            action=lines.choice(row, "action", SpanEvent.Action.values),
            source=lines.choice(row, "source", SpanEvent.Source.values),
            entity_type=lines.string(row, "entity_type", max_length=_max_length(SpanEvent, "entity_type")),
            previous_entity_type=lines.string(
                row, "previous_entity_type", max_length=_max_length(SpanEvent, "previous_entity_type"), required=False
            ),
            start=start,
            end=end,
            surface=lines.string(row, "surface", max_length=_max_length(SpanEvent, "surface"), required=False),
            user=lines.username(row, "user"),
            created_at=lines.moment(row, "created_at", required=True),
        )
        if len(lines.problems) == before:
            rows.append(event)
    return rows


def _read_suggestions(
    lines: _Lines, data: bytes, documents: Mapping[str, LabeledDoc], types: set[str]
) -> list[_SuggestionRow]:
    rows = []
    seen: dict[tuple[str, int, int, str], str] = {}
    for row in lines.rows(data):
        before = len(lines.problems)
        document = lines.document(row, "document", documents)
        start, end = lines.region(row.get("start"), row.get("end"), documents.get(document))
        suggestion = _SuggestionRow(
            document=document,
            start=start,
            end=end,
            entity_type=lines.entity_type(row.get("entity_type"), types, field_name="'entity_type'"),
            confidence=lines.number(row, "confidence", 0.0, 1.0),
            model_name=lines.string(row, "model_name", max_length=_max_length(Suggestion, "model_name")),
            created_at=lines.moment(row, "created_at"),
        )
        key = (suggestion.document, start, end, suggestion.entity_type)
        if lines.first_of_its_key(before, key, seen, "the suggestion"):
            rows.append(suggestion)
    return rows


def _read_copy_spans(lines: _Lines, raw_spans: object, doc: LabeledDoc | None, types: set[str]) -> tuple[NerSpan, ...]:
    if not isinstance(raw_spans, list):
        lines.bad("spans", f"must be a list of spans, not {_describe(raw_spans)}")
        return ()
    spans: set[NerSpan] = set()
    for index, raw in enumerate(raw_spans):
        field_name = f"'spans'[{index}]"
        if not isinstance(raw, dict):
            lines.bad_at(field_name, f"a span must be an object with start, end and label, not {type_name(raw)}")
            continue
        before = len(lines.problems)
        label = lines.entity_type(raw.get("label"), types, field_name=f"{field_name}.'label'")
        start, end = lines.region(raw.get("start"), raw.get("end"), doc, field_name=field_name)
        span = NerSpan(start, end, label)
        if len(lines.problems) == before:
            if span in spans:
                lines.bad_at(field_name, f"repeats the span {label} {start}-{end}")
            spans.add(span)
    return tuple(sorted(spans))


def _read_copies(lines: _Lines, data: bytes, documents: Mapping[str, LabeledDoc], types: set[str]) -> list[_CopyRow]:
    rows = []
    seen: dict[tuple[str, str], str] = {}
    for row in lines.rows(data):
        before = len(lines.problems)
        document = lines.document(row, "document", documents)
        copy = _CopyRow(
            document=document,
            annotator=lines.username(row, "annotator", required=True) or "",
            status=lines.choice(row, "status", AnnotationAssignment.Status.values),
            assigned_by=lines.username(row, "assigned_by"),
            adjudicated_by=lines.username(row, "adjudicated_by"),
            created_at=lines.moment(row, "created_at"),
            submitted_at=lines.moment(row, "submitted_at"),
            adjudicated_at=lines.moment(row, "adjudicated_at"),
            spans=_read_copy_spans(lines, row.get("spans", []), documents.get(document), types),
        )
        what = f"{copy.annotator}'s copy of document {copy.document}"
        if lines.first_of_its_key(before, (copy.document, copy.annotator), seen, what):
            rows.append(copy)
    return rows


# What the learning curve page reads of each point (evaluation.learning_curve writes more).
_POINT_NUMBERS: Final = ("percent", "documents", "instances", "micro_f1", "precision", "recall", "duration_s")


def _point_problem(point: object) -> str | None:
    """What keeps ``point`` from being drawn on the learning curve page, or None."""
    if not isinstance(point, dict):
        return f"must be an object, not {type_name(point)}"
    for key in _POINT_NUMBERS:
        if not _is_number(point.get(key)):
            return f"{key!r} must be a number, not {_describe(point.get(key))}"
    per_type = point.get("per_type", {})
    if not isinstance(per_type, dict):
        return f"'per_type' must be an object, not {type_name(per_type)}"
    for label, scores in per_type.items():
        if not isinstance(scores, dict) or not (_is_number(scores.get("f1")) and _is_number(scores.get("instances"))):
            return f"'per_type' {label!r} needs the numbers 'f1' and 'instances'"
    return None


def _read_curves(lines: _Lines, data: bytes, snapshot_ids: set[int]) -> list[_CurveRow]:
    rows = []
    for row in lines.rows(data):
        before = len(lines.problems)
        snapshot = lines.integer(row, "snapshot")
        if len(lines.problems) == before and snapshot not in snapshot_ids:
            lines.bad("snapshot", f"names snapshot {snapshot}, which project.json does not list")
        percents = row.get("percents")
        if not (isinstance(percents, list) and percents and all(is_int(p) and 1 <= p <= 100 for p in percents)):
            lines.bad("percents", f"must be a list of whole numbers from 1 to 100, not {_describe(percents)}")
            percents = []
        points = row.get("points")
        if not isinstance(points, list):
            lines.bad("points", f"must be a list, not {_describe(points)}")
            points = []
        for index, point in enumerate(points):
            if (problem := _point_problem(point)) is not None:
                lines.bad_at(f"'points'[{index}]", problem)
        projection = row.get("projection", {})
        try:
            if not isinstance(projection, dict):
                raise TypeError
            Projection.from_dict(projection)
        except (TypeError, ValueError, AttributeError):
            lines.bad("projection", "must be a learning curve projection (an object as nerlab writes it)")
        curve = _CurveRow(
            snapshot=snapshot,
            percents=list(percents),
            seed=lines.integer(row, "seed", maximum=_COLUMN_INT_MAX),
            max_steps=lines.integer(row, "max_steps", minimum=1, maximum=_COLUMN_INT_MAX),
            points=list(points),
            projection=dict(projection) if isinstance(projection, dict) else {},
            requested_by=lines.username(row, "requested_by"),
            created_at=lines.moment(row, "created_at"),
            started_at=lines.moment(row, "started_at"),
            finished_at=lines.moment(row, "finished_at"),
        )
        if len(lines.problems) == before:
            rows.append(curve)
    return rows


def _read_extras(archive: _Archive, docs: list[LabeledDoc], doc_lines: list[int]) -> _Extras:
    """Parse and check the version 2 entries (absent ones are empty); raises ArchiveError listing every problem."""
    manifest = archive.manifest
    documents = {doc.meta["id"]: doc for doc in docs if "id" in doc.meta}
    types = {str(t.get("name")) for t in manifest["entity_types"] if isinstance(t, dict)}
    types |= {span.label for doc in docs for span in doc.spans}  # the import creates these too
    snapshot_ids = {e["id"] for e in manifest["snapshots"] if isinstance(e, dict) and is_int(e.get("id"))}
    extras = _Extras()
    extras.uncertainty, problems = _read_uncertainty(docs, doc_lines, manifest.get("documents") or DOCUMENTS_FILE)
    found = list(problems.items)
    for key in EXTRA_ENTRIES:
        name = _entry_name(archive, key)
        if name is None:
            continue
        lines, data = _Lines(name), archive.read(name)
        if key == "audit":
            extras.audit = _read_audit(lines, data, documents)
        elif key == "suggestions":
            extras.suggestions = _read_suggestions(lines, data, documents, types)
        elif key == "agreement":
            extras.copies = _read_copies(lines, data, documents, types)
        else:
            extras.curves = _read_curves(lines, data, snapshot_ids)
        found.extend(lines.problems.items)
    if found:
        raise _archive_error(found)
    return extras


def _archive_error(found: list[Problem]) -> ArchiveError:
    messages = [str(problem) for problem in found[:_PROBLEMS_SHOWN]]
    if len(found) > _PROBLEMS_SHOWN:
        messages.append(f"... and {len(found) - _PROBLEMS_SHOWN:,} more problems")
    return ArchiveError(["The archive could not be imported:", *messages])


@dataclass
class _Restore:
    """Bookkeeping while restoring: old ids -> new rows, and every file written (to undo on failure)."""

    project: Project
    document_ids: dict[str, int] = field(default_factory=dict)  # archive document id -> new pk
    snapshots: dict[int, DatasetSnapshot] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    def save(self, path: str, data: bytes) -> str:
        stored = default_storage.save(path, ContentFile(data))
        self.written.append(stored)
        return stored


def _restore_documents(
    restore: _Restore, docs: list[LabeledDoc], user: AbstractBaseUser, uncertainty: Mapping[int, tuple[float, str]]
) -> None:
    # Statuses are restored after the import, which marks a document with spans "tagged".
    report = labeled_docs_import(
        project=restore.project,
        user=user,
        docs=[LabeledDoc(d.text, d.spans, d.name, d.language, d.split, _own_metadata(d)) for d in docs],
    )
    if not report.written:
        problems = [str(problem) for problem in report.problems[:50]] or [report.summary()]
        raise ArchiveError(["The archive's documents could not be imported:", *problems])
    by_text = dict(Document.objects.filter(project=restore.project).values_list("content_hash", "pk"))
    by_status: dict[str, list[int]] = {}
    scored: list[Document] = []
    for index, doc in enumerate(docs):
        pk = by_text.get(content_hash(doc.text))
        if pk is None:
            continue
        if "id" in doc.meta:
            restore.document_ids[doc.meta["id"]] = pk
        status = doc.meta.get("status", "")
        if status in _STATUSES:
            by_status.setdefault(status, []).append(pk)
        if index in uncertainty:
            score, model_name = uncertainty[index]
            scored.append(Document(pk=pk, uncertainty=score, uncertainty_model=model_name))
    for status, ids in by_status.items():
        fields: dict[str, Any] = {"status": status}
        if status != Document.Status.TAGGED:
            fields.update(tagged_by=None, tagged_at=None)
        Document.objects.filter(pk__in=ids).update(**fields)
    Document.objects.bulk_update(scored, ["uncertainty", "uncertainty_model"], batch_size=_BULK_BATCH)


def _own_metadata(doc: LabeledDoc) -> dict[str, str]:
    """The document's own metadata, which the archive keeps as JSON text under ``metadata`` (archives before it
    have none)."""
    text = doc.meta.get("metadata")
    if not text:
        return {}
    try:
        value = load_json(text)
    except (json.JSONDecodeError, JsonInputError):
        value = None
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise ArchiveError([f"documents.jsonl: {doc.name!r}: meta 'metadata' must be a JSON object of texts."])
    return {str(key): item for key, item in value.items()}


def _new_ids(restore: _Restore, ids: list[Any]) -> list[int]:
    return [restore.document_ids[str(pk)] for pk in ids if str(pk) in restore.document_ids]


def _whole(lines: _Lines, row: Mapping[str, Any], key: str, default: int = 0, maximum: int = _COLUMN_INT_MAX) -> int:
    """An optional whole number of a project.json entry; ``default`` when absent or 0 (as the old code read it)."""
    if row.get(key) is None:
        return default
    return lines.integer(row, key, maximum=maximum) or default


def _optional_text(lines: _Lines, row: Mapping[str, Any], key: str, model: type[Model], default: str) -> str:
    return lines.string(row, key, max_length=_max_length(model, key), required=False) or default


def _of_kind(lines: _Lines, row: Mapping[str, Any], key: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
    """An optional list or object of a project.json entry; an empty one when absent."""
    value = row.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        lines.bad(key, f"must be {'a list' if kind is list else 'an object'}, not {_describe(value)}")
        return kind()
    return value


def _restore_snapshots(restore: _Restore, archive: _Archive, only: set[int] | None = None) -> None:
    """The archive's snapshots (``only`` those ids, when given)."""
    project = restore.project
    lines = _Lines(PROJECT_FILE)
    for index, entry in enumerate(archive.manifest["snapshots"], start=1):
        if not isinstance(entry, dict) or not is_int(entry.get("id")):
            raise ArchiveError("project.json: each snapshot needs an integer id.")
        if only is not None and entry["id"] not in only:
            continue
        lines.where = f"snapshot {index}"
        problems_before = len(lines.problems)
        snapshot = DatasetSnapshot(
            project=project,
            content_hash=_optional_text(lines, entry, "content_hash", DatasetSnapshot, ""),
            file="",
            document_count=_whole(lines, entry, "document_count"),
            train_document_ids=_new_ids(restore, _of_kind(lines, entry, "train_document_ids", list)),
            test_document_ids=_new_ids(restore, _of_kind(lines, entry, "test_document_ids", list)),
            span_counts=_of_kind(lines, entry, "span_counts", dict),
            language=_optional_text(lines, entry, "language", DatasetSnapshot, project.language),
            split_mode=_optional_text(lines, entry, "split_mode", DatasetSnapshot, project.split_mode),
            test_percent=_whole(lines, entry, "test_percent", project.test_percent, maximum=100),
            split_seed=_whole(lines, entry, "split_seed"),
            training_scope=_optional_text(lines, entry, "training_scope", DatasetSnapshot, project.training_scope),
        )
        file_name = entry.get("file")
        if file_name is not None and not isinstance(file_name, str):
            lines.bad("file", f"must name a file of the archive, not {_describe(file_name)}")
        if len(lines.problems) != problems_before:
            continue
        snapshot.save()
        if file_name:
            docs = _snapshot_docs(archive, file_name)
            remapped = [
                LabeledDoc(
                    d.text,
                    d.spans,
                    d.name,
                    d.language,
                    d.split,
                    # The live document's new id ("0": the document no longer existed when the archive was made).
                    {**d.meta, "document_id": str(restore.document_ids.get(d.meta.get("document_id", ""), 0))},
                )
                for d in docs
            ]
            snapshot.file = restore.save(
                f"{project_storage_prefix(project.pk)}/snapshots/{snapshot.pk}.jsonl", write_jsonl(remapped)
            )
            snapshot.save(update_fields=["file"])
        restore.snapshots[entry["id"]] = snapshot
    if lines.problems:
        raise _archive_error(lines.problems.items)


def _snapshot_docs(archive: _Archive, name: str) -> list[LabeledDoc]:
    try:
        return read_jsonl(archive.read(name), file_name=name)
    except FormatError as error:
        raise ArchiveError([str(problem) for problem in error.problems[:20]]) from None


def _json_entry(archive: _Archive, name: str) -> Any:
    try:
        return load_json(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, JsonInputError) as error:
        raise ArchiveError(f"{name} in the archive is not valid JSON ({error}).") from None


def _optional_number(lines: _Lines, row: Mapping[str, Any], key: str, high: float = math.inf) -> float | None:
    return None if row.get(key) is None else lines.number(row, key, 0.0, high)


def _text(lines: _Lines, row: Mapping[str, Any], key: str) -> str:
    """An optional text of any length (a TextField's)."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        lines.bad(key, f"must be a string, not {_describe(value)}")
        return ""
    return value


def _strings(lines: _Lines, row: Mapping[str, Any], key: str) -> list[str]:
    values = _of_kind(lines, row, key, list)
    if not all(isinstance(value, str) for value in values):
        lines.bad(key, "must be a list of strings")
        return []
    return list(values)


def _model_rows(lines: _Lines, entry: Mapping[str, Any], restore: _Restore) -> tuple[TrainingRun, TrainedModel]:
    """The run and the model of one project.json model entry, unsaved; a wrongly typed field is a problem."""
    run_fields = _of_kind(lines, entry, "run", dict)
    snapshot_id = entry.get("snapshot")
    snapshot = restore.snapshots.get(snapshot_id) if is_int(snapshot_id) else None
    if snapshot is None:
        lines.bad("snapshot", f"names snapshot {_describe(snapshot_id)}, which the archive does not hold")
    max_epochs = _whole(lines, run_fields, "max_epochs")
    run = TrainingRun(
        project=restore.project,
        snapshot=snapshot,
        model_name=entry["name"],
        status=TrainingRun.Status.SUCCEEDED,
        phase=TrainingRun.Phase.DONE,
        seed=_whole(lines, run_fields, "seed"),
        max_epochs=max_epochs,
        max_steps=_whole(lines, run_fields, "max_steps") or (0 if max_epochs else 1),
        patience=_whole(lines, run_fields, "patience"),
        # Archives from before encoders existed trained the CNN.
        representation=_optional_text(lines, run_fields, "representation", TrainingRun, "cnn"),
        time_budget_minutes=(
            None if run_fields.get("time_budget_minutes") is None else _whole(lines, run_fields, "time_budget_minutes")
        ),
        settings_rule=_optional_text(lines, run_fields, "settings_rule", TrainingRun, ""),
        settings_reason=_text(lines, run_fields, "settings_reason"),
        # What a time budget chose: "same settings" retrains of the clone reuse its steps.
        budget=_of_kind(lines, run_fields, "budget", dict),
        percent=100.0,
        epoch=_whole(lines, run_fields, "epoch"),
        step=_whole(lines, run_fields, "step"),
        loss=_optional_number(lines, run_fields, "loss"),
        dev_f1=_optional_number(lines, run_fields, "dev_f1", 1.0),
        warnings=_strings(lines, run_fields, "warnings"),
        started_at=lines.moment(run_fields, "started_at"),
        finished_at=lines.moment(run_fields, "finished_at"),
    )
    model = TrainedModel(
        project=restore.project,
        run=run,
        name=entry["name"],
        storage_path="",
        labels=_strings(lines, entry, "labels"),
        duration_s=_optional_number(lines, entry, "duration_s") or 0.0,
        snapshot_documents=_whole(lines, entry, "snapshot_documents"),
        micro_f1=_optional_number(lines, entry, "micro_f1", 1.0) or 0.0,
        size_bytes=_whole(lines, entry, "size_bytes", maximum=2**63 - 1),
    )
    for key in ("files", "evaluation"):
        if entry.get(key) is not None and not isinstance(entry.get(key), str):
            lines.bad(key, f"must name a file or folder of the archive, not {_describe(entry.get(key))}")
    return run, model


def _prediction_rows(archive: _Archive, name: str, evaluation: Evaluation, by_hash: Mapping[str, int]) -> None:
    """The per-document predictions of one model's evaluation; raises ArchiveError listing every bad row."""
    rows = _json_entry(archive, name)
    lines = _Lines(name)
    if not isinstance(rows, list):
        raise ArchiveError(f"{name} in the archive must be a list of predictions, not {type_name(rows)}.")
    predictions = []
    for index, row in enumerate(rows, start=1):
        lines.where = f"prediction {index}"
        if not isinstance(row, dict):
            lines.bad("", f"each prediction must be an object, not {type_name(row)}")
            continue
        content = lines.string(row, "content_hash", max_length=_max_length(Prediction, "content_hash"), required=False)
        predictions.append(
            Prediction(
                evaluation=evaluation,
                document_id=by_hash.get(content),
                position=lines.integer(row, "position", maximum=_COLUMN_INT_MAX),
                name=str(row.get("name", ""))[:500],
                content_hash=content,
                spans=_of_kind(lines, row, "spans", list),
                error_count=_whole(lines, row, "error_count"),
                outcome_counts=_of_kind(lines, row, "outcome_counts", dict),
            )
        )
    if lines.problems:
        raise _archive_error(lines.problems.items)
    Prediction.objects.bulk_create(predictions, batch_size=500)


def _restore_models(restore: _Restore, archive: _Archive) -> None:
    project = restore.project
    by_hash = dict(Document.objects.filter(project=project).values_list("content_hash", "pk"))
    lines = _Lines(PROJECT_FILE)
    for index, entry in enumerate(archive.manifest["models"], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ArchiveError("project.json: each model needs a name.")
        lines.where = f"model {index} ({entry['name']!r})"
        problems_before = len(lines.problems)
        run, model = _model_rows(lines, entry, restore)
        if len(lines.problems) != problems_before:
            continue
        folder = entry.get("files") or f"models/{entry.get('id')}/"
        files = archive.under(folder)
        if not files:
            raise ArchiveError(f"The archive holds no files for model {entry['name']}; it could not be deployed.")
        run.full_clean(exclude=["snapshot"])
        run.save()
        model.run = run
        model.full_clean(exclude=["storage_path", "run"])
        model.save()
        prefix = f"{project_storage_prefix(project.pk)}/models/{model.pk}"
        for name in files:
            restore.save(f"{prefix}/{name.removeprefix(folder)}", archive.read(name))
        TrainedModel.objects.filter(pk=model.pk).update(storage_path=prefix)
        if entry.get("evaluation"):
            report = _json_entry(archive, entry["evaluation"])
            if not isinstance(report, dict):
                raise ArchiveError(f"{entry['evaluation']} in the archive must be an object, not {type_name(report)}.")
            evaluation = Evaluation.objects.create(model=model, report=report)
            predictions_name = f"predictions/{entry.get('id')}.json"
            if predictions_name in archive.names:
                _prediction_rows(archive, predictions_name, evaluation, by_hash)
    if lines.problems:
        raise _archive_error(lines.problems.items)


def _keep_times(model: type[Model], rows: list[Any], times: list[datetime | None]) -> None:
    """Put the archive's creation times back: ``auto_now_add`` stamped the bulk-created rows with the import's."""
    changed = []
    for row, moment in zip(rows, times, strict=True):
        if moment is not None:
            row.created_at = moment
            changed.append(row)
    model.objects.bulk_update(changed, ["created_at"], batch_size=_BULK_BATCH)  # type: ignore[attr-defined]


def _users_by_name(names: set[str]) -> dict[str, AbstractBaseUser]:
    users = get_user_model()
    wanted = sorted(names)
    found: dict[str, AbstractBaseUser] = {}
    for index in range(0, len(wanted), _BULK_BATCH):
        chunk = wanted[index : index + _BULK_BATCH]
        for user in users.objects.filter(**{f"{users.USERNAME_FIELD}__in": chunk}):
            found[user.get_username()] = user
    return found


def _listed(names: Iterable[str], limit: int = 10) -> str:
    ordered = sorted(set(names))
    shown = ", ".join(ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _restore_audit(restore: _Restore, rows: list[_AuditRow], users: Mapping[str, AbstractBaseUser]) -> list[str]:
    """The trail, with each tag's events linked to the imported tag where it still stands; returns notes."""
    live = {
        (document, start, end, label): pk
        for pk, document, start, end, label in Span.objects.filter(document__project=restore.project)
        .order_by()
        .values_list("pk", "document_id", "start", "end", "entity_type__name")
    }
    last: dict[int, _AuditRow] = {}
    for row in rows:  # oldest first, so the last one seen is where the tag ended up
        if row.span is not None:
            last[row.span] = row
    span_ids: dict[int, int] = {}
    claimed: set[int] = set()
    for key, row in last.items():
        document = restore.document_ids.get(row.document) if row.document is not None else None
        if document is None or row.action == SpanEvent.Action.DELETED:
            continue
        pk = live.get((document, row.start, row.end, row.entity_type))
        if pk is not None and pk not in claimed:
            span_ids[key] = pk
            claimed.add(pk)
    events = [
        SpanEvent(
            project=restore.project,
            document_id=restore.document_ids.get(row.document) if row.document is not None else None,
            document_name=row.document_name,
            span_id=span_ids.get(row.span) if row.span is not None else None,
            action=row.action,
            source=row.source,
            entity_type=row.entity_type,
            previous_entity_type=row.previous_entity_type,
            start=row.start,
            end=row.end,
            surface=row.surface,
            user=users.get(row.user) if row.user else None,
        )
        for row in rows
    ]
    _keep_times(
        SpanEvent, SpanEvent.objects.bulk_create(events, batch_size=_BULK_BATCH), [row.created_at for row in rows]
    )
    unknown = {row.user for row in rows if row.user and row.user not in users}
    if not unknown:
        return []
    return [f"The audit trail names users who do not exist here ({_listed(unknown)}); their changes keep no user."]


def _restore_suggestions(restore: _Restore, rows: list[_SuggestionRow], types: Mapping[str, Any]) -> None:
    kept = [row for row in rows if row.document in restore.document_ids]
    suggestions = [
        Suggestion(
            document_id=restore.document_ids[row.document],
            entity_type=types[row.entity_type],
            start=row.start,
            end=row.end,
            confidence=row.confidence,
            model_name=row.model_name,
        )
        for row in kept
    ]
    created = Suggestion.objects.bulk_create(suggestions, batch_size=_BULK_BATCH)
    _keep_times(Suggestion, created, [row.created_at for row in kept])


def _restore_copies(
    restore: _Restore, rows: list[_CopyRow], types: Mapping[str, Any], users: Mapping[str, AbstractBaseUser]
) -> list[str]:
    """Each annotator's copy with its tags; a copy whose annotator does not exist here is skipped (a note says so).

    Annotators need not be members of the new project: their copies still count for agreement and adjudication,
    and they can work on an open one once they are given a role that may tag.
    """
    kept = [row for row in rows if row.document in restore.document_ids and row.annotator in users]
    assignments = [
        AnnotationAssignment(
            document_id=restore.document_ids[row.document],
            annotator=users[row.annotator],
            status=row.status,
            assigned_by=users.get(row.assigned_by) if row.assigned_by else None,
            submitted_at=row.submitted_at,
            adjudicated_at=row.adjudicated_at,
            adjudicated_by=users.get(row.adjudicated_by) if row.adjudicated_by else None,
        )
        for row in kept
    ]
    created = AnnotationAssignment.objects.bulk_create(assignments, batch_size=_BULK_BATCH)
    _keep_times(AnnotationAssignment, created, [row.created_at for row in kept])
    AnnotatorSpan.objects.bulk_create(
        [
            AnnotatorSpan(assignment=assignment, entity_type=types[span.label], start=span.start, end=span.end)
            for assignment, row in zip(created, kept, strict=True)
            for span in row.spans
        ],
        batch_size=_BULK_BATCH,
    )
    skipped = [row for row in rows if row.annotator not in users]
    if not skipped:
        return []
    return [
        f"{len(skipped):,} agreement {'copy was' if len(skipped) == 1 else 'copies were'} skipped: "
        f"{'its annotator does' if len(skipped) == 1 else 'their annotators do'} not exist here "
        f"({_listed(row.annotator for row in skipped)})."
    ]


def _restore_curves(restore: _Restore, rows: list[_CurveRow], users: Mapping[str, AbstractBaseUser]) -> None:
    curves = [
        LearningCurve(
            project=restore.project,
            snapshot=restore.snapshots[row.snapshot],
            percents=row.percents,
            seed=row.seed,
            max_steps=row.max_steps,
            status=LearningCurve.Status.SUCCEEDED,
            points=row.points,
            projection=row.projection,
            requested_by=users.get(row.requested_by) if row.requested_by else None,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )
        for row in rows
    ]
    created = LearningCurve.objects.bulk_create(curves, batch_size=_BULK_BATCH)
    _keep_times(LearningCurve, created, [row.created_at for row in rows])


def _restore_extras(restore: _Restore, extras: _Extras) -> list[str]:
    """The version 2 rows (after the documents and snapshots they point at); returns notes for the user."""
    users = _users_by_name(extras.usernames())
    types = {entity_type.name: entity_type for entity_type in restore.project.entity_types.all()}
    _restore_suggestions(restore, extras.suggestions, types)
    notes = _restore_copies(restore, extras.copies, types, users)
    _restore_curves(restore, extras.curves, users)
    notes += _restore_audit(restore, extras.audit, users)
    return notes


def _restore_members(project: Project, archive: _Archive, user: AbstractBaseUser) -> tuple[list[str], list[str]]:
    """The archive's members back in the new project, when a superuser imports it (an operator restoring a backup,
    who may give anyone any role anyway); returns the usernames this server lacks, and notes for the user.

    Anyone else's import adds no one: an archive is a file its importer may have written, and joining a project
    takes the person's consent (an invitation link). The note lists the archive's members to invite, without
    saying which of them have accounts here."""
    entries = [
        entry
        for entry in archive.manifest.get("members") or []
        if isinstance(entry, dict) and entry.get("role") in {role.value for role in Role}
    ]
    others = [entry for entry in entries if entry.get("username") != user.get_username()]
    if not others:
        return [], []
    if not user.is_superuser:  # type: ignore[attr-defined]
        listed = ", ".join(f"{entry.get('username')} ({entry['role']})" for entry in others[:20])
        return [], [
            f"Members are not restored: only a superuser's import adds people to a project. Invite the archive's "
            f"members from the Members page: {listed}{' and more' if len(others) > 20 else ''}."
        ]
    missing = []
    users = get_user_model()
    for entry in others:
        member = users.objects.filter(**{users.USERNAME_FIELD: entry.get("username")}).first()
        if member is None:
            missing.append(str(entry.get("username")))
        elif member.pk != user.pk:
            Membership.objects.update_or_create(project=project, user=member, defaults={"role": entry["role"]})
    return missing, []


@dataclass(frozen=True)
class ArchiveImport:
    project: Project
    documents: int
    models: list[str]
    missing_members: list[str]
    # What could not be restored as it was (users this server lacks), for the user to read.
    notes: list[str] = field(default_factory=list)


def project_archive_import(
    *,
    source: IO[bytes],
    user: AbstractBaseUser,
    name: str = "",
    include_models: bool = True,
    restore_members: bool = False,
) -> ArchiveImport:
    """Create a new project (``user`` its owner) from an archive; ``name`` overrides the archive's name.

    Raises ArchiveError (a ValidationError) and writes nothing when the archive is not valid, names a project that
    already exists, holds a document the project's rules refuse, or a line of another entry that is malformed or
    points at something the archive lacks. ``notes`` says what was restored differently (users this server lacks).
    """
    archive = _open(source)
    settings_in = archive.manifest["project"]
    name = (name or str(settings_in.get("name") or "")).strip()
    _check_name(name)
    fields = {key: settings_in[key] for key in PROJECT_EDITABLE_FIELDS if key in settings_in}
    language = str(settings_in.get("language") or "en")
    fields.pop("language", None)
    docs, doc_lines = _documents(archive)
    extras = _read_extras(archive, docs, doc_lines)
    restore: _Restore | None = None
    try:
        with transaction.atomic():
            try:
                project = project_create(user=user, name=name, language=language, **fields)
            except ValidationError as error:
                raise ArchiveError(error.messages) from None
            restore = _Restore(project=project)
            for entry in archive.manifest["entity_types"]:
                if not isinstance(entry, dict):
                    raise ArchiveError("project.json: each entity type must be an object.")
                try:
                    entity_type_create(
                        project=project,
                        name=str(entry.get("name", "")),
                        color=str(entry.get("color") or ""),
                        hotkey=str(entry.get("hotkey") or ""),
                        description=str(entry.get("description") or ""),
                    )
                except ValidationError as error:
                    raise ArchiveError([f"Entity type {entry.get('name')!r}: {m}" for m in error.messages]) from None
            _restore_documents(restore, docs, user, extras.uncertainty)
            # Learning curves are results, kept without the models too: then only their snapshots are restored.
            _restore_snapshots(
                restore, archive, None if include_models else {curve.snapshot for curve in extras.curves}
            )
            if include_models:
                _restore_models(restore, archive)
            notes = _restore_extras(restore, extras)
            missing, member_notes = _restore_members(project, archive, user) if restore_members else ([], [])
            notes += member_notes
    except BaseException:
        if restore is not None:
            # The rows rolled back: the files copied for them must not stay behind.
            storage_tree_delete(project_storage_prefix(restore.project.pk))
        raise
    return ArchiveImport(
        project=project,
        documents=len(restore.document_ids)
        if restore.document_ids
        else Document.objects.filter(project=project).count(),
        models=[str(m.get("name")) for m in archive.manifest["models"]] if include_models else [],
        missing_members=missing,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------- clone


def project_clone(*, source: Project, user: AbstractBaseUser, name: str, include_models: bool = False) -> Project:
    """A new project owned by ``user`` with ``source``'s schema, documents, tags, split and settings, the audit
    trail, pending suggestions, agreement copies, active-learning scores and learning curves (and, optionally, its
    trained models with their evaluations). Members are not copied: the clone is the user's."""
    _check_name(name)
    with tempfile.TemporaryFile() as buffer:
        project_archive_write(project=source, output=buffer, include_models=include_models)
        buffer.seek(0)
        return project_archive_import(source=buffer, user=user, name=name, include_models=include_models).project


__all__ = [
    "ArchiveError",
    "ArchiveImport",
    "ArchiveSummary",
    "archive_file_name",
    "project_archive_bytes",
    "project_archive_import",
    "project_archive_inspect",
    "project_archive_write",
    "project_clone",
]

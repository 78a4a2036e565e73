"""The whole-project archive: one zip that holds everything a project is, and its import as a new project.

Layout of the zip (``ARCHIVE_FORMAT`` version 1)::

    project.json             settings, entity types (colours, hotkeys, descriptions), members (optional), and an
                             index of snapshots and models with their rows' fields
    documents.jsonl          nerlab JSONL: text, spans, name, own language, manual split; meta: id, status
    snapshots/<id>.jsonl     each frozen training snapshot, as stored
    models/<id>/...          each trained model's spaCy pipeline files, byte for byte
    evaluations/<id>.json    each model's evaluation report (ner.metrics.EvaluationReport.to_dict())
    predictions/<id>.json    each evaluation's per-document predictions

Cloning is "archive, then import under a new name" — one code path, so a clone and an archive round trip can
never drift apart. Import validates everything (the zip, project.json, every document through the same
``labeling.imports.labeled_docs_import`` rules as any import) before anything stays written: rows go in one
transaction and the files copied into storage are removed again if anything fails.
"""

from __future__ import annotations

import io
import json
import posixpath
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Final

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evaluation.models import DatasetSnapshot, Evaluation, Prediction, TrainedModel, TrainingRun
from labeling.imports import labeled_docs_import
from labeling.models import Document, Span
from ner.formats import FormatError
from ner.formats.jsonl import read_jsonl, write_jsonl
from ner.names import InvalidName, check_project_name
from ner.text import content_hash
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.models import Membership, Project
from projects.roles import Role
from projects.services import PROJECT_EDITABLE_FIELDS, entity_type_create, project_create
from projects.storage import project_storage_prefix, storage_tree_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

ARCHIVE_FORMAT: Final = "nerlab-project-archive"
ARCHIVE_VERSION: Final = 1
PROJECT_FILE: Final = "project.json"
DOCUMENTS_FILE: Final = "documents.jsonl"
# An archive is read entry by entry into memory; these bound what a hostile zip can make us read.
ARCHIVE_ENTRY_BYTES_MAX: Final = 2 * 1024 * 1024 * 1024
ARCHIVE_ENTRIES_MAX: Final = 100_000
COMPRESSION_RATIO_MAX: Final = 200
_STATUSES = {choice.value for choice in Document.Status}


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


def _document_rows(project: Project) -> list[LabeledDoc]:
    """Each document as stored: own language (blank stays blank), manual split only, status and id in meta."""
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
        .values_list("pk", "name", "text", "language", "split", "status")
    )
    return [
        LabeledDoc(
            text=text,
            spans=tuple(sorted(spans.get(pk, []))),
            name=name,
            language=language or None,
            split=split or None,  # type: ignore[arg-type]
            meta={"id": str(pk), "status": status},
        )
        for pk, name, text, language, split, status in rows.iterator(chunk_size=2_000)
    ]


def _model_entries(project: Project, include_models: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The project.json entries of snapshots and models (only snapshots that models need, unless all are wanted)."""
    models = (
        list(TrainedModel.objects.filter(project=project).select_related("run").order_by("pk"))
        if include_models
        else []
    )
    needed = {model.run.snapshot_id for model in models}
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
    snapshots, models = _model_entries(project, include_models)
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
    }
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_FILE, json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr(DOCUMENTS_FILE, write_jsonl(_document_rows(project)))
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

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise ArchiveError(f"The archive lacks {name}, which project.json names.")
        info = self.zip.getinfo(name)
        if info.file_size > ARCHIVE_ENTRY_BYTES_MAX or (
            info.compress_size and info.file_size / info.compress_size > COMPRESSION_RATIO_MAX
        ):
            raise ArchiveError(f"{name} in the archive is too large or too compressed to be read safely.")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise ArchiveError(f"{name} in the archive is damaged ({error}).") from None

    def under(self, folder: str) -> list[str]:
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
    try:
        manifest = json.loads(result.read(PROJECT_FILE).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArchiveError(f"project.json is not valid JSON ({error}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError("project.json is not a nerlab project archive's manifest.")
    if manifest.get("version") != ARCHIVE_VERSION:
        raise ArchiveError(
            f"This archive has format version {manifest.get('version')!r}; this nerlab reads version {ARCHIVE_VERSION}."
        )
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
    )


def _check_name(name: str) -> None:
    try:
        check_project_name(name)
    except InvalidName as error:
        raise ArchiveError({"name": str(error)}) from None
    if Project.objects.filter(name=name).exists():
        raise ArchiveError(
            {"name": f"A project named {name} already exists; choose another name for the imported project."}
        )


def _parse_time(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _documents(archive: _Archive) -> list[LabeledDoc]:
    name = archive.manifest.get("documents") or DOCUMENTS_FILE
    data = archive.read(name)
    if not data.strip():
        return []
    try:
        return read_jsonl(data, file_name=name)
    except FormatError as error:
        raise ArchiveError([str(problem) for problem in error.problems[:50]]) from None


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


def _restore_documents(restore: _Restore, archive: _Archive, user: AbstractBaseUser) -> None:
    docs = _documents(archive)
    # Statuses are restored after the import, which marks a document with spans "tagged".
    report = labeled_docs_import(
        project=restore.project,
        user=user,
        docs=[LabeledDoc(d.text, d.spans, d.name, d.language, d.split) for d in docs],
    )
    if not report.written:
        problems = [str(problem) for problem in report.problems[:50]] or [report.summary()]
        raise ArchiveError(["The archive's documents could not be imported:", *problems])
    by_text = dict(Document.objects.filter(project=restore.project).values_list("content_hash", "pk"))
    by_status: dict[str, list[int]] = {}
    for doc in docs:
        pk = by_text.get(content_hash(doc.text))
        if pk is None:
            continue
        if "id" in doc.meta:
            restore.document_ids[doc.meta["id"]] = pk
        status = doc.meta.get("status", "")
        if status in _STATUSES:
            by_status.setdefault(status, []).append(pk)
    for status, ids in by_status.items():
        fields: dict[str, Any] = {"status": status}
        if status != Document.Status.TAGGED:
            fields.update(tagged_by=None, tagged_at=None)
        Document.objects.filter(pk__in=ids).update(**fields)


def _new_ids(restore: _Restore, ids: Any) -> list[int]:
    return [restore.document_ids[str(pk)] for pk in ids or [] if str(pk) in restore.document_ids]


def _restore_snapshots(restore: _Restore, archive: _Archive) -> None:
    project = restore.project
    for entry in archive.manifest["snapshots"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            raise ArchiveError("project.json: each snapshot needs an integer id.")
        snapshot = DatasetSnapshot(
            project=project,
            content_hash=str(entry.get("content_hash", "")),
            file="",
            document_count=int(entry.get("document_count") or 0),
            train_document_ids=_new_ids(restore, entry.get("train_document_ids")),
            test_document_ids=_new_ids(restore, entry.get("test_document_ids")),
            span_counts=entry.get("span_counts") or {},
            language=str(entry.get("language") or project.language),
            split_mode=str(entry.get("split_mode") or project.split_mode),
            test_percent=int(entry.get("test_percent") or project.test_percent),
            split_seed=int(entry.get("split_seed") or 0),
            training_scope=str(entry.get("training_scope") or project.training_scope),
        )
        snapshot.save()
        if entry.get("file"):
            docs = _snapshot_docs(archive, str(entry["file"]))
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


def _snapshot_docs(archive: _Archive, name: str) -> list[LabeledDoc]:
    try:
        return read_jsonl(archive.read(name), file_name=name)
    except FormatError as error:
        raise ArchiveError([str(problem) for problem in error.problems[:20]]) from None


def _json_entry(archive: _Archive, name: str) -> Any:
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArchiveError(f"{name} in the archive is not valid JSON ({error}).") from None


def _restore_models(restore: _Restore, archive: _Archive) -> None:
    project = restore.project
    by_hash = dict(Document.objects.filter(project=project).values_list("content_hash", "pk"))
    for entry in archive.manifest["models"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ArchiveError("project.json: each model needs a name.")
        snapshot = restore.snapshots.get(entry.get("snapshot"))  # type: ignore[arg-type]
        if snapshot is None:
            raise ArchiveError(f"project.json: model {entry['name']} names a snapshot the archive does not hold.")
        files = archive.under(str(entry.get("files") or f"models/{entry.get('id')}/"))
        if not files:
            raise ArchiveError(f"The archive holds no files for model {entry['name']}; it could not be deployed.")
        run_fields = entry.get("run") or {}
        run = TrainingRun(
            project=project,
            snapshot=snapshot,
            model_name=entry["name"],
            status=TrainingRun.Status.SUCCEEDED,
            phase=TrainingRun.Phase.DONE,
            seed=int(run_fields.get("seed") or 0),
            max_epochs=int(run_fields.get("max_epochs") or 0),
            max_steps=int(run_fields.get("max_steps") or 0) or (0 if run_fields.get("max_epochs") else 1),
            patience=int(run_fields.get("patience") or 0),
            percent=100.0,
            epoch=int(run_fields.get("epoch") or 0),
            step=int(run_fields.get("step") or 0),
            loss=run_fields.get("loss"),
            dev_f1=run_fields.get("dev_f1"),
            warnings=run_fields.get("warnings") or [],
            started_at=_parse_time(run_fields.get("started_at")),
            finished_at=_parse_time(run_fields.get("finished_at")),
        )
        run.full_clean(exclude=["snapshot"])
        run.save()
        model = TrainedModel(
            project=project,
            run=run,
            name=entry["name"],
            storage_path="",
            labels=list(entry.get("labels") or []),
            duration_s=float(entry.get("duration_s") or 0.0),
            snapshot_documents=int(entry.get("snapshot_documents") or 0),
            micro_f1=float(entry.get("micro_f1") or 0.0),
            size_bytes=int(entry.get("size_bytes") or 0),
        )
        model.full_clean(exclude=["storage_path", "run"])
        model.save()
        prefix = f"{project_storage_prefix(project.pk)}/models/{model.pk}"
        folder = str(entry.get("files") or f"models/{entry.get('id')}/")
        for name in files:
            restore.save(f"{prefix}/{name.removeprefix(folder)}", archive.read(name))
        TrainedModel.objects.filter(pk=model.pk).update(storage_path=prefix)
        if entry.get("evaluation"):
            report = _json_entry(archive, str(entry["evaluation"]))
            evaluation = Evaluation.objects.create(model=model, report=report)
            predictions_name = f"predictions/{entry.get('id')}.json"
            rows = _json_entry(archive, predictions_name) if predictions_name in archive.names else []
            Prediction.objects.bulk_create(
                [
                    Prediction(
                        evaluation=evaluation,
                        document_id=by_hash.get(str(row.get("content_hash"))),
                        position=int(row["position"]),
                        name=str(row.get("name", ""))[:500],
                        content_hash=str(row.get("content_hash", "")),
                        spans=row.get("spans") or [],
                        error_count=int(row.get("error_count") or 0),
                        outcome_counts=row.get("outcome_counts") or {},
                    )
                    for row in rows
                ],
                batch_size=500,
            )


def _restore_members(project: Project, archive: _Archive, user: AbstractBaseUser) -> list[str]:
    """Members whose usernames exist here get their roles back; returns the usernames that do not exist."""
    missing = []
    users = get_user_model()
    for entry in archive.manifest.get("members") or []:
        if not isinstance(entry, dict) or entry.get("role") not in {role.value for role in Role}:
            continue
        member = users.objects.filter(**{users.USERNAME_FIELD: entry.get("username")}).first()
        if member is None:
            missing.append(str(entry.get("username")))
        elif member.pk != user.pk:
            Membership.objects.update_or_create(project=project, user=member, defaults={"role": entry["role"]})
    return missing


@dataclass(frozen=True)
class ArchiveImport:
    project: Project
    documents: int
    models: list[str]
    missing_members: list[str]


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
    already exists, or holds a document the project's rules refuse.
    """
    archive = _open(source)
    settings_in = archive.manifest["project"]
    name = (name or str(settings_in.get("name") or "")).strip()
    _check_name(name)
    fields = {key: settings_in[key] for key in PROJECT_EDITABLE_FIELDS if key in settings_in}
    language = str(settings_in.get("language") or "en")
    fields.pop("language", None)
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
            _restore_documents(restore, archive, user)
            if include_models:
                _restore_snapshots(restore, archive)
                _restore_models(restore, archive)
            missing = _restore_members(project, archive, user) if restore_members else []
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
    )


# --------------------------------------------------------------------------------------------- clone


def project_clone(*, source: Project, user: AbstractBaseUser, name: str, include_models: bool = False) -> Project:
    """A new project owned by ``user`` with ``source``'s schema, documents, tags, split and settings (and,
    optionally, its trained models with their evaluations). Members are not copied: the clone is the user's."""
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

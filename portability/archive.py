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

Each app dumps and restores its own rows (``projects.archive``, ``labeling.archive``, ``evaluation.archive``); this
module holds the zip (its limits and safety checks), the manifest, the versions it reads, and the order the parts
are written and restored in.
"""

from __future__ import annotations

import io
import json
import posixpath
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Final

from django.db import transaction
from django.utils import timezone

from evaluation import archive as evaluation_archive
from labeling import archive as labeling_archive
from labeling.models import Document
from ner.formats.common import dump_jsonl, is_int, type_name
from ner.formats.jsonl import write_jsonl
from ner.types import LabeledDoc
from projects import archive as projects_archive
from projects.archive import PROJECT_FILE, ArchiveError, Lines, Restore, archive_error, json_entry, project_name_check
from projects.models import Project
from projects.storage import project_storage_prefix, storage_tree_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from evaluation.models import DatasetSnapshot

ARCHIVE_FORMAT: Final = "nerlab-project-archive"
ARCHIVE_VERSION: Final = 2
# Version 1 archives hold no audit trail, suggestions, agreement copies, scores or learning curves.
READABLE_VERSIONS: Final = (1, 2)
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


# --------------------------------------------------------------------------------------------- writing


def project_archive_write(
    *, project: Project, output: IO[bytes], include_models: bool = True, include_members: bool = False
) -> None:
    """Write the whole project as one zip into ``output`` (a file opened for binary writing)."""
    curves = evaluation_archive.curves_dump(project)
    snapshots, models = evaluation_archive.model_entries_dump(
        project, include_models, (curve["snapshot"] for curve in curves)
    )
    manifest: dict[str, Any] = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "exported_at": timezone.now().isoformat(),
        "project": projects_archive.project_dump(project),
        "entity_types": projects_archive.entity_types_dump(project),
        "members": projects_archive.members_dump(project) if include_members else [],
        "documents": DOCUMENTS_FILE,
        "snapshots": snapshots,
        "models": models,
        **EXTRA_ENTRIES,
    }
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_FILE, json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr(DOCUMENTS_FILE, write_jsonl(labeling_archive.documents_dump(project)))
        archive.writestr(AUDIT_FILE, dump_jsonl(labeling_archive.audit_dump(project)))
        archive.writestr(SUGGESTIONS_FILE, dump_jsonl(labeling_archive.suggestions_dump(project)))
        archive.writestr(AGREEMENT_FILE, dump_jsonl(labeling_archive.agreement_dump(project)))
        archive.writestr(LEARNING_CURVES_FILE, dump_jsonl(curves))
        for name, data in evaluation_archive.model_files(snapshots, models):
            archive.writestr(name, data)


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
    manifest = json_entry(result, PROJECT_FILE)
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


def _documents(archive: _Archive) -> tuple[list[LabeledDoc], list[int]]:
    name = archive.manifest.get("documents") or DOCUMENTS_FILE
    return labeling_archive.documents_read(archive.read(name), name)


# --------------------------------------------------------------------------------------------- version 2 entries


@dataclass
class _Extras:
    """What the version 2 entries hold, every line checked before anything is written."""

    uncertainty: dict[int, tuple[float, str]] = field(default_factory=dict)  # document's index -> score, model
    audit: list[labeling_archive.AuditRow] = field(default_factory=list)
    suggestions: list[labeling_archive.SuggestionRow] = field(default_factory=list)
    copies: list[labeling_archive.CopyRow] = field(default_factory=list)
    curves: list[evaluation_archive.CurveRow] = field(default_factory=list)

    def usernames(self) -> set[str]:
        names = {row.user for row in self.audit}
        for copy in self.copies:
            names.update((copy.annotator, copy.assigned_by, copy.adjudicated_by))
        names.update(curve.requested_by for curve in self.curves)
        return {name for name in names if name}


def _read_extras(archive: _Archive, docs: list[LabeledDoc], doc_lines: list[int]) -> _Extras:
    """Parse and check the version 2 entries (absent ones are empty); raises ArchiveError listing every problem."""
    manifest = archive.manifest
    documents = {doc.meta["id"]: doc for doc in docs if "id" in doc.meta}
    types = {str(t.get("name")) for t in manifest["entity_types"] if isinstance(t, dict)}
    types |= {span.label for doc in docs for span in doc.spans}  # the import creates these too
    snapshot_ids = {e["id"] for e in manifest["snapshots"] if isinstance(e, dict) and is_int(e.get("id"))}
    extras = _Extras()
    extras.uncertainty, problems = labeling_archive.uncertainty_read(
        docs, doc_lines, manifest.get("documents") or DOCUMENTS_FILE
    )
    found = list(problems.items)
    for key in EXTRA_ENTRIES:
        name = _entry_name(archive, key)
        if name is None:
            continue
        lines, data = Lines(name), archive.read(name)
        if key == "audit":
            extras.audit = labeling_archive.audit_read(lines, data, documents)
        elif key == "suggestions":
            extras.suggestions = labeling_archive.suggestions_read(lines, data, documents, types)
        elif key == "agreement":
            extras.copies = labeling_archive.agreement_read(lines, data, documents, types)
        else:
            extras.curves = evaluation_archive.curves_read(lines, data, snapshot_ids)
        found.extend(lines.problems.items)
    if found:
        raise archive_error(found)
    return extras


def _restore_extras(restore: Restore, extras: _Extras, snapshots: dict[int, DatasetSnapshot]) -> list[str]:
    """The version 2 rows (after the documents and snapshots they point at); returns notes for the user."""
    users = projects_archive.users_by_name(extras.usernames())
    types = {entity_type.name: entity_type for entity_type in restore.project.entity_types.all()}
    labeling_archive.suggestions_restore(restore, extras.suggestions, types)
    notes = labeling_archive.agreement_restore(restore, extras.copies, types, users)
    evaluation_archive.curves_restore(restore, extras.curves, users, snapshots)
    notes += labeling_archive.audit_restore(restore, extras.audit, users)
    return notes


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
    name = (name or str(archive.manifest["project"].get("name") or "")).strip()
    project_name_check(name)
    docs, doc_lines = _documents(archive)
    extras = _read_extras(archive, docs, doc_lines)
    restore: Restore | None = None
    try:
        with transaction.atomic():
            project = projects_archive.project_restore(user=user, name=name, settings=archive.manifest["project"])
            restore = Restore(project=project)
            projects_archive.entity_types_restore(project, archive.manifest["entity_types"])
            labeling_archive.documents_restore(restore, docs, user, extras.uncertainty)
            # Learning curves are results, kept without the models too: then only their snapshots are restored.
            snapshots = evaluation_archive.snapshots_restore(
                restore,
                archive,
                archive.manifest["snapshots"],
                None if include_models else {curve.snapshot for curve in extras.curves},
            )
            if include_models:
                evaluation_archive.models_restore(restore, archive, archive.manifest["models"], snapshots)
            notes = _restore_extras(restore, extras, snapshots)
            missing, member_notes = (
                projects_archive.members_restore(project, archive.manifest.get("members"), user)
                if restore_members
                else ([], [])
            )
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
    project_name_check(name)
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

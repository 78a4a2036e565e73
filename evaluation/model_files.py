"""A trained model's files: stored under the model's storage path when training ends, and read back as a local
folder by whatever loads the model (serving, pre-annotation, active learning, archives), whatever the storage.

On a local disk the storage folder itself is read. Otherwise the files are downloaded once per stamp into the
temporary folder, written beside the target and renamed into place, so that a half-copied folder (a crash, a
concurrent download) is never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from projects.storage import storage_tree_delete

if TYPE_CHECKING:
    from evaluation.models import TrainedModel

LOCAL_COPIES = "nerlab-models"


def model_files_store(*, folder: Path, prefix: str) -> None:
    """Put a trained model's folder into storage under ``prefix``, replacing whatever was there."""
    # Files an earlier attempt left there (its rows rolled back after a crash; SQLite may then give the next model the
    # same id) would make storage save ours under other names and keep serving theirs: clear the folder first.
    storage_tree_delete(prefix)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                default_storage.save(f"{prefix}/{path.relative_to(folder).as_posix()}", ContentFile(handle.read()))


def model_files_strays_delete(*, root: str, keep: Iterable[str]) -> None:
    """Delete the folders directly under ``root`` that no model's storage path names: what a save killed midway (a
    worker's SIGKILL, a machine gone) left there after its rows rolled back. PostgreSQL never gives that model id
    out again, so no later save would clear them. Call it under the lock that saves a model into ``root``."""
    try:
        directories, _ = default_storage.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return
    kept = {path.rstrip("/") for path in keep}
    for name in directories:
        if f"{root}/{name}" not in kept:
            storage_tree_delete(f"{root}/{name}")


def model_files_stamp(model: TrainedModel) -> str:
    """Changes whenever the files behind the model's row could have changed (a restored database, a reused id)."""
    return f"{model.pk}:{model.storage_path}@{model.created_at.isoformat()}"


def model_files_local_dir(*, storage_path: str, stamp: str) -> Path:
    """A local folder holding the files stored under ``storage_path`` (``stamp`` names the version of them)."""
    try:
        return Path(default_storage.path(storage_path))
    except NotImplementedError:
        pass
    root = Path(tempfile.gettempdir()) / LOCAL_COPIES
    target = root / hashlib.sha256(f"{storage_path}:{stamp}".encode()).hexdigest()[:32]
    if (target / "meta.json").is_file():
        return target
    partial = root / f".{target.name}.{uuid.uuid4().hex}"
    try:
        _download(storage_path, partial)
        with contextlib.suppress(OSError):  # another process finished first: use its copy
            partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _download(prefix: str, into: Path) -> None:
    directories, files = default_storage.listdir(prefix)
    into.mkdir(parents=True, exist_ok=True)
    for name in files:
        with default_storage.open(f"{prefix}/{name}", "rb") as source:
            (into / name).write_bytes(source.read())
    for name in directories:
        _download(f"{prefix}/{name}", into / name)

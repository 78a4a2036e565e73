"""Where a project's files live in Django's storage: everything under ``projects/<id>/``, so deleting a
project can remove all of it, whichever storage backend (local, shared volume, S3) is configured."""

from __future__ import annotations

import contextlib
import os

from django.core.files.storage import Storage, default_storage


def project_storage_prefix(project_pk: int) -> str:
    return f"projects/{project_pk}"


def storage_tree_delete(path: str, storage: Storage = default_storage) -> None:
    try:
        directories, files = storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        storage.delete(f"{path}/{name}")
    for name in directories:
        storage_tree_delete(f"{path}/{name}", storage)
    try:
        local_path = storage.path(path)
    except NotImplementedError:  # object stores have no directories to remove
        return
    with contextlib.suppress(OSError):
        os.rmdir(local_path)

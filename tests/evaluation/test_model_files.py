"""A trained model's files: where they go in storage, and the local folder they are loaded from."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from evaluation import model_files
from evaluation.model_files import model_files_local_dir, model_files_store


def test_a_model_stored_where_an_earlier_attempt_left_files_holds_only_its_own(tmp_path: Path) -> None:
    prefix = "projects/424242/models/4242"
    default_storage.save(f"{prefix}/meta.json", ContentFile(b'{"from": "the attempt that crashed"}'))
    default_storage.save(f"{prefix}/ner/stale-only-there", ContentFile(b"old"))
    folder = tmp_path / "model"
    (folder / "ner").mkdir(parents=True)
    (folder / "meta.json").write_text('{"from": "this run"}')
    (folder / "ner" / "model").write_bytes(b"weights")

    model_files_store(folder=folder, prefix=prefix)

    with default_storage.open(f"{prefix}/meta.json") as handle:
        assert handle.read() == b'{"from": "this run"}'
    directories, files = default_storage.listdir(prefix)
    assert (sorted(directories), sorted(files)) == (["ner"], ["meta.json"])
    assert sorted(default_storage.listdir(f"{prefix}/ner")[1]) == ["model"]


def test_a_model_in_remote_storage_is_read_from_one_whole_local_copy(tmp_path: Path, monkeypatch) -> None:
    prefix = "projects/424243/models/4243"
    folder = tmp_path / "model"
    (folder / "ner").mkdir(parents=True)
    (folder / "meta.json").write_text("{}")
    (folder / "ner" / "model").write_bytes(b"weights")
    model_files_store(folder=folder, prefix=prefix)

    class RemoteStorage:  # the project's storage, seen as a backend without local paths (S3 and the like)
        def path(self, name: str) -> str:
            raise NotImplementedError("This backend doesn't support absolute paths.")

        def __getattr__(self, name: str) -> Any:
            return getattr(default_storage, name)

    monkeypatch.setattr(model_files, "default_storage", RemoteStorage())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    local = model_files_local_dir(storage_path=prefix, stamp="1")

    assert (local / "meta.json").read_text() == "{}" and (local / "ner" / "model").read_bytes() == b"weights"
    assert model_files_local_dir(storage_path=prefix, stamp="1") == local  # downloaded once
    assert model_files_local_dir(storage_path=prefix, stamp="2") != local  # another version of the files
    assert [p.name for p in local.parent.iterdir() if p.name.startswith(".")] == []  # no half-copied folder left

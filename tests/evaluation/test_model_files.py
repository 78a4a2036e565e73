"""Where a trained model's files go in storage."""

from __future__ import annotations

from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from evaluation.services import _store_model_files


def test_a_model_stored_where_an_earlier_attempt_left_files_holds_only_its_own(tmp_path: Path) -> None:
    prefix = "projects/424242/models/4242"
    default_storage.save(f"{prefix}/meta.json", ContentFile(b'{"from": "the attempt that crashed"}'))
    default_storage.save(f"{prefix}/ner/stale-only-there", ContentFile(b"old"))
    folder = tmp_path / "model"
    (folder / "ner").mkdir(parents=True)
    (folder / "meta.json").write_text('{"from": "this run"}')
    (folder / "ner" / "model").write_bytes(b"weights")

    _store_model_files(folder, prefix)

    with default_storage.open(f"{prefix}/meta.json") as handle:
        assert handle.read() == b'{"from": "this run"}'
    directories, files = default_storage.listdir(prefix)
    assert (sorted(directories), sorted(files)) == (["ner"], ["meta.json"])
    assert sorted(default_storage.listdir(f"{prefix}/ner")[1]) == ["model"]

"""Helpers shared by the import and export tests: project snapshots and comparable document views."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labeling.imports import labeled_docs_export
from labeling.models import Document, Span
from projects.models import EntityType, Project

DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"


def dataset(relative: str) -> bytes:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"dataset {relative} is not available")
    return path.read_bytes()


def snapshot(project: Project) -> tuple[int, int, int]:
    """(documents, spans, entity types) in the project: what a failed import must leave unchanged."""
    return (
        Document.objects.filter(project=project).count(),
        Span.objects.filter(document__project=project).count(),
        EntityType.objects.filter(project=project).count(),
    )


def contents(project: Project, *, names: bool = True, meta: bool = True) -> list[tuple[Any, ...]]:
    """Every document as (text, spans[, name, language, split]), in id order."""
    rows = []
    for doc in labeled_docs_export(project=project):
        row: tuple[Any, ...] = (doc.text, tuple(sorted(doc.spans)))
        if names:
            row += (doc.name,)
        if meta:
            row += (doc.language, doc.split)
        rows.append(row)
    return rows


def jsonl(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()

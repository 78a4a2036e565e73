"""The peers' own files (tests/peer_files, sources in its README): each imports exactly as its format defines it,
or is refused with a message naming the reason — never a silent mismatch, never a partial write.

Beside every file, ``<file>.expected.json`` says what the peer's documented format holds: the format ``auto``
must choose, and for each set of import options either the documents (text, spans and, where given, name and
metadata) or the records refused with the reason, and how many documents the file counts and rejects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labeling.imports import (
    AUTO,
    ExportError,
    ImportOptions,
    labeled_docs_read,
    project_export_file,
    project_import_file,
)
from labeling.models import Document
from ner.formats import FORMATS
from ner.types import LabeledDoc
from projects.models import Project
from tests.labeling.imports_helpers import contents, snapshot
from tests.projects.factories import MembershipFactory, ProjectFactory

PEER_FILES = Path(__file__).resolve().parents[1] / "peer_files"
EXPECTED = sorted(PEER_FILES.rglob("*.expected.json"))
CASES = [
    pytest.param(path, index, id=f"{path.relative_to(PEER_FILES).as_posix().removesuffix('.expected.json')}#{index}")
    for path in EXPECTED
    for index in range(len(json.loads(path.read_text(encoding="utf-8"))["cases"]))
]


def _case(expected_path: Path, index: int) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    return (
        expected_path.with_name(expected_path.name.removesuffix(".expected.json")),
        expected,
        expected["cases"][index],
    )


def _view(doc: LabeledDoc, wanted: dict[str, Any]) -> dict[str, Any]:
    """The document's fields the expectation names, in its shape."""
    view: dict[str, Any] = {
        "text": doc.text,
        "spans": [[span.start, span.end, span.label] for span in doc.sorted_spans()],
    }
    if "name" in wanted:
        view["name"] = doc.name
    if "meta" in wanted:
        view["meta"] = dict(doc.meta)
    return view


def _expected_docs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "spans": sorted(item["spans"])} for item in items]


def _project(user, **fields: Any) -> Project:
    project = ProjectFactory(label_mode=Project.LabelMode.CHARACTER, **fields)
    MembershipFactory(project=project, user=user)
    return project


def test_the_corpus_holds_at_least_30_real_files_each_with_its_expectation_and_source() -> None:
    files = [path for path in PEER_FILES.rglob("*") if path.is_file() and path.suffix != ".md"]
    peer_files = [path for path in files if not path.name.endswith(".expected.json")]
    assert len(peer_files) >= 30
    sources = (PEER_FILES / "README.md").read_text(encoding="utf-8")
    for path in peer_files:
        relative = path.relative_to(PEER_FILES).as_posix()
        assert path.with_name(path.name + ".expected.json").exists(), relative
        assert f"`{relative}`" in sources, f"{relative} is not listed in tests/peer_files/README.md"


@pytest.mark.parametrize(("expected_path", "index"), CASES)
def test_peer_file_is_read_exactly_or_refused_by_name(expected_path: Path, index: int, settings) -> None:
    path, expected, case = _case(expected_path, index)
    data = path.read_bytes()
    options = ImportOptions(**case["options"])
    reading = labeled_docs_read(format=AUTO, data=data, file_name=path.name, options=options)
    if expected["format"] is not None:
        assert reading.format == expected["format"]
    for note in case.get("notes", []):
        assert any(note in written for written in reading.notes), (note, reading.notes)
    if "documents" in case or case.get("at_import"):
        assert reading.error is None, [str(problem) for problem in reading.error.problems[:5]]
        wanted = _expected_docs(case.get("documents", []))
        if wanted:
            assert [_view(doc, item) for doc, item in zip(reading.docs, wanted, strict=True)] == wanted
        # The same file, named explicitly, reads the same.
        explicit = labeled_docs_read(format=expected["format"], data=data, file_name=path.name, options=options)
        assert explicit.docs == reading.docs
        return
    assert reading.error is not None and not reading.docs
    problems = reading.error.problems
    for where, reason in case["refused"]:
        assert any(problem.where.startswith(where) and reason in problem.message for problem in problems), (
            where,
            reason,
            [str(problem) for problem in problems[:8]],
        )
    if "readable" in case:
        wanted = _expected_docs(case["readable"])
        assert [_view(doc, item) for doc, item in zip(reading.error.readable, wanted, strict=True)] == wanted


@pytest.mark.django_db
@pytest.mark.parametrize(("expected_path", "index"), CASES)
def test_peer_file_imports_whole_or_not_at_all_with_counts_that_add_up(expected_path: Path, index: int, user) -> None:
    path, _expected, case = _case(expected_path, index)
    project = _project(user)
    report = project_import_file(
        project=project,
        user=user,
        format=AUTO,
        data=path.read_bytes(),
        file_name=path.name,
        options=ImportOptions(create_missing_types=True, **case["options"]),
    )
    assert report.total == report.accepted + report.rejected + report.duplicates
    if "documents" in case:
        assert report.written, [str(problem) for problem in report.problems[:5]]
        seen: set[str] = set()
        stored = []
        for item in _expected_docs(case["documents"]):
            if item["text"] not in seen:  # a text repeated in the file is stored once
                seen.add(item["text"])
                stored.append((item["text"], tuple(tuple(span) for span in item["spans"])))
        got = [
            (text, tuple((span.start, span.end, span.label) for span in spans))
            for text, spans in contents(project, names=False, meta=False)
        ]
        assert got == stored
        assert report.accepted == len(stored) and report.duplicates == len(case["documents"]) - len(stored)
        return
    assert not report.written and snapshot(project) == (0, 0, 0)  # no partial write
    total, rejected = case["counts"]
    assert (report.total, report.rejected) == (total, rejected)
    assert report.problem_count >= 1


@pytest.mark.django_db
@pytest.mark.parametrize(("expected_path", "index"), [case for case in CASES if "documents" in _case(*case.values)[2]])
def test_peer_file_round_trips_through_every_format_nerlab_writes(expected_path: Path, index: int, user) -> None:
    """Export in each format, import into a new project: the same documents in the fields the format holds.

    CoNLL holds tokens and tags only: there the check is that exporting the re-imported project gives the same
    file again. A span the tokenizer cannot hold (CoNLL, spaCy) is an export error naming it, never a silent
    change.
    """
    path, _expected, case = _case(expected_path, index)
    source = _project(user)
    report = project_import_file(
        project=source,
        user=user,
        format=AUTO,
        data=path.read_bytes(),
        file_name=path.name,
        options=ImportOptions(create_missing_types=True, **case["options"]),
    )
    assert report.written
    want = contents(source)
    want_meta = _metadata(source)
    for format in FORMATS:
        try:
            exported = project_export_file(project=source, format=format, tokenizer="whitespace")
        except ExportError as error:  # token formats hold whole tokens only, and say which span is not
            assert format in {"conll", "spacy"}, format
            assert all("token" in str(problem) for problem in error.problems), error.problems
            continue
        target = _project(user, language=source.language)
        back = project_import_file(
            project=target,
            user=user,
            format=AUTO,
            data=exported.data,
            file_name=exported.file_name,
            options=ImportOptions(create_missing_types=True),
        )
        assert back.written and back.format == format, (format, [str(problem) for problem in back.problems[:3]])
        if format == "conll":
            again = project_export_file(project=target, format=format, tokenizer="whitespace")
            assert again.data == exported.data
        else:
            assert contents(target) == want, format
        if format in METADATA_FORMATS:
            assert _metadata(target) == want_meta, format


# The formats that hold a document's metadata (README: "Formats").
METADATA_FORMATS = {"jsonl", "doccano", "label-studio", "prodigy"}


def _metadata(project: Project) -> list[dict[str, str]]:
    return [
        dict(meta) for meta in Document.objects.filter(project=project).order_by("pk").values_list("meta", flat=True)
    ]


def test_the_readme_format_table_covers_every_format() -> None:
    readme = (PEER_FILES.parents[1] / "README.md").read_text(encoding="utf-8")
    for name in [AUTO, *FORMATS]:
        assert f"| `{name}` |" in readme, name

"""labeled_docs_import: complete validation first, one transaction, honest counts, no duplicates."""

from __future__ import annotations

import pytest

from labeling.imports import ImportOptions, labeled_docs_import, project_import_file
from labeling.models import Document
from ner.limits import DOCUMENT_CHARS_MAX
from ner.types import LabeledDoc, Span
from projects.models import Project
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.labeling.imports_helpers import jsonl, snapshot
from tests.projects.factories import EntityTypeFactory

TEXT = "Alice Smith moved from Paris to Contoso Ltd in 2019."


@pytest.fixture
def person(project):
    return EntityTypeFactory(project=project, name="Person")


def _import(project, user, docs, **options):
    return labeled_docs_import(project=project, user=user, docs=docs, **options)


def _counts_add_up(report) -> None:
    assert report.accepted + report.rejected + report.duplicates == report.total


def test_import_stores_documents_spans_split_and_language(project, user, person):
    docs = [
        LabeledDoc(TEXT, (Span(0, 11, "Person"),), name="a.txt", split="test", language="en-US"),
        LabeledDoc("Nothing to see here.", name="b.txt"),
    ]
    report = _import(project, user, docs)
    assert report.written and (report.total, report.accepted, report.rejected, report.duplicates) == (2, 2, 0, 0)
    a, b = Document.objects.filter(project=project).order_by("pk")
    assert (a.name, a.split, a.language, a.status) == ("a.txt", "test", "en-US", Document.Status.TAGGED)
    assert [(s.start, s.end, s.entity_type.name) for s in a.spans.all()] == [(0, 11, "Person")]
    assert (b.split, b.language, b.status) == ("", "", Document.Status.UNTAGGED)
    assert report.created_ids == [a.pk, b.pk]


def test_unknown_entity_types_are_reported_and_created_only_when_asked(project, user, person):
    docs = [LabeledDoc(TEXT, (Span(0, 11, "Person"), Span(23, 28, "City"), Span(32, 43, "Org")), name="a.txt")]
    before = snapshot(project)
    report = _import(project, user, docs)
    assert not report.written and report.missing_types == ["City", "Org"]
    assert report.only_missing_types
    assert [(p.where, p.field) for p in report.problems] == [("document 1 ('a.txt')", "label")]
    assert "unknown entity types City, Org" in report.problems[0].message
    assert snapshot(project) == before
    report = _import(project, user, docs, create_missing_types=True)
    assert report.written and report.created_types == ["City", "Org"]
    assert set(project.entity_types.values_list("name", flat=True)) == {"Person", "City", "Org"}


def test_every_problem_is_listed_with_document_and_field_and_nothing_is_written(project, user, person):
    docs = [
        LabeledDoc(TEXT, (Span(0, 11, "Person"),), name="good.txt"),
        LabeledDoc(TEXT + " More.", (Span(0, 11, "Person"), Span(6, 11, "Person")), name="overlap.txt"),
        LabeledDoc("Bob Jones", (Span(0, 2, "Person"),), name="cut.txt"),  # "Bo" is half a token
        LabeledDoc("   ", name="blank.txt"),
        LabeledDoc("x" * (DOCUMENT_CHARS_MAX + 1), name="long.txt"),
        LabeledDoc("Carol", (Span(0, 5, "Person"),), name="de.txt", language="de"),
    ]
    before = snapshot(project)
    report = _import(project, user, docs, file_name="batch.jsonl")
    _counts_add_up(report)
    assert (report.total, report.accepted, report.rejected, report.written) == (6, 1, 5, False)
    by_doc = {(p.where, p.field): p.message for p in report.problems}
    assert all(p.file == "batch.jsonl" for p in report.problems)
    assert "overlaps Person at 0-11" in by_doc[("document 2 ('overlap.txt')", "span 2 (Person 6-11)")]
    assert "does not end on a token boundary" in by_doc[("document 3 ('cut.txt')", "span 1 (Person 0-2)")]
    assert "no text" in by_doc[("document 4 ('blank.txt')", "text")]
    assert "at most 128,000" in by_doc[("document 5 ('long.txt')", "text")]
    assert "differs from the project's (en)" in by_doc[("document 6 ('de.txt')", "language")]
    assert snapshot(project) == before


def test_character_mode_accepts_spans_inside_tokens(project, user, person):
    project.label_mode = Project.LabelMode.CHARACTER
    project.save()
    report = _import(project, user, [LabeledDoc("Bob Jones", (Span(0, 2, "Person"),))])
    assert report.written


def test_overlap_is_accepted_when_the_project_allows_it(project, user, person):
    project.overlap_policy = "allow"
    project.save()
    report = _import(project, user, [LabeledDoc(TEXT, (Span(0, 11, "Person"), Span(6, 11, "Person")))])
    assert report.written and report.accepted == 1


def test_same_file_twice_adds_nothing_and_different_spans_are_reported(project, user, person):
    docs = [LabeledDoc(TEXT, (Span(0, 11, "Person"),), name="a.txt"), LabeledDoc("Second text.", name="b.txt")]
    assert _import(project, user, docs).written
    before = snapshot(project)
    again = _import(project, user, docs)
    assert (again.total, again.accepted, again.duplicates, again.already_present) == (2, 0, 2, [])
    assert snapshot(project) == before
    changed = [LabeledDoc(TEXT, (Span(0, 5, "Person"),), name="a2.txt")]
    report = _import(project, user, changed)
    assert report.duplicates == 1 and report.ok
    [note] = report.already_present
    assert "already in the project as 'a.txt' with different spans" in note.message
    assert "left unchanged" in note.message
    assert snapshot(project) == before


def test_a_text_repeated_in_one_file_is_stored_once(project, user, person):
    docs = [LabeledDoc(TEXT, (Span(0, 11, "Person"),)), LabeledDoc(TEXT, (Span(0, 5, "Person"),))]
    report = _import(project, user, docs)
    assert (report.accepted, report.duplicates) == (1, 1)
    assert "repeats the text of document 1 with different spans" in report.already_present[0].message
    assert Document.objects.filter(project=project).count() == 1


def test_duplicates_do_not_count_against_the_stored_spans_check(project, user, person):
    stored = DocumentFactory(project=project, text=TEXT)
    SpanFactory(document=stored, entity_type=person, start=0, end=11)
    report = _import(project, user, [LabeledDoc(TEXT, (Span(0, 11, "Person"),))])
    assert report.duplicates == 1 and report.already_present == []


def test_project_document_limit_is_checked(project, user, person, monkeypatch):
    from ner import limits

    monkeypatch.setattr(limits, "DOCUMENTS_MAX", 1)
    report = _import(project, user, [LabeledDoc("One."), LabeledDoc("Two.")])
    assert not report.written and "at most 1" in report.problems[-1].message


def test_project_import_file_reads_conll_with_wikiann_prefixes(project, user):
    data = b"en:Sioux\tB-ORG\nen:Falls\tI-ORG\nen:is\tO\nen:big\tO\n\nen:Paris\tB-LOC\n"
    report = project_import_file(
        project=project,
        user=user,
        format="conll",
        data=data,
        file_name="en.dev.iob",
        options=ImportOptions(create_missing_types=True, wikiann=True),
    )
    assert report.written and report.accepted == 2
    texts = list(Document.objects.filter(project=project).order_by("pk").values_list("text", flat=True))
    assert texts == ["Sioux Falls is big", "Paris"]


def test_azure_labels_json_with_a_separate_texts_zip(project, user):
    from tests.labeling.imports_helpers import zip_of
    from tests.ner.test_formats_azure import TEXT as AZURE_TEXT
    from tests.ner.test_formats_azure import ga_project

    labels = __import__("json").dumps(ga_project()).encode()
    texts = zip_of({"01.txt": AZURE_TEXT.encode()})
    report = project_import_file(
        project=project,
        user=user,
        format="azure",
        data=labels,
        file_name="labels.json",
        options=ImportOptions(create_missing_types=True),
        texts_data=texts,
        texts_file_name="texts.zip",
    )
    assert report.written, report.problems
    document = Document.objects.get(project=project)
    assert document.text == AZURE_TEXT and document.split == "train" and document.language == "en-US"
    missing = project_import_file(project=project, user=user, format="azure", data=labels, file_name="labels.json")
    assert "without its texts" in missing.problems[0].message


def test_unreadable_file_reports_its_problems_with_zero_documents(project, user):
    report = project_import_file(project=project, user=user, format="jsonl", data=b"[1, 2", file_name="a.jsonl")
    assert report.total == 0 and not report.written and report.problems[0].file == "a.jsonl"
    assert report.summary() == "Nothing was imported: the file could not be read."


def test_a_bad_record_is_counted_as_rejected_and_named_the_rest_still_counted(project, user):
    """Issue 14 bug 5: one bad line made the whole report 'could not be read', 0/0/0/0."""
    project_import_file(
        project=project, user=user, format="jsonl", data=jsonl({"text": "Already here"}), file_name="a.jsonl"
    )
    data = jsonl(
        {"text": "EU rejects ...", "label": [[0, 2, "ORG"], [11, 17, "MISC"]]},
        {"text": "Peter Blackburn", "label": [[0, 15, "PERSON"]]},
        {"text": "Already here", "label": []},
    )
    report = project_import_file(
        project=project,
        user=user,
        format="doccano",
        data=data,
        file_name="d.jsonl",
        options=ImportOptions(create_missing_types=True),
    )
    assert (report.total, report.accepted, report.rejected, report.duplicates) == (3, 1, 1, 1)
    assert report.total == report.accepted + report.rejected + report.duplicates
    assert not report.written and project.documents.count() == 1
    assert [(problem.where, problem.message) for problem in report.problems] == [
        ("line 1", "end 17 is past the end of the text (14 characters)")
    ]
    assert report.summary().startswith("Nothing was imported: 1 problem. 3 documents in the file: 1 valid, 1 rejected")


def test_metadata_with_a_nul_is_refused_naming_the_key(project, user, person):
    """A CSV or JSONL export could not carry it back: a NUL makes a text file read as binary."""
    docs = [LabeledDoc(TEXT, (Span(0, 11, "Person"),), name="nul.txt", meta={"source": "scan\x00page"})]
    before = snapshot(project)
    report = _import(project, user, docs, file_name="batch.jsonl")
    assert (report.total, report.accepted, report.rejected, report.written) == (1, 0, 1, False)
    problem = report.problems[0]
    assert (problem.where, problem.field) == ("document 1 ('nul.txt')", "meta")
    assert "metadata 'source' contains NUL characters" in problem.message
    assert snapshot(project) == before

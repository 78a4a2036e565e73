"""Uploading documents, through the HTML form and the API alike (the ``upload`` fixture runs each test twice)."""

from __future__ import annotations

import pytest

from labeling.models import Document
from labeling.services import document_upload, span_create
from ner.limits import DOCUMENT_CHARS_MAX
from tests.labeling import uploads as files
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def _stored(project) -> dict[str, str]:
    return dict(Document.objects.filter(project=project).values_list("name", "text"))


@pytest.mark.parametrize(
    "data",
    [files.utf8_bom(), files.utf8(), files.utf16_le_bom(), files.utf16_be_bom()],
    ids=["utf-8-bom", "utf-8", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_upload_decodes_each_encoding_to_the_same_text(upload, project, data):
    outcome = upload([("notes.txt", data)])
    assert outcome.status == 201, outcome
    document = Document.objects.get(project=project)
    assert document.text == files.SAMPLE
    assert document.char_count == len(files.SAMPLE)
    assert document.name == "notes.txt" and document.status == Document.Status.UNTAGGED
    assert document.language == ""  # the project's language


def test_upload_keeps_crlf_and_offsets_count_the_raw_text(upload, project, user):
    assert upload([("crlf.txt", files.utf8())]).status == 201
    document = Document.objects.get(project=project)
    assert document.text.encode("utf-8") == files.utf8()  # byte-exact: CRLF is not normalised
    start = files.SAMPLE.index("Bob Jones")
    assert start == 38  # "...Paris." (36) + CR + LF
    person = EntityTypeFactory(project=project, name="Person")
    span = span_create(document=document, entity_type=person, start=start, end=start + 9, user=user)
    assert document.text[span.start : span.end] == "Bob Jones"


def test_upload_rejects_zip_slip_and_writes_nothing(upload, project):
    outcome = upload([("evil.zip", files.zip_slip())])
    assert outcome.status == 400
    assert len(outcome.errors) == 1
    assert "../../etc/evil.txt" in outcome.errors[0] and "unsafe path" in outcome.errors[0]
    assert _stored(project) == {}  # not even the safe member


def test_upload_rejects_zip_bomb(upload, project):
    outcome = upload([("bomb.zip", files.zip_bomb())])
    assert outcome.status == 400
    assert outcome.errors[0].startswith("bomb.zip/bomb.txt:") and "zip bomb" in outcome.errors[0]
    assert _stored(project) == {}


def test_upload_rejects_symlink_entry(upload, project):
    outcome = upload([("links.zip", files.zip_with_symlink())])
    assert outcome.status == 400
    assert ["symbolic link" in error for error in outcome.errors] == [True]
    assert _stored(project) == {}


def test_upload_rejects_oversized_file_naming_the_limit(upload, project):
    outcome = upload([("long.txt", b"x" * (DOCUMENT_CHARS_MAX + 1))])
    assert outcome.status == 400
    assert outcome.errors == ["long.txt: 128,001 characters; a document may hold at most 128,000"]


def test_upload_accepts_a_file_of_exactly_the_limit(upload, project):
    assert upload([("max.txt", b"x" * DOCUMENT_CHARS_MAX)]).status == 201
    assert Document.objects.get(project=project).char_count == DOCUMENT_CHARS_MAX


def test_upload_rejects_empty_file(upload, project):
    outcome = upload([("empty.txt", b"")])
    assert outcome.status == 400
    assert outcome.errors == ["empty.txt: the file is empty"]


def test_upload_rejects_latin1_naming_the_file(upload, project):
    outcome = upload([("legacy.txt", files.latin1())])
    assert outcome.status == 400
    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith("legacy.txt: not valid UTF-8")


def test_upload_with_one_bad_file_writes_nothing_and_lists_every_error(upload, project):
    outcome = upload(
        [
            ("good-1.txt", files.utf8("First good document.")),
            ("bad.txt", files.latin1()),
            ("good-2.txt", files.utf8("Second good document.")),
            ("empty.txt", b""),
        ]
    )
    assert outcome.status == 400
    assert [error.split(":")[0] for error in outcome.errors] == ["bad.txt", "empty.txt"]
    assert _stored(project) == {}


def test_upload_skips_and_reports_duplicates_in_the_upload_and_already_stored(upload, project):
    DocumentFactory(project=project, name="stored.txt", text="Already here.")
    outcome = upload(
        [
            ("new.txt", files.utf8("Brand new.")),
            ("new-again.txt", files.utf8_bom("Brand new.")),  # same text, different bytes: still a duplicate
            ("stored-copy.txt", files.utf8("Already here.")),
        ]
    )
    assert outcome.status == 201, outcome
    assert "new-again.txt" in outcome.duplicates_reported and "stored-copy.txt" in outcome.duplicates_reported
    assert "Uploaded 1" in outcome.success
    assert _stored(project) == {"stored.txt": "Already here.", "new.txt": "Brand new."}


def test_upload_zip_of_many_files_creates_all_in_few_queries(upload, project, django_assert_max_num_queries):
    members = {f"batch/{i:03}.txt": files.utf8(f"Document {i} about Contoso.") for i in range(120)}
    with django_assert_max_num_queries(40):  # bulk_create: not one INSERT (or full_clean query) per file
        outcome = upload([("batch.zip", files.zip_of(members))])
    assert outcome.status == 201
    assert Document.objects.filter(project=project).count() == 120
    assert Document.objects.filter(project=project, name="batch.zip/batch/007.txt").exists()


def test_upload_refuses_to_pass_the_document_limit(upload, project, monkeypatch):
    monkeypatch.setattr("labeling.services.limits.DOCUMENTS_MAX", 2)
    DocumentFactory(project=project)
    outcome = upload([("a.txt", b"Alpha."), ("b.txt", b"Beta.")])
    assert outcome.status == 400
    assert outcome.errors == [
        "This upload adds 2 documents to the 1 already in contracts; a project may hold at most 2 documents"
    ]
    assert Document.objects.filter(project=project).count() == 1


def test_upload_needs_manage_documents_permission(upload, project, member_of):
    annotator = member_of(project, "annotator")
    assert upload([("a.txt", b"Alpha.")], as_user=annotator).status == 403
    assert _stored(project) == {}


def test_upload_to_someone_elses_project_is_404(upload, project):
    from tests.projects.factories import UserFactory

    stranger = UserFactory(username="mallory")
    assert upload([("a.txt", b"Alpha.")], as_user=stranger).status == 404


def test_upload_service_sets_language_in_multilingual_projects(user):
    project = ProjectFactory(language="de", multilingual=True)
    result = document_upload(project=project, user=user, uploads=[("a.txt", b"Guten Tag.")])
    assert result.errors == [] and result.created[0].language == "de"
    assert result.created[0].pk is not None and result.created[0].uploaded_by == user


def test_upload_service_rejects_overlong_names(user, project):
    name = "x" * 600 + ".txt"
    result = document_upload(project=project, user=user, uploads=[(name, b"Text.")])
    assert len(result.errors) == 1 and "the limit is 500" in result.errors[0]
    assert not Document.objects.exists()

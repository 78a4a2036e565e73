"""The document pages: list with search, filters and paging; detail; update; delete with confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from labeling.models import Document, Span
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def _list_url(project, **params) -> str:
    from urllib.parse import urlencode

    url = reverse("labeling:document_list", args=[project.name])
    return f"{url}?{urlencode(params)}" if params else url


def _names(response) -> list[str]:
    return [document.name for document in response.context["page"].object_list]


@pytest.fixture
def documents(project):
    person = EntityTypeFactory(project=project, name="Person", color="#ffb703")
    org = EntityTypeFactory(project=project, name="Organization")
    alice = DocumentFactory(project=project, name="alice.txt", text="ALICE went to Paris.", split="train")
    bob = DocumentFactory(project=project, name="bob.txt", text="Bob works at Contoso.", status="tagged")
    carol = DocumentFactory(project=project, name="memo-carol.txt", text="Carol met alice.", split="test")
    SpanFactory(document=alice, entity_type=person, start=0, end=5)
    SpanFactory(document=bob, entity_type=org, start=13, end=20)
    SpanFactory(document=carol, entity_type=person, start=0, end=5)
    SpanFactory(document=carol, entity_type=person, start=10, end=15)
    return {"alice": alice, "bob": bob, "carol": carol, "person": person, "org": org}


def test_document_list_shows_table_with_counts_and_badges(owner_client, project, documents):
    response = owner_client.get(_list_url(project))
    body = response.content.decode()
    assert response.status_code == 200
    assert _names(response) == ["alice.txt", "bob.txt", "memo-carol.txt"]
    assert [d.span_count for d in response.context["page"].object_list] == [1, 1, 2]
    assert '<span class="badge tagged">Tagged</span>' in body
    assert 'type="file" name="files" multiple' in body  # the upload form
    assert reverse("labeling:document_upload", args=[project.name]) in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "alice"}, ["alice.txt", "memo-carol.txt"]),  # name and text, case-insensitive
        ({"search": "CONTOSO"}, ["bob.txt"]),
        ({"search": "memo"}, ["memo-carol.txt"]),
        ({"status": "tagged"}, ["bob.txt"]),
        ({"status": "untagged"}, ["alice.txt", "memo-carol.txt"]),
        ({"split": "train"}, ["alice.txt"]),
        ({"split": "auto"}, ["bob.txt"]),
        ({"search": "alice", "split": "test"}, ["memo-carol.txt"]),
        ({"status": "bogus"}, ["alice.txt", "bob.txt", "memo-carol.txt"]),  # a bad filter is ignored, not a 500
    ],
)
def test_document_list_filters(owner_client, project, documents, params, expected):
    assert _names(owner_client.get(_list_url(project, **params))) == expected


def test_document_list_filters_by_entity_type(owner_client, project, documents):
    response = owner_client.get(_list_url(project, entity_type=documents["person"].pk))
    assert _names(response) == ["alice.txt", "memo-carol.txt"]
    assert [d.span_count for d in response.context["page"].object_list] == [1, 2]  # all spans, not just matches


def test_document_list_pages_by_50_keeping_filters(owner_client, project):
    Document.objects.bulk_create(
        DocumentFactory.build(project=project, name=f"doc{i:03}.txt", text=f"Report {i}.") for i in range(55)
    )
    first = owner_client.get(_list_url(project, search="report"))
    assert len(first.context["page"].object_list) == 50
    body = first.content.decode()
    assert 'href="?search=report&amp;page=2"' in body and 'hx-get="?search=report&amp;page=2"' in body
    second = owner_client.get(_list_url(project, search="report", page=2))
    assert _names(second) == [f"doc{i:03}.txt" for i in range(50, 55)]
    assert owner_client.get(_list_url(project, page=99)).context["page"].number == 2  # past the end: last page


def test_document_list_htmx_request_gets_only_the_table_partial(owner_client, project, documents):
    response = owner_client.get(_list_url(project, search="bob"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="document-table">')
    assert "<html" not in body and "bob.txt" in body and "alice.txt" not in body


def test_document_list_viewer_sees_no_upload_or_delete(client, project, documents, member_of):
    client.force_login(member_of(project, "viewer"))
    body = client.get(_list_url(project)).content.decode()
    assert "alice.txt" in body
    assert 'name="files"' not in body and "bulk-delete-form" not in body


def test_document_list_of_a_project_i_am_not_in_is_404(client, project):
    client.force_login(UserFactory(username="mallory"))
    assert client.get(_list_url(project)).status_code == 404


def test_document_list_requires_login(client, project):
    response = client.get(_list_url(project))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_document_detail_shows_exact_text_with_highlighted_spans(owner_client, project):
    person = EntityTypeFactory(project=project, name="Person", color="#ffb703")
    text = "Hi <b>\r\nAlice & Bob"
    document = DocumentFactory(project=project, text=text)
    SpanFactory(document=document, entity_type=person, start=text.index("Alice"), end=text.index("Alice") + 5)
    response = owner_client.get(reverse("labeling:document_detail", args=[project.name, document.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    # Line breaks shown as stored: the text's box keeps white space (a class, since the CSP refuses style attributes).
    assert '<div class="card document-text">' in body
    document_text_rule = Path(finders.find("css/app.css")).read_text().split(".document-text {")[1].split("}")[0]
    assert "white-space: pre-wrap" in document_text_rule
    # Escaped, CR kept as a character reference so the page's text has the same offsets as the stored text.
    assert 'Hi &lt;b&gt;&#13;\n<mark data-span-color="#ffb703" title="Person"' in body
    assert ">Alice</mark> &amp; Bob</div>" in body


def test_document_detail_of_another_projects_document_is_404(owner_client, project):
    foreign = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    url = reverse("labeling:document_detail", args=[project.name, foreign.pk])
    assert owner_client.get(url).status_code == 404


def test_document_update_sets_language_and_split(owner_client, project):
    document = DocumentFactory(project=project)
    url = reverse("labeling:document_update", args=[project.name, document.pk])
    response = owner_client.post(url, {"language": "en-gb", "split": "test"})
    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.language, document.split) == ("en-GB", "test")
    owner_client.post(url, {"language": "", "split": "auto"})
    document.refresh_from_db()
    assert (document.language, document.split) == ("", "")


def test_document_update_reports_a_bad_language(owner_client, project):
    document = DocumentFactory(project=project)
    url = reverse("labeling:document_update", args=[project.name, document.pk])
    response = owner_client.post(url, {"language": "xx-YY", "split": "auto"}, follow=True)
    assert "is not a known language" in response.content.decode()
    document.refresh_from_db()
    assert document.language == ""


def test_document_update_by_annotator_is_403(client, project, member_of):
    document = DocumentFactory(project=project)
    client.force_login(member_of(project, "annotator"))
    url = reverse("labeling:document_update", args=[project.name, document.pk])
    assert client.post(url, {"language": "de", "split": "train"}).status_code == 403


def test_document_delete_confirms_then_deletes_with_spans(owner_client, project, documents):
    carol = documents["carol"]
    url = reverse("labeling:document_delete", args=[project.name, carol.pk])
    confirm = owner_client.get(url)
    assert confirm.status_code == 200 and "2 spans" in confirm.content.decode()
    assert Document.objects.filter(pk=carol.pk).exists()
    response = owner_client.post(url)
    assert response.status_code == 302
    assert not Document.objects.filter(pk=carol.pk).exists()
    assert not Span.objects.filter(document_id=carol.pk).exists()


def test_bulk_delete_confirmation_lists_documents_and_span_total(owner_client, project, documents):
    url = reverse("labeling:document_bulk_delete", args=[project.name])
    ids = [documents["alice"].pk, documents["carol"].pk]
    response = owner_client.post(url, {"ids": ids})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Delete 2 documents?" in body and "3 spans" in body
    assert "alice.txt" in body and "memo-carol.txt" in body and "bob.txt" not in body
    assert Document.objects.filter(project=project).count() == 3  # nothing deleted yet
    response = owner_client.post(url, {"ids": ids, "confirm": "1"})
    assert response.status_code == 302
    assert list(Document.objects.filter(project=project).values_list("name", flat=True)) == ["bob.txt"]


def test_bulk_delete_ignores_ids_from_other_projects(owner_client, project, documents):
    foreign = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    url = reverse("labeling:document_bulk_delete", args=[project.name])
    owner_client.post(url, {"ids": [foreign.pk, documents["bob"].pk], "confirm": "1"})
    assert Document.objects.filter(pk=foreign.pk).exists()
    assert not Document.objects.filter(pk=documents["bob"].pk).exists()


def test_bulk_delete_without_selection_says_so(owner_client, project, documents):
    url = reverse("labeling:document_bulk_delete", args=[project.name])
    response = owner_client.post(url, {}, follow=True)
    assert "Select the documents to delete first." in response.content.decode()
    assert Document.objects.filter(project=project).count() == 3


def test_delete_pages_need_manage_documents(client, project, documents, member_of):
    client.force_login(member_of(project, "annotator"))
    single = reverse("labeling:document_delete", args=[project.name, documents["bob"].pk])
    bulk = reverse("labeling:document_bulk_delete", args=[project.name])
    assert client.get(single).status_code == 403
    assert client.post(bulk, {"ids": [documents["bob"].pk], "confirm": "1"}).status_code == 403
    assert Document.objects.filter(project=project).count() == 3

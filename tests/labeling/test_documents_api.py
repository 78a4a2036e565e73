"""The documents and spans REST API under /api/v1/projects/<name>/documents/."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.models import Document, Span
from projects.services import api_key_create
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

TEXT = "Alice Smith works at Contoso in Paris."


@pytest.fixture
def api(user, project):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _list(project) -> str:
    return reverse("api-document-list", args=[project.name])


def _detail(project, document) -> str:
    return reverse("api-document-detail", args=[project.name, document.pk])


def _spans(project, document) -> str:
    return reverse("api-span-list", args=[project.name, document.pk])


def test_list_pages_and_filters(api, project):
    person = EntityTypeFactory(project=project, name="Person")
    docs = [DocumentFactory(project=project, name=f"d{i}.txt", text=f"Text {i} about Contoso.") for i in range(5)]
    SpanFactory(document=docs[1], entity_type=person, start=0, end=4)
    docs[2].status = "tagged"
    docs[2].save()
    body = api.get(_list(project), {"limit": 2, "offset": 2}).json()
    assert body["count"] == 5 and [d["name"] for d in body["results"]] == ["d2.txt", "d3.txt"]
    assert "text" not in body["results"][0]
    assert [d["name"] for d in api.get(_list(project), {"status": "tagged"}).json()["results"]] == ["d2.txt"]
    by_type = api.get(_list(project), {"entity_type": person.pk}).json()["results"]
    assert [(d["name"], d["span_count"]) for d in by_type] == [("d1.txt", 1)]
    assert api.get(_list(project), {"search": "TEXT 4"}).json()["count"] == 1
    assert api.get(_list(project), {"split": "auto"}).json()["count"] == 5
    response = api.get(_list(project), {"status": "finished"})
    assert response.status_code == 400 and "status" in response.json()


def test_upload_returns_created_ids_and_duplicates(api, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile("a.txt", b"Alpha."), SimpleUploadedFile("b.txt", b"Alpha.")]
    response = api.post(_list(project), {"files": files}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert [c["name"] for c in body["created"]] == ["a.txt"] and body["duplicates"] == ["b.txt"]
    assert Document.objects.get(pk=body["created"][0]["id"]).text == "Alpha."


def test_upload_without_files_is_400(api, project):
    response = api.post(_list(project), {}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"errors": ["files: This field is required."], "duplicates": []}


def test_detail_returns_text_and_spans(api, project):
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project, text=TEXT)
    SpanFactory(document=document, entity_type=person, start=0, end=11)
    body = api.get(_detail(project, document)).json()
    assert body["text"] == TEXT and body["span_count"] == 1
    assert body["spans"][0] | {"id": 0, "created_at": None} == {
        "id": 0,
        "entity_type": person.pk,
        "entity_type_name": "Person",
        "start": 0,
        "end": 11,
        "text": "Alice Smith",
        "created_by": None,
        "created_at": None,
    }


def test_detail_of_another_projects_document_is_404(api, project):
    foreign = DocumentFactory(project=ProjectFactory(name="elsewhere"))
    assert api.get(_detail(project, foreign)).status_code == 404
    assert api.delete(_detail(project, foreign)).status_code == 404
    assert api.get(_spans(project, foreign)).status_code == 404
    assert Document.objects.filter(pk=foreign.pk).exists()


def test_patch_language_split_and_status(api, project, user):
    document = DocumentFactory(project=project)
    response = api.patch(_detail(project, document), {"language": "fr-ca", "split": "test", "status": "tagged"})
    assert response.status_code == 200, response.json()
    assert response.json()["language"] == "fr-CA"
    document.refresh_from_db()
    assert (document.language, document.split, document.status, document.tagged_by) == ("fr-CA", "test", "tagged", user)
    api.patch(_detail(project, document), {"split": "auto"})
    document.refresh_from_db()
    assert document.split == ""


def test_patch_bad_language_is_400_with_message(api, project):
    document = DocumentFactory(project=project)
    response = api.patch(_detail(project, document), {"language": "zz"})
    assert response.status_code == 400
    assert "is not a known language" in response.json()["language"][0]


def test_patch_permissions_follow_the_fields(client, project, member_of):
    document = DocumentFactory(project=project)
    annotator = APIClient()
    annotator.force_authenticate(member_of(project, "annotator"))
    assert annotator.patch(_detail(project, document), {"status": "tagged"}).status_code == 200
    assert annotator.patch(_detail(project, document), {"split": "train"}).status_code == 403
    document.refresh_from_db()
    assert document.split == ""


def test_delete_document(api, project):
    document = DocumentFactory(project=project)
    assert api.delete(_detail(project, document)).status_code == 204
    assert not Document.objects.filter(pk=document.pk).exists()


def test_span_create_list_and_delete(api, project):
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project, text=TEXT)
    response = api.post(_spans(project, document), {"entity_type": person.pk, "start": 0, "end": 11}, format="json")
    assert response.status_code == 201
    assert response.json()["text"] == "Alice Smith"
    span_id = response.json()["id"]
    assert [s["id"] for s in api.get(_spans(project, document)).json()] == [span_id]
    url = reverse("api-span-detail", args=[project.name, document.pk, span_id])
    assert api.delete(url).status_code == 204
    assert not Span.objects.exists()
    assert api.delete(url).status_code == 404


def test_span_changes_answer_with_the_documents_status_as_stored(api, project):
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project, text=TEXT)

    created = api.post(_spans(project, document), {"entity_type": person.pk, "start": 0, "end": 11}, format="json")
    assert created["Nerlab-Document-Status"] == "in_progress"
    second = api.post(_spans(project, document), {"entity_type": person.pk, "start": 21, "end": 28}, format="json")
    assert second["Nerlab-Document-Status"] == "in_progress"
    first_url = reverse("api-span-detail", args=[project.name, document.pk, created.json()["id"]])
    assert api.delete(first_url)["Nerlab-Document-Status"] == "in_progress"

    # Another user marks it tagged meanwhile: removing the last tag keeps it tagged, and the answer says so (the
    # page that still showed "in progress" would otherwise have guessed "untagged").
    Document.objects.filter(pk=document.pk).update(status=Document.Status.TAGGED)
    second_url = reverse("api-span-detail", args=[project.name, document.pk, second.json()["id"]])
    deleted = api.delete(second_url)
    assert (deleted.status_code, deleted["Nerlab-Document-Status"]) == (204, "tagged")

    Document.objects.filter(pk=document.pk).update(status=Document.Status.IN_PROGRESS)
    again = api.post(_spans(project, document), {"entity_type": person.pk, "start": 0, "end": 11}, format="json")
    again_url = reverse("api-span-detail", args=[project.name, document.pk, again.json()["id"]])
    assert api.delete(again_url)["Nerlab-Document-Status"] == "untagged"


def test_span_create_errors_are_400_with_the_rule(api, project):
    person = EntityTypeFactory(project=project, name="Person")
    foreign = EntityTypeFactory(project=ProjectFactory(name="elsewhere"), name="Person")
    document = DocumentFactory(project=project, text=TEXT)
    SpanFactory(document=document, entity_type=person, start=0, end=11)
    overlap = api.post(_spans(project, document), {"entity_type": person.pk, "start": 6, "end": 17}, format="json")
    assert overlap.status_code == 400 and "overlaps Person at 0-11" in overlap.json()["non_field_errors"][0]
    outside = api.post(_spans(project, document), {"entity_type": person.pk, "start": 30, "end": 60}, format="json")
    assert outside.status_code == 400 and "outside the document" in outside.json()["non_field_errors"][0]
    wrong_type = api.post(_spans(project, document), {"entity_type": foreign.pk, "start": 12, "end": 17}, format="json")
    assert wrong_type.status_code == 400 and "no entity type with id" in wrong_type.json()["entity_type"][0]
    assert Span.objects.count() == 1


def test_viewer_reads_but_cannot_write(project, member_of):
    document = DocumentFactory(project=project, text=TEXT)
    person = EntityTypeFactory(project=project, name="Person")
    viewer = APIClient()
    viewer.force_authenticate(member_of(project, "viewer"))
    assert viewer.get(_detail(project, document)).status_code == 200
    assert viewer.post(_spans(project, document), {"entity_type": person.pk, "start": 0, "end": 5}).status_code == 403
    assert viewer.delete(_detail(project, document)).status_code == 403


def test_non_member_gets_404_everywhere(project):
    document = DocumentFactory(project=project)
    stranger = APIClient()
    stranger.force_authenticate(UserFactory(username="mallory"))
    assert stranger.get(_list(project)).status_code == 404
    assert stranger.get(_detail(project, document)).status_code == 404


def test_user_api_key_works_and_project_key_cannot_read_documents(project, user):
    DocumentFactory(project=project)
    _, user_secret = api_key_create(user=user, name="script")
    _, project_secret = api_key_create(user=user, name="predict only", project=project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {user_secret}")
    assert client.get(_list(project)).json()["count"] == 1
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {project_secret}")
    assert client.get(_list(project)).status_code == 403


def test_anonymous_is_refused(project):
    assert APIClient().get(_list(project)).status_code in (401, 403)


def test_document_detail_shows_the_metadata_its_file_gave_it(api, project):
    document = DocumentFactory(project=project, meta={"section": "Cooking", "prodigy_input_hash": "12"})
    body = api.get(_detail(project, document)).json()
    assert body["meta"] == {"section": "Cooking", "prodigy_input_hash": "12"}


def test_span_type_change_from_a_stale_page_is_409_and_keeps_the_first_change(api, project):
    person = EntityTypeFactory(project=project, name="Person")
    org = EntityTypeFactory(project=project, name="Organization")
    location = EntityTypeFactory(project=project, name="Location")
    document = DocumentFactory(project=project, text=TEXT)
    span = SpanFactory(document=document, entity_type=person, start=0, end=11)
    url = reverse("api-span-detail", args=[project.name, document.pk, span.pk])
    first = api.patch(url, {"entity_type": org.pk, "expected_entity_type": person.pk}, format="json")
    assert first.status_code == 200 and first.json()["entity_type_name"] == "Organization"
    second = api.patch(url, {"entity_type": location.pk, "expected_entity_type": person.pk}, format="json")
    assert second.status_code == 409
    assert "changed to Organization meanwhile" in second.json()["detail"]
    span.refresh_from_db()
    assert span.entity_type == org
    # Without the precondition the change applies to whatever is stored (scripts that mean "set the type").
    assert api.patch(url, {"entity_type": location.pk}, format="json").status_code == 200

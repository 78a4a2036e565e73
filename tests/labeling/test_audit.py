"""The audit trail as users see it: the project's audit log, a document's tag history, and the REST endpoint."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.models import SpanEvent
from labeling.services import documents_create
from ner.types import LabeledDoc
from ner.types import Span as NerSpan
from projects.roles import Role
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

TEXT = "Alice Smith works at Contoso in Paris since 2020."


class _Rows(HTMLParser):
    """The rows of the table with a given id, each a list of its cells' text (whitespace collapsed)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows = table_id, 0, []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def rows(html: str | bytes, table_id: str) -> list[list[str]]:
    parser = _Rows(table_id)
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    return parser.rows[1:]  # without the header row


@pytest.fixture
def types(project):
    return {
        "Person": EntityTypeFactory(project=project, name="Person"),
        "Org": EntityTypeFactory(project=project, name="Org"),
        "Place": EntityTypeFactory(project=project, name="Place"),
    }


@pytest.fixture
def letter(project):
    return DocumentFactory(project=project, name="letter.txt", text=TEXT)


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def tag(client: APIClient, project, document, entity_type, start: int, end: int) -> int:
    url = reverse("api-span-list", args=[project.name, document.pk])
    response = client.post(url, {"entity_type": entity_type.pk, "start": start, "end": end}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def span_url(project, document, span_id: int) -> str:
    return reverse("api-span-detail", args=[project.name, document.pk, span_id])


def audit_page(client, project, **filters):
    response = client.get(reverse("audit:audit_log", args=[project.name]), filters)
    assert response.status_code == 200
    return response


# --------------------------------------------------------------------------------------------- the audit log


def test_tagging_api_changes_are_listed_newest_first_with_who_and_what(client, project, types, letter, member_of):
    annotator = member_of(project, Role.ANNOTATOR, "bob")
    api = api_for(annotator)
    span_id = tag(api, project, letter, types["Person"], 0, 11)
    assert (
        api.patch(span_url(project, letter, span_id), {"entity_type": types["Org"].pk}, format="json").status_code
        == 200
    )
    assert api.delete(span_url(project, letter, span_id)).status_code == 204

    client.force_login(member_of(project, Role.VIEWER))  # a viewer may read the trail
    page = audit_page(client, project)
    listed = rows(page.content, "events")
    # <q> quotes the tagged text with CSS, so the cell's text is the text itself.
    assert [row[1:] for row in listed] == [
        ["bob", "Deleted Org", "Alice Smith 0\N{EN DASH}11", "letter.txt", "Tagging page or API"],
        ["bob", "Changed type Person → Org", "Alice Smith 0\N{EN DASH}11", "letter.txt", "Tagging page or API"],
        ["bob", "Created Person", "Alice Smith 0\N{EN DASH}11", "letter.txt", "Tagging page or API"],
    ]
    html = page.content.decode()
    assert reverse("labeling:document_detail", args=[project.name, letter.pk]) in html
    assert rows(html, "activity") == [["bob", "1", "1", "1", "0", "3"]]


def test_document_page_loads_the_tag_history(owner_client, user, project, types, letter):
    api = api_for(user)
    kept = tag(api, project, letter, types["Person"], 0, 11)
    api.patch(span_url(project, letter, kept), {"entity_type": types["Org"].pk}, format="json")
    gone = tag(api, project, letter, types["Place"], 32, 37)
    api.delete(span_url(project, letter, gone))
    # An uploaded document's tags have no "created" event: the history reads them from the span rows.
    imported = documents_create(
        project=project,
        user=user,
        docs=[LabeledDoc(text="Bob lives in Lyon.", spans=(NerSpan(13, 17, "Place"),), name="imported.txt")],
    ).created[0]

    history_url = reverse("audit:document_history", args=[project.name, letter.pk])
    detail = owner_client.get(reverse("labeling:document_detail", args=[project.name, letter.pk])).content.decode()
    assert f'hx-get="{history_url}"' in detail and f'href="{history_url}"' in detail
    assert reverse("lineage:document_models", args=[project.name, letter.pk]) in detail

    partial = owner_client.get(history_url, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and b"<html" not in partial.content
    tags = rows(partial.content, "tag-history-table")
    assert len(tags) == 2
    (first, second) = tags
    assert first[0] == "Alice Smith Org" and first[1] == "0\N{EN DASH}11"
    assert "Created as Person by alice" in first[2] and "Changed type Person → Org by alice" in first[2]
    assert second[0] == "Paris Place (deleted)"
    assert "Created as Place by alice" in second[2] and "Deleted by alice" in second[2]

    other = owner_client.get(reverse("audit:document_history", args=[project.name, imported.pk]))
    assert other.status_code == 200 and b"<html" in other.content  # the link's target is a page of its own
    (row,) = rows(other.content, "tag-history-table")
    assert "Created as Place by alice" in row[2] and "Upload or import" in row[2]


def test_entity_type_merge_and_delete_are_in_the_trail_with_the_user(client, project, types, letter, member_of):
    project.overlap_policy = "allow"  # so a Person and an Org tag can cover the same words before the merge
    project.save(update_fields=["overlap_policy"])
    editor = member_of(project, Role.EDITOR, "erin")
    api = api_for(editor)
    tag(api, project, letter, types["Person"], 0, 11)
    tag(api, project, letter, types["Person"], 21, 28)
    tag(api, project, letter, types["Org"], 21, 28)  # the merge makes the Person tag here a duplicate

    client.force_login(editor)
    merge = reverse("entity_types:merge", args=[project.name])
    response = client.post(merge, {"source": types["Person"].pk, "target": types["Org"].pk, "confirm": "1"})
    assert response.status_code == 302
    response = client.post(reverse("entity_types:delete", args=[project.name, types["Org"].pk]))
    assert response.status_code == 302

    merged = rows(audit_page(client, project, source="type_merge").content, "events")
    assert sorted((row[1], row[2], row[5]) for row in merged) == [
        ("erin", "Changed type Person → Org", "Entity type merge"),
        ("erin", "Deleted Person", "Entity type merge"),
    ]
    deleted = rows(audit_page(client, project, source="type_delete").content, "events")
    assert sorted((row[1], row[2], row[5]) for row in deleted) == [
        ("erin", "Deleted Org", "Entity type delete"),
        ("erin", "Deleted Org", "Entity type delete"),
    ]


def test_deleted_document_stays_in_the_log_by_name(owner_client, user, project, types, letter):
    tag(api_for(user), project, letter, types["Person"], 0, 11)
    response = owner_client.post(reverse("labeling:document_delete", args=[project.name, letter.pk]))
    assert response.status_code == 302

    page = audit_page(owner_client, project, document_name="LETTER")
    (row,) = rows(page.content, "events")
    assert row[4] == "letter.txt (deleted)"
    assert reverse("labeling:document_detail", args=[project.name, letter.pk]) not in page.content.decode()
    # Its history page is gone with it; the log is where its rows remain.
    history = owner_client.get(reverse("audit:document_history", args=[project.name, letter.pk]))
    assert history.status_code == 404


def test_filters_narrow_the_log_and_the_counts(owner_client, user, project, types, letter, member_of):
    bob = member_of(project, Role.ANNOTATOR, "bob")
    other = DocumentFactory(project=project, name="memo.txt", text=TEXT.replace("2020", "2021"))
    tag(api_for(user), project, letter, types["Person"], 0, 11)
    old = tag(api_for(bob), project, other, types["Place"], 32, 37)
    api_for(bob).delete(span_url(project, other, old))
    a_year_ago = timezone.now() - dt.timedelta(days=365)
    SpanEvent.objects.filter(user=bob, action="created").update(created_at=a_year_ago)

    def listed(**filters):
        return [
            (row[1], row[2], row[4]) for row in rows(audit_page(owner_client, project, **filters).content, "events")
        ]

    assert listed(user="bob") == [("bob", "Deleted Place", "memo.txt"), ("bob", "Created Place", "memo.txt")]
    assert listed(action="created") == [("alice", "Created Person", "letter.txt"), ("bob", "Created Place", "memo.txt")]
    assert listed(document_name="memo") == [("bob", "Deleted Place", "memo.txt"), ("bob", "Created Place", "memo.txt")]
    assert listed(document=other.pk) == listed(document_name="memo")
    assert listed(source="suggestion") == []
    recent = (timezone.now() - dt.timedelta(days=30)).date().isoformat()
    assert [who for who, _, _ in listed(since=recent)] == ["bob", "alice"]
    assert listed(until=a_year_ago.date().isoformat()) == [("bob", "Created Place", "memo.txt")]

    page = audit_page(owner_client, project, since=recent)
    assert sorted(rows(page.content, "activity")) == [
        ["alice", "1", "0", "0", "0", "1"],
        ["bob", "0", "0", "1", "0", "1"],
    ]

    bad = audit_page(owner_client, project, user="mallory", since="yesterday")
    html = bad.content.decode()
    assert f"No user named mallory has worked on {project.name}." in html and "Enter a valid date/time." in html


def test_per_user_counts_include_uploaded_tags(owner_client, user, project, types):
    documents_create(
        project=project,
        user=user,
        docs=[LabeledDoc(text="Bob lives in Lyon.", spans=(NerSpan(0, 3, "Person"), NerSpan(13, 17, "Place")))],
    )
    page = audit_page(owner_client, project)
    assert rows(page.content, "activity") == [["alice", "0", "0", "0", "2", "2"]]
    assert rows(page.content, "events") == []


def test_log_is_paginated(owner_client, project, letter, user):
    SpanEvent.objects.bulk_create(
        SpanEvent(
            project=project,
            document=letter,
            document_name=letter.name,
            span_id=index + 1,
            action="created",
            entity_type=f"T{index}",
            start=0,
            end=5,
            surface="Alice",
            user=user,
        )
        for index in range(55)
    )
    first = audit_page(owner_client, project)
    assert len(rows(first.content, "events")) == 50 and "Page 1 of 2" in first.content.decode()
    second = audit_page(owner_client, project, page=2)
    assert len(rows(second.content, "events")) == 5
    partial = owner_client.get(
        reverse("audit:audit_log", args=[project.name]), {"page": 2}, headers={"HX-Request": "true"}
    )
    assert b"<html" not in partial.content and len(rows(partial.content, "events")) == 5


def test_pages_are_private_to_members(client, project, letter, user):
    stranger = UserFactory(username="stranger")
    client.force_login(stranger)
    assert client.get(reverse("audit:audit_log", args=[project.name])).status_code == 404
    assert client.get(reverse("audit:document_history", args=[project.name, letter.pk])).status_code == 404
    # A document of another project the user owns, in this project's URL, is not found.
    elsewhere = ProjectFactory(name="elsewhere")
    MembershipFactory(project=elsewhere, user=user, role=Role.OWNER)
    foreign = DocumentFactory(project=elsewhere)
    client.force_login(user)
    assert client.get(reverse("audit:document_history", args=[project.name, foreign.pk])).status_code == 404


# --------------------------------------------------------------------------------------------- the REST endpoint


def test_api_lists_filters_and_pages_the_events(project, types, letter, user, member_of):
    bob = member_of(project, Role.ANNOTATOR, "bob")
    for start, end in ((0, 5), (6, 11), (21, 28)):
        tag(api_for(bob), project, letter, types["Person"], start, end)
    last = tag(api_for(user), project, letter, types["Place"], 32, 37)
    api_for(user).delete(span_url(project, letter, last))

    viewer = api_for(member_of(project, Role.VIEWER))
    url = reverse("audit:api-event-list", args=[project.name])
    assert url == f"/api/v1/projects/{project.name}/audit/"
    body = viewer.get(url).json()
    assert body["count"] == 5
    newest = body["results"][0]
    assert {key: newest[key] for key in ("action", "source", "entity_type", "surface", "user", "document")} == {
        "action": "deleted",
        "source": "tagging",
        "entity_type": "Place",
        "surface": "Paris",
        "user": "alice",
        "document": letter.pk,
    }

    page = viewer.get(url, {"user": "bob", "action": "created", "limit": 2}).json()
    assert page["count"] == 3 and [e["surface"] for e in page["results"]] == ["Contoso", "Smith"]
    assert page["next"] is not None
    rest = viewer.get(page["next"]).json()
    assert [e["surface"] for e in rest["results"]] == ["Alice"] and rest["next"] is None

    assert viewer.get(url, {"document": letter.pk, "action": "deleted"}).json()["count"] == 1
    assert viewer.get(url, {"since": (timezone.now() + dt.timedelta(hours=1)).isoformat()}).json()["count"] == 0
    assert viewer.get(url, {"until": timezone.now().date().isoformat()}).json()["count"] == 5


def test_api_refuses_bad_filters_with_reasons(project, letter, user):
    api = api_for(user)
    url = reverse("audit:api-event-list", args=[project.name])
    response = api.get(url, {"action": "renamed", "user": "nobody", "document": 999999, "since": "soon"})
    assert response.status_code == 400
    errors = response.json()
    assert "renamed is not one of the available choices" in errors["action"][0]
    assert errors["user"] == [f"No user named nobody has worked on {project.name}."]
    assert "has no document with id 999999" in errors["document"][0]
    assert errors["since"] == ["Enter a valid date/time."]


def test_api_keeps_deleted_documents_and_other_projects_apart(project, types, letter, user):
    tag(api_for(user), project, letter, types["Person"], 0, 5)
    letter.delete()
    elsewhere = ProjectFactory(name="elsewhere")
    MembershipFactory(project=elsewhere, user=user, role=Role.OWNER)
    foreign_doc = DocumentFactory(project=elsewhere, text=TEXT)
    tag(api_for(user), elsewhere, foreign_doc, EntityTypeFactory(project=elsewhere, name="Person"), 0, 5)

    api = api_for(user)
    (event,) = api.get(reverse("audit:api-event-list", args=[project.name])).json()["results"]
    assert event["document"] is None and event["document_name"] == "letter.txt"
    # Another project's document id is not a filter for this project.
    response = api.get(reverse("audit:api-event-list", args=[project.name]), {"document": foreign_doc.pk})
    assert response.status_code == 400
    stranger = api_for(UserFactory(username="stranger"))
    assert stranger.get(reverse("audit:api-event-list", args=[project.name])).status_code == 404

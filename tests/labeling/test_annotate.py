"""The tagging page's server side: rendering, token snapping, statistics, assignment and next-document navigation."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from labeling import selectors, services
from labeling.models import Document, Span
from ner import limits
from ner.splits import assign_split
from ner.tokens import token_bounds
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(project):
    return EntityTypeFactory(project=project, name="Person", color="#f4a3a8", hotkey="p")


@pytest.fixture
def org(project):
    return EntityTypeFactory(project=project, name="Organization", color="#8ecae6", hotkey="o")


def _annotate_url(document: Document) -> str:
    return reverse("labeling:document_annotate", args=[document.project.name, document.pk])


def _config(response) -> dict:
    match = re.search(r'<script id="annotate-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "the page carries its configuration as JSON"
    return json.loads(match.group(1))


# --- span_create snaps to tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (1, 9, (0, 11)),  # "lice Smi" -> "Alice Smith"
        (0, 11, (0, 11)),  # already whole tokens
        (15, 18, (15, 22)),  # "Con" -> "Contoso"
        (24, 25, (23, 27)),  # inside "Ltd." (one token, a spaCy special case)
    ],
)
def test_span_create_snaps_to_tokens_in_token_mode(project, person, user, start, end, expected):
    document = DocumentFactory(project=project, text="Alice Smith of Contoso Ltd. moved to Paris.")
    span = services.span_create(document=document, entity_type=person, start=start, end=end, user=user)
    assert (span.start, span.end) == expected


def test_span_create_keeps_character_offsets_in_character_mode(project, person, user):
    project.label_mode = "character"
    project.save()
    document = DocumentFactory(project=project, text="Alice Smith of Contoso Ltd.")
    span = services.span_create(document=document, entity_type=person, start=1, end=9, user=user)
    assert (span.start, span.end) == (1, 9)


def test_span_snap_agrees_with_whole_text_tokens_on_long_documents(project):
    words = ["Mr.", "O'Neil", "(Contoso,", "Inc.)", "paid", "$1,200.50", "on", "2021-03-04;", "e-mail:", "a@b.org"]
    text = " ".join(words[i % len(words)] for i in range(3000))
    document = DocumentFactory(project=project, text=text)
    whole = token_bounds(text, "en")
    for token_start, token_end in whole[::97]:
        inner = (token_start + token_end) // 2
        snapped = services.span_snap(document=document, start=inner, end=inner + 1)
        assert snapped == (token_start, token_end)


def test_span_snap_of_whitespace_only_selection_is_left_for_the_rules_to_refuse(project, person, user):
    document = DocumentFactory(project=project, text="Alice    Smith")
    with pytest.raises(ValidationError, match="covers only whitespace"):
        services.span_create(document=document, entity_type=person, start=6, end=8, user=user)


# --- the annotate page ---------------------------------------------------------------------------------------------


def test_annotate_page_renders_exact_text_spans_types_and_tokens(owner_client, project, person, org):
    text = "Hi 👋 Alice Smith\r\nworks at <Contoso> & co."
    document = DocumentFactory(project=project, text=text)
    alice = text.index("Alice")
    SpanFactory(document=document, entity_type=person, start=alice, end=alice + 11)
    response = owner_client.get(_annotate_url(document))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<mark" not in body  # the text comes plain: the page draws the marks from the spans below
    assert "&#13;\n" in body and "&lt;Contoso&gt; &amp; co." in body  # CR survives parsing; text escaped
    config = _config(response)
    assert config["spans"] == [[document.spans.get().pk, person.pk, alice, alice + 11]]  # code points
    assert [t["hotkey"] for t in config["types"]] == ["o", "p"]
    assert config["canAnnotate"] is True and config["labelMode"] == "token"
    # Tokens come as gap/length pairs; decoded they are ner.tokens' bounds.
    decoded, position = [], 0
    pairs = config["tokens"]
    for gap, length in zip(pairs[::2], pairs[1::2], strict=True):
        decoded.append((position + gap, position + gap + length))
        position += gap + length
    assert decoded == token_bounds(text, "en")
    assert '<script type="module" src="/static/js/annotate/main.js">' in body and "css/annotate.css" in body
    assert reverse("labeling:document_next", args=[project.name]) in body


def test_annotate_page_is_read_only_for_viewers(client, project, member_of, person):
    viewer = member_of(project, "viewer")
    document = DocumentFactory(project=project)
    client.force_login(viewer)
    response = client.get(_annotate_url(document))
    assert response.status_code == 200
    assert _config(response)["canAnnotate"] is False
    body = response.content.decode()
    assert 'class="annotate-toolbar"' not in body and "does not allow tagging" in body
    assert 'id="split-select"' not in body


def test_annotate_page_renders_long_document_without_per_span_queries(owner_client, project, person, org):
    text = ("Alice Smith met Bob at Contoso in Paris. " * 3200)[: limits.DOCUMENT_CHARS_MAX]
    document = DocumentFactory(project=project, text=text)
    spans = [
        Span(document=document, entity_type=person if i % 2 else org, start=i * 41, end=i * 41 + 11)
        for i in range(2000)
    ]
    Span.objects.bulk_create(spans)
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(_annotate_url(document))
    assert response.status_code == 200
    assert len(queries) < 20, [query["sql"] for query in queries]
    assert len(_config(response)["spans"]) == 2000


def test_document_list_and_detail_link_to_the_annotate_page(owner_client, project):
    document = DocumentFactory(project=project)
    url = _annotate_url(document)
    assert url in owner_client.get(reverse("labeling:document_list", args=[project.name])).content.decode()
    detail = reverse("labeling:document_detail", args=[project.name, document.pk])
    assert url in owner_client.get(detail).content.decode()


# --- the API the page uses -----------------------------------------------------------------------------------------


def test_span_patch_changes_type_and_refuses_a_foreign_type(project, user, person, org):
    document = DocumentFactory(project=project, text="Alice Smith works at Contoso.")
    span = SpanFactory(document=document, entity_type=person, start=0, end=11)
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api-span-detail", args=[project.name, document.pk, span.pk])
    response = api.patch(url, {"entity_type": org.pk}, format="json")
    assert response.status_code == 200 and response.json()["entity_type_name"] == "Organization"
    assert Span.objects.get(pk=span.pk).entity_type == org
    foreign = EntityTypeFactory(name="Elsewhere")
    response = api.patch(url, {"entity_type": foreign.pk}, format="json")
    assert response.status_code == 400 and "has no entity type" in str(response.json())


def test_span_post_returns_the_snapped_offsets_and_says_they_were_snapped(project, user, person):
    document = DocumentFactory(project=project, text="Alice Smith works at Contoso.")
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api-span-list", args=[project.name, document.pk])
    response = api.post(url, {"entity_type": person.pk, "start": 2, "end": 8}, format="json")
    assert response.status_code == 201
    assert (response.json()["start"], response.json()["end"], response.json()["text"]) == (0, 11, "Alice Smith")
    assert response.json()["snapped"] is True
    exact = api.post(url, {"entity_type": person.pk, "start": 21, "end": 28}, format="json")
    assert (exact.json()["text"], exact.json()["snapped"]) == ("Contoso", False)


def test_document_patch_assigns_only_members(project, user, member_of):
    annotator = member_of(project, "annotator")
    document = DocumentFactory(project=project)
    api = APIClient()
    api.force_authenticate(user)
    url = reverse("api-document-detail", args=[project.name, document.pk])
    assert api.patch(url, {"assigned_to": annotator.pk}, format="json").status_code == 200
    assert Document.objects.get(pk=document.pk).assigned_to == annotator
    outsider = member_of(ProjectFactory(), "viewer", username="outsider")
    response = api.patch(url, {"assigned_to": outsider.pk}, format="json")
    assert response.status_code == 400 and "is not a member" in str(response.json())
    assert api.patch(url, {"assigned_to": None}, format="json").status_code == 200
    assert Document.objects.get(pk=document.pk).assigned_to is None


# --- next untagged, bulk assignment --------------------------------------------------------------------------------


def test_next_untagged_prefers_mine_then_unassigned_and_skips_others(project, user, member_of):
    other = member_of(project, "annotator", username="bea")
    first = DocumentFactory(project=project, name="a")
    DocumentFactory(project=project, name="b", assigned_to=other)
    free = DocumentFactory(project=project, name="c")
    DocumentFactory(project=project, name="d", status=Document.Status.TAGGED, assigned_to=user)
    mine = DocumentFactory(project=project, name="e", assigned_to=user)

    def next_name(after):
        found = selectors.document_next_untagged(project=project, user=user, after_id=after)
        return found.name if found else None

    assert next_name(None) == "e"  # assigned to me comes first
    assert next_name(mine.pk) == "a"  # then unassigned: none after "e", so it wraps to the first
    assert next_name(first.pk) == "e"  # mine still waits
    Document.objects.filter(pk=mine.pk).update(status=Document.Status.TAGGED)
    assert next_name(first.pk) == "c"  # the first unassigned one after "a"
    Document.objects.filter(pk=first.pk).update(status=Document.Status.TAGGED)
    assert next_name(free.pk) is None  # "b" belongs to someone else


def test_next_view_redirects_or_says_nothing_is_left(owner_client, project):
    document = DocumentFactory(project=project)
    url = reverse("labeling:document_next", args=[project.name])
    response = owner_client.get(url)
    assert response.status_code == 302 and response["Location"] == _annotate_url(document)
    response = owner_client.get(f"{url}?after={document.pk}")
    assert response["Location"] == reverse("labeling:document_list", args=[project.name])
    assert "No untagged documents left" in str(next(iter(get_messages(response.wsgi_request))))


def test_bulk_assign_from_the_document_list(owner_client, project, member_of):
    annotator = member_of(project, "annotator", username="ann")
    documents = [DocumentFactory(project=project) for _ in range(3)]
    foreign = DocumentFactory()
    url = reverse("labeling:document_bulk_assign", args=[project.name])
    ids = [documents[0].pk, documents[2].pk, foreign.pk]
    response = owner_client.post(url, {"ids": ids, "assigned_to": annotator.pk})
    assert response.status_code == 302
    assert [d.assigned_to for d in Document.objects.filter(project=project).order_by("pk")] == [
        annotator,
        None,
        annotator,
    ]
    assert Document.objects.get(pk=foreign.pk).assigned_to is None
    assert "Assigned 2 documents to ann" in str(next(iter(get_messages(response.wsgi_request))))
    owner_client.post(url, {"ids": [documents[0].pk], "assigned_to": ""})
    assert Document.objects.get(pk=documents[0].pk).assigned_to is None


def test_bulk_assign_refuses_non_members(project):
    with pytest.raises(ValidationError, match="is not a member"):
        services.documents_assign(project=project, ids=[1], assigned_to=UserFactory(username="nobody"))


# --- effective split and label statistics ---------------------------------------------------------------------------


def test_document_list_shows_effective_split_and_assignee(owner_client, project, member_of):
    ann = member_of(project, "annotator", username="ann")
    manual = DocumentFactory(project=project, split="test", assigned_to=ann)
    auto = DocumentFactory(project=project)
    expected_auto = assign_split(auto.content_hash, project.split_seed, project.test_percent)
    response = owner_client.get(reverse("labeling:document_list", args=[project.name]))
    assert [(d.pk, side) for d, side in response.context["rows"]] == [(manual.pk, "test"), (auto.pk, expected_auto)]
    body = response.content.decode()
    assert f"{expected_auto.capitalize()} (auto)" in body and "<td>ann</td>" in body


def test_label_stats_counts_spans_and_documents_per_split(project, person, org, user):
    project.split_mode = "manual"  # unassigned documents go to train
    project.save()
    train = DocumentFactory(project=project, text="Alice and Bob met Carol.")
    test = DocumentFactory(project=project, text="Dave met Erin.", split="test")
    for start, end in ((0, 5), (10, 13), (18, 23)):
        services.span_create(document=train, entity_type=person, start=start, end=end, user=user)
    services.span_create(document=test, entity_type=person, start=0, end=4, user=user)
    with CaptureQueriesContext(connection) as queries:
        stats = selectors.label_stats(project=project)
    assert len(queries) <= 3
    rows = {row.entity_type.name: row for row in stats.per_type}
    person_row = rows["Person"]
    assert (person_row.spans_train, person_row.spans_test, person_row.documents_train, person_row.documents_test) == (
        3,
        1,
        1,
        1,
    )
    assert person_row.percent == round(100 * 4 / limits.RECOMMENDED_INSTANCES_PER_TYPE) and person_row.few
    assert rows["Organization"].spans == 0 and rows["Organization"].few
    assert (stats.documents_train, stats.documents_test) == (1, 1)


def test_label_stats_page_partial_and_document_list(owner_client, project, person):
    DocumentFactory(project=project)
    url = reverse("labeling:label_stats", args=[project.name])
    full = owner_client.get(url).content.decode()
    partial = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" in full and "<html" not in partial
    assert 'data-type="Person"' in partial and f"tag at least {limits.FEW_INSTANCES_WARNING}" in partial
    listing = owner_client.get(reverse("labeling:document_list", args=[project.name])).content.decode()
    assert 'id="label-stats"' in listing
    dashboard = owner_client.get(reverse("projects:project_detail", args=[project.name])).content.decode()
    assert f'hx-get="{url}"' in dashboard

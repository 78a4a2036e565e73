"""Pre-annotation suggestions: accepting makes a tag through the span rules, the annotator's tag always wins, and
only annotators may accept or reject (viewers may look)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.imports import project_export_file
from labeling.models import Document, Span, SpanEvent, Suggestion
from labeling.services import span_create
from labeling.suggestions import selectors as suggestion_selectors
from labeling.suggestions import services as suggestion_services
from ner.formats.jsonl import read_jsonl
from ner.predict import ScoredSpan
from portability.archive import project_archive_bytes
from projects.roles import Role
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

TEXT = "Alice Smith of Contoso Ltd. moved to Paris in 2021."


def _at(word: str) -> tuple[int, int]:
    start = TEXT.index(word)
    return start, start + len(word)


@pytest.fixture
def setup(project, user):
    person = EntityTypeFactory(project=project, name="Person")
    org = EntityTypeFactory(project=project, name="Organization")
    place = EntityTypeFactory(project=project, name="Location")
    document = DocumentFactory(project=project, name="memo.txt", text=TEXT)
    return {"project": project, "user": user, "doc": document, "Person": person, "Organization": org, "Location": place}


def suggest(document: Document, entity_type, word: str, confidence: float = 0.9, model: str = "model-1") -> Suggestion:
    start, end = _at(word)
    return Suggestion.objects.create(
        document=document, entity_type=entity_type, start=start, end=end, confidence=confidence, model_name=model
    )


def pending() -> QuerySet[Suggestion]:
    return Suggestion.objects.filter(state=Suggestion.State.PENDING)


def stored_tags(document: Document) -> list[tuple[str, str]]:
    return [
        (span.entity_type.name, TEXT[span.start : span.end])
        for span in Span.objects.filter(document=document).select_related("entity_type").order_by("start")
    ]


# --- services ----------------------------------------------------------------------------------------------------


def test_suggestion_accept_makes_a_tag_and_the_suggestion_no_longer_pending(setup):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith")

    span = suggestion_services.suggestion_accept(suggestion=suggestion, user=setup["user"])

    assert stored_tags(doc) == [("Person", "Alice Smith")]
    assert not pending().filter(pk=suggestion.pk).exists()
    assert list(suggestion_selectors.suggestion_list(document=doc)) == []
    doc.refresh_from_db()
    assert doc.status == Document.Status.IN_PROGRESS  # a tag was made: the document is being worked on
    event = SpanEvent.objects.get(span_id=span.pk)
    assert (event.action, event.source, event.user) == ("created", "suggestion", setup["user"])


def test_suggestion_accept_as_another_type(setup):
    suggestion = suggest(setup["doc"], setup["Person"], "Contoso Ltd.")
    suggestion_services.suggestion_accept(suggestion=suggestion, user=setup["user"], entity_type=setup["Organization"])
    assert stored_tags(setup["doc"]) == [("Organization", "Contoso Ltd.")]


def test_suggestion_accept_snaps_to_tokens_like_a_hand_made_tag(setup):
    # The project labels tokens (the default): half a word is stored as the whole word.
    doc = setup["doc"]
    start, _ = _at("Paris")
    suggestion = Suggestion.objects.create(
        document=doc, entity_type=setup["Location"], start=start, end=start + 3, confidence=0.7, model_name="m"
    )
    suggestion_services.suggestion_accept(suggestion=suggestion, user=setup["user"])
    assert stored_tags(doc) == [("Location", "Paris")]


def test_suggestion_accept_refused_by_the_overlap_policy_keeps_the_suggestion(setup):
    doc = setup["doc"]
    span_create(document=doc, entity_type=setup["Organization"], start=0, end=5, user=setup["user"])
    suggestion = suggest(doc, setup["Person"], "Alice Smith")

    with pytest.raises(ValidationError) as refused:
        suggestion_services.suggestion_accept(suggestion=suggestion, user=setup["user"])

    assert "overlap" in " ".join(refused.value.messages).lower()
    assert pending().filter(pk=suggestion.pk).exists()
    assert stored_tags(doc) == [("Organization", "Alice")]


def test_suggestion_list_hides_suggestions_under_a_tag(setup):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith")
    paris = suggest(doc, setup["Location"], "Paris")
    span_create(document=doc, entity_type=setup["Person"], start=0, end=5, user=setup["user"])

    assert list(suggestion_selectors.suggestion_list(document=doc)) == [paris]


def test_suggestion_reject_hides_it_and_makes_no_tag(setup):
    suggestion = suggest(setup["doc"], setup["Person"], "Alice Smith")
    suggestion_services.suggestion_reject(suggestion=suggestion)
    assert list(suggestion_selectors.suggestion_list(document=setup["doc"])) == []
    assert suggestion_selectors.suggestions_pending_count(documents=[setup["doc"].pk]) == {}
    assert stored_tags(setup["doc"]) == []


def test_suggestions_accept_all_of_one_type(setup):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith")
    suggest(doc, setup["Location"], "Paris")
    org = suggest(doc, setup["Organization"], "Contoso Ltd.")

    result = suggestion_services.suggestions_accept_all(document=doc, user=setup["user"], entity_type=setup["Location"])

    assert [TEXT[span.start : span.end] for span in result.accepted] == ["Paris"]
    assert result.skipped == 0
    assert stored_tags(doc) == [("Location", "Paris")]
    assert sorted(pending().values_list("entity_type__name", flat=True)) == ["Organization", "Person"]
    assert pending().filter(pk=org.pk).exists()


def test_suggestions_accept_all_skips_collisions_with_a_tag_and_says_how_many(setup):
    doc = setup["doc"]
    span_create(document=doc, entity_type=setup["Organization"], start=0, end=5, user=setup["user"])
    suggest(doc, setup["Person"], "Alice Smith", confidence=0.95)  # under the annotator's tag
    suggest(doc, setup["Location"], "Paris", confidence=0.6)

    result = suggestion_services.suggestions_accept_all(document=doc, user=setup["user"])

    assert result.skipped == 1
    assert stored_tags(doc) == [("Organization", "Alice"), ("Location", "Paris")]
    assert not pending().exists()  # every suggestion in scope is dealt with: accepted or dropped
    assert len(result.suggestions) == 2


def test_suggestions_accept_all_prefers_the_more_confident_of_two_overlapping(setup):
    doc = setup["doc"]
    project = setup["project"]
    project.overlap_policy = "allow"  # even where tags may nest, two suggestions on one word do not both become tags
    project.save()
    suggest(doc, setup["Person"], "Contoso Ltd.", confidence=0.4)
    suggest(doc, setup["Organization"], "Contoso Ltd.", confidence=0.8)

    result = suggestion_services.suggestions_accept_all(document=doc, user=setup["user"])

    assert (len(result.accepted), result.skipped) == (1, 1)
    assert stored_tags(doc) == [("Organization", "Contoso Ltd.")]


def test_suggestions_reject_all_of_one_type(setup):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith")
    suggest(doc, setup["Location"], "Paris")
    assert len(suggestion_services.suggestions_reject_all(document=doc, entity_type=setup["Person"])) == 1
    assert list(pending().values_list("entity_type__name", flat=True)) == ["Location"]
    assert len(suggestion_services.suggestions_reject_all(document=doc)) == 1
    assert not pending().exists()


def test_suggestions_replace_drops_tagged_regions_unknown_labels_and_repeats(setup):
    doc = setup["doc"]
    suggest(doc, setup["Location"], "Paris", model="old-model")
    span_create(document=doc, entity_type=setup["Person"], start=0, end=5, user=setup["user"])
    found = [
        ScoredSpan(*_at("Alice Smith"), "Person", 0.9),  # overlaps the annotator's tag: the tag wins
        ScoredSpan(*_at("Contoso Ltd."), "Organization", 0.5),
        ScoredSpan(*_at("Contoso Ltd."), "Organization", 0.7),  # the same region and type: keep the surer one
        ScoredSpan(*_at("2021"), "DATE", 0.99),  # no such entity type in the project
        ScoredSpan(40, 400, "Location", 0.9),  # outside the text
    ]

    created = suggestion_services.suggestions_replace(document=doc, model_name="new-model", spans=found)

    assert created == 1
    rows = list(Suggestion.objects.values_list("entity_type__name", "start", "end", "confidence", "model_name"))
    assert rows == [("Organization", *_at("Contoso Ltd."), 0.7, "new-model")]  # the old model's are replaced
    doc.refresh_from_db()
    assert doc.status == Document.Status.IN_PROGRESS  # from the tag; suggestions never change a status


def test_suggestions_are_not_exported_as_tags(setup):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith")
    exported = project_export_file(project=setup["project"], format="jsonl")
    (stored,) = read_jsonl(exported.data, file_name="export.jsonl")
    assert stored.text == TEXT
    assert stored.spans == ()


# --- API ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def api(setup, member_of):
    def client_for(role: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(setup["user"] if role == "owner" else member_of(setup["project"], role))
        return client

    return client_for


def _url(name: str, document: Document, suggestion: Suggestion | None = None) -> str:
    args: list[object] = [document.project.name, document.pk]
    if suggestion is not None:
        args.append(suggestion.pk)
    return reverse(name, args=args)


def test_api_lists_pending_suggestions_with_their_models_for_a_viewer(setup, api):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith", confidence=0.87, model="model-7")

    response = api("viewer").get(_url("api-suggestion-list", doc))

    assert response.status_code == 200
    body = response.json()
    assert body["models"] == ["model-7"]
    assert [(s["entity_type_name"], s["text"], s["confidence"]) for s in body["suggestions"]] == [
        ("Person", "Alice Smith", 0.87)
    ]


def test_api_accept_by_an_annotator_returns_the_tag(setup, api):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith")

    response = api("annotator").post(_url("api-suggestion-accept", doc, suggestion), {}, format="json")

    assert response.status_code == 201
    assert (response.json()["entity_type_name"], response.json()["text"]) == ("Person", "Alice Smith")
    assert stored_tags(doc) == [("Person", "Alice Smith")]


def test_api_accepts_answer_with_the_documents_status_as_stored(setup, api):
    doc = setup["doc"]
    alice = suggest(doc, setup["Person"], "Alice Smith")
    suggest(doc, setup["Location"], "Paris")
    annotator = api("annotator")

    accepted = annotator.post(_url("api-suggestion-accept", doc, alice), {}, format="json")
    assert accepted["Nerlab-Document-Status"] == "in_progress"

    Document.objects.filter(pk=doc.pk).update(status=Document.Status.TAGGED)
    all_accepted = annotator.post(_url("api-suggestion-accept-all", doc), {}, format="json")
    assert (all_accepted.status_code, all_accepted["Nerlab-Document-Status"]) == (200, "tagged")
    assert stored_tags(doc) == [("Person", "Alice Smith"), ("Location", "Paris")]


def test_api_accept_as_a_type_of_another_project_is_a_clear_400(setup, api):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith")
    foreign_type = EntityTypeFactory(project=ProjectFactory(name="elsewhere"), name="Person")

    response = api("owner").post(
        _url("api-suggestion-accept", doc, suggestion), {"entity_type": foreign_type.pk}, format="json"
    )

    assert response.status_code == 400
    assert "no entity type" in str(response.json()["entity_type"])
    assert pending().filter(pk=suggestion.pk).exists()


def test_api_accept_refused_shows_the_span_rule(setup, api):
    doc = setup["doc"]
    span_create(document=doc, entity_type=setup["Organization"], start=0, end=5, user=setup["user"])
    suggestion = suggest(doc, setup["Person"], "Alice Smith")

    response = api("annotator").post(_url("api-suggestion-accept", doc, suggestion), {}, format="json")

    assert response.status_code == 400
    assert "overlap" in str(response.json()).lower()


def test_api_viewer_may_not_accept_or_reject(setup, api):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith")
    viewer = api("viewer")
    for name in ("api-suggestion-accept", "api-suggestion-reject"):
        assert viewer.post(_url(name, doc, suggestion), {}, format="json").status_code == 403
    for name in ("api-suggestion-accept-all", "api-suggestion-reject-all"):
        assert viewer.post(_url(name, doc), {}, format="json").status_code == 403
    assert pending().filter(pk=suggestion.pk).exists()
    assert stored_tags(doc) == []


def test_api_reject_then_reject_again_is_404(setup, api):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith")
    client = api("annotator")
    assert client.post(_url("api-suggestion-reject", doc, suggestion)).status_code == 204
    again = client.post(_url("api-suggestion-reject", doc, suggestion))
    assert again.status_code == 404
    assert "already" in again.json()["detail"]


def test_api_accept_all_and_reject_all_by_type(setup, api):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith")
    suggest(doc, setup["Location"], "Paris")
    suggest(doc, setup["Organization"], "Contoso Ltd.")
    client = api("annotator")

    accepted = client.post(_url("api-suggestion-accept-all", doc), {"entity_type": setup["Person"].pk}, format="json")
    rejected = client.post(_url("api-suggestion-reject-all", doc), {"entity_type": setup["Location"].pk}, format="json")

    assert accepted.status_code == 200
    assert [span["text"] for span in accepted.json()["accepted"]] == ["Alice Smith"]
    assert accepted.json()["skipped"] == 0
    assert rejected.json()["rejected"] == 1
    assert stored_tags(doc) == [("Person", "Alice Smith")]
    assert list(pending().values_list("entity_type__name", flat=True)) == ["Organization"]


def test_api_foreign_project_and_foreign_suggestion_are_404(setup, api):
    doc = setup["doc"]
    mine = suggest(doc, setup["Person"], "Alice Smith")
    other_project = ProjectFactory(name="foreign")
    MembershipFactory(project=other_project, user=setup["user"], role=Role.OWNER)
    other_doc = DocumentFactory(project=other_project, text=TEXT)
    theirs = suggest(other_doc, EntityTypeFactory(project=other_project, name="Person"), "Alice Smith")
    client = api("owner")

    # Another project's suggestion through this project's document, and this document through a stranger's eyes.
    assert client.post(_url("api-suggestion-accept", doc, theirs), {}, format="json").status_code == 404
    foreign_doc_url = reverse("api-suggestion-accept", args=[doc.project.name, other_doc.pk, theirs.pk])
    assert client.post(foreign_doc_url, {}, format="json").status_code == 404
    stranger = APIClient()
    stranger.force_authenticate(UserFactory(username="stranger"))
    assert stranger.get(_url("api-suggestion-list", doc)).status_code == 404
    assert stranger.post(_url("api-suggestion-accept", doc, mine), {}, format="json").status_code == 404
    assert Suggestion.objects.count() == 2


def test_annotate_page_config_carries_only_pending_suggestions(setup, owner_client):
    doc = setup["doc"]
    hidden = suggest(doc, setup["Person"], "Alice Smith")
    shown = suggest(doc, setup["Location"], "Paris", confidence=0.654)
    span_create(document=doc, entity_type=setup["Organization"], start=0, end=5, user=setup["user"])

    response = owner_client.get(reverse("labeling:document_annotate", args=[doc.project.name, doc.pk]))

    config = response.context["config"]
    assert [row[0] for row in config["suggestions"]] == [shown.pk]
    assert config["suggestions"][0][4] == 0.654
    assert hidden.pk not in [row[0] for row in config["suggestions"]]
    assert b'id="suggestion-panel"' in response.content
    assert config["spans"] and len(config["spans"]) == 1  # suggestions are not tags


# --- undo: rejected and accepted suggestions come back as they were ------------------------------------------------


def test_suggestions_restore_brings_back_a_rejected_one_with_its_confidence(setup):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith", confidence=0.73, model="model-7")
    suggestion_services.suggestion_reject(suggestion=suggestion)

    restored = suggestion_services.suggestions_restore(document=doc, suggestion_ids=[suggestion.pk])

    assert [(s.pk, s.confidence, s.model_name) for s in restored] == [(suggestion.pk, 0.73, "model-7")]
    assert list(suggestion_selectors.suggestion_list(document=doc)) == [suggestion]


def test_suggestions_restore_refuses_another_documents_suggestion_and_changes_nothing(setup):
    doc = setup["doc"]
    other = DocumentFactory(project=setup["project"], text=TEXT + " Again.")
    mine = suggest(doc, setup["Person"], "Alice Smith")
    theirs = suggest(other, setup["Person"], "Alice Smith")
    suggestion_services.suggestions_reject_all(document=doc)
    suggestion_services.suggestions_reject_all(document=other)

    with pytest.raises(ValidationError, match=str(theirs.pk)):
        suggestion_services.suggestions_restore(document=doc, suggestion_ids=[mine.pk, theirs.pk])

    assert not pending().exists()


def test_api_undo_of_accept_all_deletes_the_tags_and_restores_every_suggestion(setup, api):
    doc = setup["doc"]
    span_create(document=doc, entity_type=setup["Organization"], start=0, end=5, user=setup["user"])
    suggest(doc, setup["Person"], "Alice Smith", confidence=0.95)  # collides with the tag: skipped
    suggest(doc, setup["Location"], "Paris")
    client = api("annotator")

    accepted = client.post(_url("api-suggestion-accept-all", doc), {}, format="json").json()
    for span in accepted["accepted"]:
        client.delete(reverse("api-span-detail", args=[doc.project.name, doc.pk, span["id"]]))
    restored = client.post(_url("api-suggestion-restore", doc), {"suggestions": accepted["suggestions"]}, format="json")

    assert restored.status_code == 200
    assert [row["text"] for row in restored.json()["suggestions"]] == ["Paris"]  # the other stays under the tag
    assert stored_tags(doc) == [("Organization", "Alice")]
    assert pending().count() == 2


def test_api_viewer_may_not_restore(setup, api):
    doc = setup["doc"]
    suggestion = suggest(doc, setup["Person"], "Alice Smith")
    suggestion_services.suggestion_reject(suggestion=suggestion)
    response = api("viewer").post(_url("api-suggestion-restore", doc), {"suggestions": [suggestion.pk]}, format="json")
    assert response.status_code == 403
    assert not pending().exists()


def test_rejected_suggestions_are_not_in_the_project_archive(setup):
    doc = setup["doc"]
    suggest(doc, setup["Person"], "Alice Smith")
    suggestion_services.suggestion_reject(suggestion=suggest(doc, setup["Location"], "Paris"))

    archive = zipfile.ZipFile(io.BytesIO(project_archive_bytes(project=setup["project"], include_models=False)))
    entry = next(name for name in archive.namelist() if name.endswith("suggestions.jsonl"))
    rows = [json.loads(line) for line in archive.read(entry).splitlines()]
    assert [row["entity_type"] for row in rows] == ["Person"]

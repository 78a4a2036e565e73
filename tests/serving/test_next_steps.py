"""The dashboard's "what to do next": the newcomer's path, one step at a time, offered only to whoever can take it."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from evaluation.templatetags.evaluation_tags import pct
from labeling.models import Document
from serving import services
from tests.labeling.factories import DocumentFactory
from tests.projects.factories import EntityTypeFactory
from tests.serving.factories import model_row


def _card(client: Client, project) -> str:
    response = client.get(reverse("serving:next_steps", args=[project.name]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def _tagged(project, count: int) -> None:
    for index in range(count):
        DocumentFactory(project=project, text=f"Tagged document number {index}.", status=Document.Status.TAGGED)


def test_an_empty_project_asks_for_entity_types_then_documents(owner_client, project):
    assert "Add the entity types you will tag." in _card(owner_client, project)
    EntityTypeFactory(project=project, name="Person")
    card = _card(owner_client, project)
    assert "Upload documents to tag." in card and "No model trained yet." in card


def test_enough_tagged_documents_offer_training_and_a_model_offers_review_and_deploy(owner_client, project, user):
    EntityTypeFactory(project=project, name="Person")
    _tagged(project, 10)
    DocumentFactory(project=project, text="Still to tag.")
    card = _card(owner_client, project)
    assert "1 document still to tag." in card
    assert "10 tagged documents: enough to train a first model." in card

    model = model_row(project, "first")
    card = _card(owner_client, project)
    assert "See where first goes wrong." in card and "Put first behind the prediction API." in card
    assert f"micro F1 <strong>{pct(model.micro_f1)}</strong>" in card and "not deployed" in card

    services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    DocumentFactory(project=project, text="One more.", status=Document.Status.TAGGED)
    card = _card(owner_client, project)
    assert "deployed as production" in card and "Put first behind" not in card
    assert f"{11 - model.snapshot_documents} more tagged documents than first was trained on." in card


def test_an_annotator_is_offered_tagging_and_review_not_training_or_deploying(client, project, member_of):
    EntityTypeFactory(project=project, name="Person")
    _tagged(project, 12)
    DocumentFactory(project=project, text="Still to tag.")
    model_row(project, "first")
    client.force_login(member_of(project, "annotator"))
    card = _card(client, project)
    assert "1 document still to tag." in card and "See where first goes wrong." in card
    assert not {"Train", "Retrain", "Deploy"} & set(re.findall(r'class="button[^"]*" href="[^"]*">([^<]+)<', card))


def test_the_dashboard_loads_the_card_and_links_to_it_without_javascript(owner_client, project):
    page = owner_client.get(reverse("projects:project_detail", args=[project.name])).content.decode()
    assert f'hx-get="{reverse("serving:next_steps", args=[project.name])}"' in page
    full = owner_client.get(reverse("serving:next_steps", args=[project.name])).content.decode()
    assert "<html" in full and "What to do next" in full

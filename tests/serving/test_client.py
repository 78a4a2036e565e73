"""nerlab_client against a live test server: the whole path from an empty project to predictions."""

from __future__ import annotations

import pytest

from nerlab_client import NerlabClient, NerlabError
from projects import services as project_services
from projects.roles import Role
from tests.ner.synthetic_docs import sentence
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_client_creates_tags_trains_deploys_and_predicts(live_server):
    user = UserFactory(username="scripter")
    _, raw = project_services.api_key_create(user=user, name="script")
    with NerlabClient(live_server.url, raw) as client:
        project = client.create_project("trips", language="en")
        assert project["name"] == "trips"
        client.create_entity_type("trips", "PERSON")

        samples = {f"trip{index:02d}.txt": sentence(index) for index in range(16)}
        uploaded = client.upload_documents("trips", {name: text for name, (text, _) in samples.items()})
        assert len(uploaded["created"]) == 16
        labels = [
            {"name": name, "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in spans]}
            for name, (_, spans) in samples.items()
        ]
        assert client.import_labels("trips", labels) == 32  # CITY is created on the way
        assert {t["name"] for t in client.entity_types("trips")} == {"PERSON", "CITY"}

        run = client.train("trips", model_name="first", max_steps=30, patience=0)
        seen: list[float] = []
        finished = client.wait_for_training(
            "trips", run["id"], progress=lambda r: seen.append(r["percent"]), poll_s=0.2
        )
        assert finished["status"] == "succeeded" and seen and seen[-1] == 100
        evaluation = client.get_evaluation("trips", finished["model_id"])
        assert evaluation  # the report; its shape is the evaluation API's

        deployment = client.deploy("trips", "production", model="first")
        assert deployment["model"] == "first"
        text = "😀 Yesterday Alice Smith flew to Berlin for meeting number 3."
        (result,) = client.predict("trips", "production", [text])
        assert result["id"] == "1"
        for entity in result["entities"]:
            assert text[entity["offset"] : entity["offset"] + entity["length"]] == entity["text"]
            assert 0.0 <= entity["confidenceScore"] <= 1.0

        with pytest.raises(NerlabError) as refused:
            client.predict("trips", "production", [{"id": str(i), "text": "x"} for i in range(26)])
        assert refused.value.status == 400 and "limit is 25" in str(refused.value.body)


def test_client_with_a_project_key_can_only_predict(live_server):
    user = UserFactory(username="owner")
    project = ProjectFactory(name="keyed")
    MembershipFactory(project=project, user=user, role=Role.OWNER)
    _, raw = project_services.api_key_create(user=user, name="p", project=project)
    with NerlabClient(live_server.url, raw) as client:
        with pytest.raises(NerlabError) as refused:
            client.deploy("keyed", "production", model="none")
        assert refused.value.status == 403
        with pytest.raises(NerlabError) as missing:
            client.predict("keyed", "nothing-here", ["text"])
        assert missing.value.status == 404

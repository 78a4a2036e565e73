"""Project names are unique without regard to case: "PROJB" cannot be created next to "projB", on any route, and
the migration that adds the rule renames the duplicates an older database may hold instead of failing."""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from portability.services import project_archive_bytes
from projects.models import Project
from projects.services import api_key_create
from tests.projects.factories import UserFactory

CLASH = "compared without regard to case"


def test_the_api_refuses_a_name_that_differs_only_in_case(project):
    client = APIClient()
    client.force_authenticate(UserFactory(username="bob"))
    response = client.post("/api/v1/projects/", {"name": "CONTRACTS", "language": "en"}, format="json")
    assert response.status_code == 400
    assert CLASH in json.dumps(response.json())
    assert list(Project.objects.values_list("name", flat=True)) == ["contracts"]


def test_the_create_page_refuses_it(client, project):
    client.force_login(UserFactory(username="bob"))
    response = client.post("/new-project/", {"name": "Contracts", "language": "en"})
    assert response.status_code == 200 and CLASH in response.content.decode()
    assert Project.objects.count() == 1


def test_azures_create_and_an_archive_import_refuse_it(project, user):
    _, key = api_key_create(user=UserFactory(username="bob"), name="k")
    azure = APIClient(headers={"Ocp-Apim-Subscription-Key": key})
    response = azure.patch(
        "/language/authoring/analyze-text/projects/Contracts?api-version=2023-04-01",
        json.dumps({"projectKind": "CustomEntityRecognition", "language": "en"}),
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 400 and CLASH in response.json()["error"]["message"]

    archive = project_archive_bytes(project=project)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        "/api/v1/project-archives/", {"archive": io.BytesIO(archive), "name": "CONTRACTS"}, format="multipart"
    )
    assert response.status_code == 400 and CLASH in json.dumps(response.json())
    assert Project.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_later_duplicates_and_keeps_the_oldest_name():
    before, after = [("projects", "0001_initial")], [("projects", "0002_project_name_unique_ignoring_case")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps.get_model("projects", "Project")
        for name in ("projB", "PROJB", "other", "Projb", "L" * 50, "l" * 50):
            old.objects.create(name=name, language="en")
        ids = dict(old.objects.values_list("name", "pk"))
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        names = dict(
            MigrationExecutor(connection)
            .loader.project_state(after)
            .apps.get_model("projects", "Project")
            .objects.values_list("pk", "name")
        )
        assert names[ids["projB"]] == "projB" and names[ids["other"]] == "other"
        assert names[ids["PROJB"]] == f"PROJB-{ids['PROJB']}"
        assert names[ids["Projb"]] == f"Projb-{ids['Projb']}"
        suffix = f"-{ids['l' * 50]}"
        assert names[ids["l" * 50]] == "l" * (50 - len(suffix)) + suffix  # shortened to fit
        assert len({name.lower() for name in names.values()}) == 6
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

"""Containers belong to one user: the one who created it through the API, or the owner an operator assigns.

Only the owner (and superusers) may write into a container, read from it (``:import``) or name it in a project
(``storageInputContainerName``); errors never show another user's container or file names, nor server paths.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.models import Document
from portability.models import AzureProjectSettings, Container
from projects.models import Project
from projects.roles import Role
from projects.services import api_key_create
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

V = "2023-04-01"
BASE = "/language/authoring/analyze-text/projects"
TEXT = "Ada Lovelace lived in London."


def _client(user) -> APIClient:
    _, key = api_key_create(user=user, name="k")
    return APIClient(headers={"Ocp-Apim-Subscription-Key": key})


def _put(client: APIClient, container: str, name: str, data: bytes = TEXT.encode()):
    return client.generic("PUT", f"/api/v1/containers/{container}/{name}", data, content_type="text/plain")


def _labels(container: str, project_name: str, locations: tuple[str, ...] = ("a.txt",)) -> dict:
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": "CustomEntityRecognition",
            "storageInputContainerName": container,
            "projectName": project_name,
            "language": "en",
        },
        "assets": {
            "projectKind": "CustomEntityRecognition",
            "entities": [{"category": "PERSON"}],
            "documents": [
                {
                    "location": location,
                    "language": "en",
                    "entities": [
                        {
                            "regionOffset": 0,
                            "regionLength": len(TEXT),
                            "labels": [{"category": "PERSON", "offset": 0, "length": 12}],
                        }
                    ],
                }
                for location in locations
            ],
        },
    }


def _import(client: APIClient, project_name: str, container: str, locations: tuple[str, ...] = ("a.txt",)):
    return client.post(
        f"{BASE}/{project_name}/:import?api-version={V}", _labels(container, project_name, locations), format="json"
    )


def _patch(client: APIClient, project_name: str, container: str):
    body = {"projectKind": "CustomEntityRecognition", "language": "en", "storageInputContainerName": container}
    return client.patch(
        f"{BASE}/{project_name}?api-version={V}", json.dumps(body), content_type="application/merge-patch+json"
    )


def _reveals_nothing(response, containers) -> None:
    """No server path and no name of a file the caller did not give."""
    body = response.content.decode()
    assert str(containers) not in body and "containers/" not in body.replace("/api/v1/containers/", "")
    assert "secret-plans.txt" not in body


@pytest.fixture
def owner(db):
    return UserFactory(username="olga")


@pytest.fixture
def owned(owner, containers):
    """Olga's container ``olga-texts`` with two files, made through the API."""
    client = _client(owner)
    assert _put(client, "olga-texts", "a.txt").status_code == 201
    assert _put(client, "olga-texts", "secret-plans.txt", b"Nobody else may read this.").status_code == 201
    return containers / "olga-texts"


def test_the_first_put_creates_the_container_and_its_creator_owns_it(owner, containers):
    client = _client(owner)
    assert _put(client, "mine", "a.txt").status_code == 201
    assert Container.objects.get(name="mine").owner == owner
    assert _put(client, "mine", "a.txt", b"Changed by its owner.").status_code == 200
    assert (containers / "mine" / "a.txt").read_bytes() == b"Changed by its owner."


def test_a_stranger_cannot_overwrite_or_add_files_to_someone_elses_container(owned, containers):
    stranger = _client(UserFactory(username="mallory"))  # a member of no project at all
    for name in ("a.txt", "new.txt"):
        response = _put(stranger, "olga-texts", name, b"Overwritten.")
        assert response.status_code == 403, response.content
        _reveals_nothing(response, containers)
    assert (owned / "a.txt").read_text() == TEXT and not (owned / "new.txt").exists()
    # The name's case does not make it another container (it would be the same folder on macOS or Windows).
    assert _put(stranger, "OLGA-TEXTS", "a.txt").status_code == 403
    assert not (containers / "OLGA-TEXTS").exists()


def test_a_viewer_of_the_owners_project_can_neither_write_nor_read_the_owners_container(owner, owned, containers):
    project = ProjectFactory(name="olgas")
    MembershipFactory(project=project, user=owner, role=Role.OWNER)
    assert _patch(_client(owner), "olgas", "olga-texts").status_code == 200
    viewer = UserFactory(username="vera")
    MembershipFactory(project=project, user=viewer, role=Role.VIEWER)
    client = _client(viewer)

    assert _put(client, "olga-texts", "a.txt", b"Written by a viewer.").status_code == 403
    assert (owned / "a.txt").read_text() == TEXT
    # Reading it into a project of the viewer's own: refused before anything is written.
    response = _import(client, "veras", "olga-texts")
    assert response.status_code == 400, response.content
    _reveals_nothing(response, containers)
    assert not Project.objects.filter(name="veras").exists()
    # And into the owner's project the viewer's role already refuses any import.
    assert _import(client, "olgas", "olga-texts").status_code == 403
    assert not Document.objects.exists()


def test_naming_a_strangers_container_in_a_project_is_refused(user, project, owned, containers):
    client = _client(user)  # alice, owner of "contracts", is a stranger to olga-texts
    response = _patch(client, project.name, "olga-texts")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "InvalidRequest"
    _reveals_nothing(response, containers)
    assert not AzureProjectSettings.objects.filter(project=project).exists()
    # Nor may a new project be created naming it.
    assert _patch(client, "stolen", "olga-texts").status_code == 400
    assert not Project.objects.filter(name="stolen").exists()

    response = _import(client, project.name, "olga-texts", ("a.txt", "secret-plans.txt"))
    assert response.status_code == 400, response.content
    assert not Document.objects.filter(project=project).exists()
    # A stranger's container answers as one that does not exist: nobody learns others' container names.
    absent = _import(client, project.name, "no-such-box", ("a.txt",))
    assert absent.json()["error"]["message"] == response.json()["error"]["message"].replace("olga-texts", "no-such-box")


def test_the_owner_imports_from_their_container_and_a_missing_file_error_shows_no_server_path(owner, owned, containers):
    client = _client(owner)
    response = _import(client, "olgas", "olga-texts", ("a.txt", "gone.txt"))
    assert response.status_code == 202, response.content
    state = client.get(response["Operation-Location"])
    assert state.json()["status"] == "failed"
    message = state.json()["errors"][0]["message"]
    assert "gone.txt" in message and "olga-texts" in message
    _reveals_nothing(state, containers)

    response = _import(client, "olgas", "olga-texts", ("a.txt",))
    state = client.get(response["Operation-Location"]).json()
    assert state["status"] == "succeeded", state
    assert list(Document.objects.values_list("text", flat=True)) == [TEXT]
    assert AzureProjectSettings.objects.get(project__name="olgas").storage_input_container_name == "olga-texts"


def test_a_folder_placed_by_hand_is_for_superusers_until_an_operator_assigns_it(user, project, containers):
    (containers / "by-hand").mkdir(parents=True)
    (containers / "by-hand" / "a.txt").write_text(TEXT, encoding="utf-8")
    client = _client(user)
    assert _put(client, "by-hand", "b.txt").status_code == 403
    assert _import(client, project.name, "by-hand").status_code == 400
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    response = _import(_client(admin), "admins", "by-hand")
    assert response.status_code == 202, response.content

    out = io.StringIO()
    call_command("nerlab_container_owner", "--list", stdout=out)
    assert "by-hand\t(unowned" in out.getvalue()
    out = io.StringIO()
    call_command("nerlab_container_owner", "by-hand", user.username, stdout=out)
    assert "now belongs to alice (it had no owner)" in out.getvalue()
    assert Container.objects.get(name="by-hand").owner == user

    assert _put(client, "by-hand", "b.txt").status_code == 201
    response = _import(client, project.name, "by-hand", ("a.txt", "b.txt"))
    assert client.get(response["Operation-Location"]).json()["status"] == "succeeded"
    out = io.StringIO()
    call_command("nerlab_container_owner", "--list", stdout=out)
    assert "by-hand\talice" in out.getvalue()


def test_an_operator_can_reassign_a_container(owner, owned, user):
    out = io.StringIO()
    call_command("nerlab_container_owner", "olga-texts", user.username, stdout=out)
    assert "it belonged to olga" in out.getvalue()
    assert _put(_client(owner), "olga-texts", "a.txt").status_code == 403
    assert _put(_client(user), "olga-texts", "a.txt").status_code == 200


def test_a_deleted_owners_container_becomes_unowned(owner, owned, user):
    owner.delete()
    assert Container.objects.get(name="olga-texts").owner is None
    assert _put(_client(user), "olga-texts", "a.txt").status_code == 403
    assert _put(_client(UserFactory(username="root", is_superuser=True)), "olga-texts", "a.txt").status_code == 200

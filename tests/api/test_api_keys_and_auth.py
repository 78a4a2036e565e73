from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from projects.models import ApiKey
from projects.roles import Role
from projects.services import api_key_create, api_key_revoke
from tests.projects.factories import ProjectFactory, UserFactory

KEYS = "/api/v1/api-keys/"


def keyed(raw: str, header: str = "api-key") -> APIClient:
    client = APIClient()
    if header == "api-key":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    elif header == "bearer":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    else:
        client.credentials(HTTP_OCP_APIM_SUBSCRIPTION_KEY=raw)
    return client


def test_api_key_is_shown_once_and_listed_without_secret(owner_api):
    created = owner_api.post(KEYS, {"name": "ci"}, format="json")

    assert created.status_code == 201, created.data
    raw = created.data["key"]
    assert raw.startswith(created.data["prefix"])
    listed = owner_api.get(KEYS).data
    assert [k["name"] for k in listed] == ["ci"]
    assert "key" not in listed[0]
    assert raw not in str(listed)


@pytest.mark.parametrize("header", ["api-key", "bearer", "ocp"])
def test_user_key_acts_with_the_users_roles(header, user, project, member_of):
    viewer = member_of(project, Role.VIEWER, username="vera")
    _, raw = api_key_create(user=viewer, name="script")
    client = keyed(raw, header)

    assert client.get(f"/api/v1/projects/{project.name}/").status_code == 200
    assert client.patch(f"/api/v1/projects/{project.name}/", {"description": "x"}, format="json").status_code == 403
    assert client.get("/api/v1/projects/").data["count"] == 1


def test_owner_user_key_can_write(user, project):
    _, raw = api_key_create(user=user, name="script")

    response = keyed(raw).post(f"/api/v1/projects/{project.name}/entity-types/", {"name": "Person"}, format="json")

    assert response.status_code == 201


def test_project_key_only_reaches_prediction_of_its_project(user, project):
    other = ProjectFactory(name="other")
    _, raw = api_key_create(user=user, name="predict", project=project)
    client = keyed(raw)

    own = client.get(f"/api/v1/projects/{project.name}/")
    write = client.post(f"/api/v1/projects/{project.name}/entity-types/", {"name": "Person"}, format="json")

    assert own.status_code == 403 and "prediction" in own.data["detail"]
    assert write.status_code == 403
    assert client.get(f"/api/v1/projects/{other.name}/").status_code == 404
    assert client.get("/api/v1/projects/").status_code == 403
    assert client.get(KEYS).status_code == 403


def test_revoked_and_unknown_keys_are_refused(owner_api, user, project):
    api_key, raw = api_key_create(user=user, name="old")
    assert keyed(raw).get("/api/v1/projects/").status_code == 200

    assert owner_api.delete(f"{KEYS}{api_key.pk}/").status_code == 204
    response = keyed(raw).get("/api/v1/projects/")

    assert response.status_code == 401
    assert "revoked" in response.data["detail"]
    assert keyed("nl_not-a-key").get("/api/v1/projects/").status_code == 401
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_cannot_revoke_someone_elses_key(owner_api):
    bob_key, _ = api_key_create(user=UserFactory(username="bob"), name="bob's")

    assert owner_api.delete(f"{KEYS}{bob_key.pk}/").status_code == 404
    assert ApiKey.objects.get(pk=bob_key.pk).revoked_at is None


def test_project_keys_are_created_by_deployers_only(owner_api, project, member_of):
    editor_api = APIClient()
    editor_api.force_authenticate(member_of(project, Role.EDITOR))

    assert editor_api.post(KEYS, {"name": "p", "project": project.name}, format="json").status_code == 403
    created = owner_api.post(KEYS, {"name": "p", "project": project.name}, format="json")
    assert created.status_code == 201 and created.data["project"] == project.name
    unknown = owner_api.post(KEYS, {"name": "p", "project": "nope"}, format="json")
    assert unknown.status_code == 400 and "project" in unknown.data


def test_revoked_key_listed_as_revoked(owner_api, user):
    api_key, _ = api_key_create(user=user, name="old")
    api_key_revoke(api_key=api_key)

    assert owner_api.get(KEYS).data[0]["revoked_at"] is not None


def test_session_writes_need_a_csrf_token(user, project):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.get("/api/v1/projects/").status_code == 200  # reads need no token
    refused = client.post("/api/v1/projects/", {"name": "p2", "language": "en"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.data["detail"]

    # What a browser page does: the csrftoken cookie, echoed in the X-CSRFToken header.
    token = "a1" * 16
    client.cookies["csrftoken"] = token
    accepted = client.post("/api/v1/projects/", {"name": "p2", "language": "en"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.data


def test_api_keys_bypass_csrf(user, project):
    _, raw = api_key_create(user=user, name="script")
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    assert client.post("/api/v1/projects/", {"name": "p3", "language": "en"}, format="json").status_code == 201

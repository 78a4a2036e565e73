from __future__ import annotations

import re

import pytest
from django.urls import reverse

from projects.models import ApiKey, Project
from projects.services import api_key_authenticate, api_key_create
from tests.projects.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/account/api-keys/"


def _secret(body: str) -> str:
    match = re.search(r'<code class="secret">(nl_[^<]+)</code>', body)
    assert match, "the new key is not shown"
    return match.group(1)


def test_url_name():
    assert reverse("projects:api_key_list") == URL


def test_api_keys_need_login(client):
    assert client.get(URL).status_code == 302


def test_user_key_is_shown_once_and_stored_hashed(owner_client, user):
    response = owner_client.post(URL, {"name": "nightly import", "project": ""})
    raw = _secret(response.content.decode())
    api_key = ApiKey.objects.get(user=user)
    assert api_key.name == "nightly import" and api_key.project is None
    assert raw not in api_key.key_hash and api_key.key_hash != raw
    assert not ApiKey.objects.filter(key_hash__contains=raw[10:]).exists()
    assert api_key_authenticate(raw=raw) == api_key

    body = owner_client.get(URL).content.decode()
    assert raw not in body  # never shown again
    assert api_key.prefix in body and "nightly import" in body


def test_project_key_for_one_of_my_projects(owner_client, user, project):
    response = owner_client.post(URL, {"name": "predictor", "project": str(project.pk)})
    _secret(response.content.decode())
    assert ApiKey.objects.get(user=user).project == project


def test_project_key_for_someone_elses_project_is_refused(owner_client):
    foreign = Project.objects.create(name="foreign", language="en")
    response = owner_client.post(URL, {"name": "sneaky", "project": str(foreign.pk)})
    assert response.status_code == 200
    assert 'class="secret"' not in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoke(owner_client, user):
    raw = _secret(owner_client.post(URL, {"name": "old"}).content.decode())
    api_key = ApiKey.objects.get(user=user)
    response = owner_client.post(reverse("projects:api_key_revoke", args=[api_key.pk]), follow=True)
    assert "revoked" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key_authenticate(raw=raw) is None


def test_cannot_see_or_revoke_another_users_key(owner_client):
    other = UserFactory(username="bob")
    api_key, _ = api_key_create(user=other, name="bob's key")
    assert "bob&#x27;s key" not in owner_client.get(URL).content.decode()
    assert owner_client.post(reverse("projects:api_key_revoke", args=[api_key.pk])).status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None

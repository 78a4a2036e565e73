from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings


@pytest.mark.django_db
def test_signup_is_closed_by_default(client):
    assert client.get("/accounts/signup/").status_code == 404
    assert "Create an account" not in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
@override_settings(NERLAB_SELF_REGISTRATION=True)
def test_signup_when_enabled_creates_an_account_and_signs_in(client):
    assert "Create an account" in client.get("/accounts/login/").content.decode()
    response = client.post(
        "/accounts/signup/",
        {"username": "newcomer", "password1": "a-long enough pass 42", "password2": "a-long enough pass 42"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="newcomer").exists()
    assert client.get("/").status_code == 200


@pytest.mark.django_db
@override_settings(NERLAB_SELF_REGISTRATION=True)
def test_signup_applies_the_password_rules(client):
    response = client.post("/accounts/signup/", {"username": "x", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="x").exists()
    assert "too short" in response.content.decode()

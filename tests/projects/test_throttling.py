"""Guessing passwords and API keys is stopped: after the configured number of failures a sign-in, or any API key from
that address, is refused with 429, the right password or key included, until the lock lifts.

The test settings keep the real limits (config/settings/base.py's defaults); the tests that change one say so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from projects import services
from serving.authentication import access_caches_clear

PASSWORD = "a-long-Password-1"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fresh_access_caches():
    access_caches_clear()  # the prediction API remembers "this address is not locked out" for 5 s
    yield
    access_caches_clear()


@pytest.fixture
def alice(user):
    user.set_password(PASSWORD)
    user.save()
    return user


def _sign_in(client: Client, password: str, username: str = "alice") -> int:
    return client.post(LOGIN, {"username": username, "password": password}).status_code


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _lock_lifts() -> None:
    """Move every recorded failure back past the cool-off, as the clock would."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=settings.NERLAB_LOCKOUT_MINUTES))


# --- signing in ---------------------------------------------------------------------------------------------------


def test_sign_in_is_refused_after_the_failure_limit_even_with_the_right_password(client, alice):
    assert settings.NERLAB_LOGIN_FAILURE_LIMIT == 10  # the shipped default, not a test value
    for _ in range(settings.NERLAB_LOGIN_FAILURE_LIMIT - 1):
        assert _sign_in(client, "wrong") == 200  # the form again, with its error
    response = client.post(LOGIN, {"username": "alice", "password": "wrong"})
    assert response.status_code == 429
    words = " ".join(response.content.decode().split())
    assert "Too many failed sign-ins" in words and "try again 15 minutes after the last attempt" in words
    assert _sign_in(client, PASSWORD) == 429
    assert not _signed_in(client)


def test_the_lock_lifts_after_the_cool_off(client, alice):
    for _ in range(settings.NERLAB_LOGIN_FAILURE_LIMIT):
        _sign_in(client, "wrong")
    assert _sign_in(client, PASSWORD) == 429
    _lock_lifts()
    assert _sign_in(client, PASSWORD) == 302
    assert _signed_in(client)


def test_an_administrator_lifts_the_lock_at_once(client, alice):
    for _ in range(settings.NERLAB_LOGIN_FAILURE_LIMIT):
        _sign_in(client, "wrong")
    call_command("axes_reset_username", "alice")
    assert _sign_in(client, PASSWORD) == 302


def test_a_few_mistakes_do_not_get_in_the_way_and_a_success_starts_the_count_again(client, alice):
    for _ in range(settings.NERLAB_LOGIN_FAILURE_LIMIT - 1):
        _sign_in(client, "wrong")
    assert _sign_in(client, PASSWORD) == 302
    client.logout()
    for _ in range(settings.NERLAB_LOGIN_FAILURE_LIMIT - 1):
        assert _sign_in(client, "wrong") == 200
    assert _sign_in(client, PASSWORD) == 302


def test_a_locked_username_does_not_lock_out_other_users(client, alice):
    bob = type(alice).objects.create_user("bob", password=PASSWORD)
    for _ in range(settings.NERLAB_LOGIN_FAILURE_LIMIT):
        _sign_in(client, "wrong")
    assert _sign_in(client, PASSWORD, username=bob.username) == 302


def test_the_failure_limit_is_configurable(client, alice, settings):
    settings.NERLAB_LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        assert _sign_in(client, "wrong") == 200
    assert _sign_in(client, "wrong") == 429


# --- API keys -----------------------------------------------------------------------------------------------------

# Every way a key is sent, on each kind of API: the REST API (Authorization), the prediction API (its own cached
# key lookup) and the Azure-compatible runtime API (Ocp-Apim-Subscription-Key). With the right key each answers as
# it does to any signed-in caller (the deployment and the job are simply not there: 404).
ENTRY_POINTS = [
    pytest.param("get", "/api/v1/projects/", "HTTP_AUTHORIZATION", "Api-Key {}", 200, id="rest-api"),
    pytest.param(
        "post",
        "/api/v1/projects/contracts/deployments/production/predict",
        "HTTP_AUTHORIZATION",
        "Bearer {}",
        404,
        id="prediction-api",
    ),
    pytest.param(
        "get",
        "/language/analyze-text/jobs/5c0e5bb4-0000-4000-8000-000000000000?api-version=2023-04-01",
        "HTTP_OCP_APIM_SUBSCRIPTION_KEY",
        "{}",
        404,
        id="azure-runtime",
    ),
]


def _call(method: str, url: str, header: str, template: str, raw: str, address: str = "127.0.0.1") -> Any:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(**{header: template.format(raw)})
    if method == "post":
        return client.post(url, {"texts": ["Alice"]}, format="json")
    return client.get(url)


def _rest(raw: str) -> int:
    return int(_call("get", "/api/v1/projects/", "HTTP_AUTHORIZATION", "Api-Key {}", raw).status_code)


@pytest.mark.parametrize(("method", "url", "header", "template", "answer"), ENTRY_POINTS)
def test_key_guessing_is_refused_after_the_failure_limit_even_with_the_right_key(
    user, project, method, url, header, template, answer
):
    _, raw = services.api_key_create(user=user, name="ci")
    assert settings.NERLAB_API_KEY_FAILURE_LIMIT == 20  # the shipped default, not a test value
    assert _call(method, url, header, template, raw).status_code == answer  # before: the right key works
    for attempt in range(settings.NERLAB_API_KEY_FAILURE_LIMIT):
        assert _call(method, url, header, template, f"nl_guess{attempt}").status_code == 401
    refused = _call(method, url, header, template, "nl_guess-again")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == settings.NERLAB_LOCKOUT_MINUTES * 60
    right = _call(method, url, header, template, raw)
    assert right.status_code == 429
    if header == "HTTP_OCP_APIM_SUBSCRIPTION_KEY":  # Azure's clients read Azure's error shape
        assert right.json()["error"]["code"] == "TooManyRequests"

    # Another client address is not affected, and the lock lifts after the cool-off.
    assert _call(method, url, header, template, raw, address="10.0.0.7").status_code == answer
    _lock_lifts()
    assert _call(method, url, header, template, raw).status_code == answer


def test_a_working_key_keeps_working_beside_a_few_wrong_ones(user, project):
    _, raw = services.api_key_create(user=user, name="ci")
    for attempt in range(settings.NERLAB_API_KEY_FAILURE_LIMIT - 1):
        assert _rest(f"nl_stale{attempt}") == 401
        assert _rest(raw) == 200


def test_key_failures_do_not_lock_the_keys_owner_out_of_signing_in(client, alice):
    for attempt in range(settings.NERLAB_API_KEY_FAILURE_LIMIT + 1):
        _rest(f"nl_guess{attempt}")
    assert _sign_in(client, PASSWORD) == 302


def test_a_forged_forwarded_for_header_does_not_dodge_the_lock(user, project, settings):
    settings.NERLAB_API_KEY_FAILURE_LIMIT = 3
    for attempt in range(3):
        client = APIClient(HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key nl_guess{attempt}")
        assert client.get("/api/v1/projects/").status_code == 401
    client = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.99")
    client.credentials(HTTP_AUTHORIZATION="Api-Key nl_guess")
    assert client.get("/api/v1/projects/").status_code == 429


def test_behind_a_trusted_proxy_each_client_is_counted_apart(user, project, settings):
    settings.NERLAB_API_KEY_FAILURE_LIMIT = 3
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    _, raw = services.api_key_create(user=user, name="ci")

    def call(client_address: str, key: str) -> int:
        client = APIClient(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client_address)  # the proxy's address
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client.get(reverse("projects_api:project_list")).status_code

    for attempt in range(3):
        assert call("203.0.113.5", f"nl_guess{attempt}") == 401
    assert call("203.0.113.5", raw) == 429
    assert call("198.51.100.8", raw) == 200

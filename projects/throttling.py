"""Slowing down password and API-key guessing, with django-axes keeping the count.

Sign-ins go through Django's ``authenticate``, which axes watches: after ``NERLAB_LOGIN_FAILURE_LIMIT`` wrong
passwords for one username from one client address, that username is refused from that address (429, even with
the right password) until ``NERLAB_LOCKOUT_MINUTES`` have passed since the last failure.

API keys never reach ``authenticate``, so ``ApiKeyAuthentication`` reports its failures to axes itself, under
``API_KEY_USERNAME``: after ``NERLAB_API_KEY_FAILURE_LIMIT`` wrong keys from one client address, every key from that
address is refused (429) for the same time. Keys are counted apart from sign-ins, so a script with a stale key
cannot lock its owner out of the sign-in page.

Attempts live in the database (axes' AccessAttempt), so every web process and every host counts together;
``manage.py axes_reset`` (or ``axes_reset_ip``/``axes_reset_username``) lifts a lock at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

# The "username" API-key failures are counted under. Django usernames cannot hold spaces or parentheses, so no
# account shares this count.
API_KEY_USERNAME = "(API key)"


def client_address(request: HttpRequest) -> str | None:
    """The client's address as DRF's throttles see it: REMOTE_ADDR, or the X-Forwarded-For entry added by the
    outermost of ``NERLAB_TRUSTED_PROXY_COUNT`` proxies (a client can put anything in front of that)."""
    ident: str | None = BaseThrottle().get_ident(request)
    return ident


def failure_limit(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    if credentials and credentials.get("username") == API_KEY_USERNAME:
        return int(settings.NERLAB_API_KEY_FAILURE_LIMIT)
    return int(settings.NERLAB_LOGIN_FAILURE_LIMIT)


def cool_off(request: HttpRequest | None) -> timedelta:
    return timedelta(minutes=settings.NERLAB_LOCKOUT_MINUTES)


def _credentials() -> dict[str, str]:
    return {"username": API_KEY_USERNAME}


def api_key_guessing_check(request: HttpRequest) -> None:
    """Refuse (429 with Retry-After) a client address locked out for guessing API keys, whatever key it sends."""
    if settings.AXES_ENABLED and not AxesProxyHandler.is_allowed(request, _credentials()):
        raise exceptions.Throttled(
            wait=cool_off(request).total_seconds(),
            detail=(
                "Too many wrong API keys from this address; every key from it is refused until "
                f"{settings.NERLAB_LOCKOUT_MINUTES} minutes after the last wrong one."
            ),
        )


def api_key_failure_record(request: HttpRequest) -> None:
    """Count one wrong API key against the request's client address (the key that reaches the limit still gets
    401; every key after it gets 429 from ``api_key_guessing_check``)."""
    user_login_failed.send(sender=__name__, credentials=_credentials(), request=request)
    # Axes' middleware would swap this API answer for its sign-in lockout page.
    request.axes_locked_out = False  # type: ignore[attr-defined]

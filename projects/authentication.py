"""API-key authentication for scripts: ``Authorization: Api-Key <key>``, ``Authorization: Bearer <key>`` or
Azure's ``Ocp-Apim-Subscription-Key: <key>`` header."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from projects.services import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword_schemes = ("api-key", "bearer")

    def _raw_key(self, request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in self.keyword_schemes and value.strip():
            return value.strip()
        subscription = request.META.get("HTTP_OCP_APIM_SUBSCRIPTION_KEY", "").strip()
        return subscription or None

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = self._raw_key(request)
        if raw is None:
            return None
        api_key = api_key_authenticate(raw=raw)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"

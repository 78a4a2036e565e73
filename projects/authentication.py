"""API-key authentication for scripts: ``Authorization: Api-Key <key>``, ``Authorization: Bearer <key>`` or
Azure's ``Ocp-Apim-Subscription-Key: <key>`` header. Wrong keys are counted per client address and a guessing
address is refused with 429 (projects/throttling.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from projects.services import api_key_authenticate
from projects.throttling import api_key_failure_record, api_key_guessing_check


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
        api_key_guessing_check(request._request)
        return self._lookup(request, raw)

    def _lookup(self, request: Request, raw: str) -> tuple[Any, Any]:
        api_key = api_key_authenticate(raw=raw)
        if api_key is None:
            api_key_failure_record(request._request)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the schema (and the /api/docs/ "Authorize" dialog) describes API keys: any one of the three headers."""

    target_class = ApiKeyAuthentication
    name = ["ApiKey", "SubscriptionKey"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"ApiKey": []}, {"SubscriptionKey": []}]  # either header works (OR, not AND)

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Api-Key <key>` or `Bearer <key>`.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "Ocp-Apim-Subscription-Key",
                "description": "The key alone, as Azure AI Language clients send it.",
            },
        ]

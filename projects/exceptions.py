"""Domain exceptions that every app's services may raise, and every API answers the same way."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """The request contradicts the state of something else (HTTP 409): e.g. deleting a model still deployed.

    A ValidationError, so that pages which show a service's refusal as a message show this one too."""

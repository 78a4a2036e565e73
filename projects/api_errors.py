"""The nerlab API's one error shape, and the one place exceptions become it (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

Services and selectors raise Django's own exceptions (they also serve the pages); every API view lets them
propagate, and this handler answers them as DRF answers its own, messages kept:

- ``{"detail": "..."}`` for 401, 403, 404, 405, 409, 415, 429 (and a malformed body's 400);
- ``{"<field>": ["..."], "non_field_errors": ["..."]}`` for a refused input (400): each field's messages under
  its name, errors that belong to no field under DRF's ``non_field_errors``, where clients already look for them.

The Azure-compatible routes answer in Azure's shape instead (``serving.azure_wire``), through their own
``handle_exception``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from projects.exceptions import Conflict


class ApiConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state of the project."
    default_code = "conflict"


def api_validation_error(error: DjangoValidationError) -> exceptions.ValidationError:
    """A Django ValidationError as DRF's 400, field messages kept under their fields."""
    if hasattr(error, "error_dict"):
        detail: dict[str, list[str]] = {}
        for field, messages in error.message_dict.items():
            key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
            detail.setdefault(key, []).extend(messages)
        return exceptions.ValidationError(detail)
    return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: error.messages})


def api_exception(exc: Exception) -> Exception:
    """A service's or selector's Django exception as the DRF exception that answers it; others unchanged."""
    if isinstance(exc, Conflict):
        return ApiConflict(" ".join(exc.messages))
    if isinstance(exc, DjangoValidationError):
        return api_validation_error(exc)
    if isinstance(exc, DjangoPermissionDenied):
        # DRF's default handler would replace the selector's message with a generic one.
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, after ``api_exception``; None (a 500) for anything that is not an answer to the client."""
    return drf_exception_handler(api_exception(exc), context)

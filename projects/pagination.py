"""Pages of every API list: ``?limit=&offset=``, refused (400) when they are not what the schema says.

DRF's LimitOffsetPagination silently reads ``offset=null`` as 0 and ``limit=-5`` as the default, and hands an
offset past what the database's integers hold to the query (an OverflowError on SQLite). A script that sends a
wrong page wants to hear it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# Within every database's integer range, far beyond any page anyone asks for.
PAGE_VALUE_MAX = 2**31 - 1
_BOUNDS = {"limit": 1, "offset": 0}
_DESCRIPTIONS = {"limit": "Page size (default 100).", "offset": "Where the page starts (0: the first item)."}


def _schema(name: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": _BOUNDS[name], "maximum": PAGE_VALUE_MAX}


# For views that list their query parameters by hand (the same bounds as the paginator's own).
LIMIT_PARAMETER = OpenApiParameter("limit", _schema("limit"), description=_DESCRIPTIONS["limit"])
OFFSET_PARAMETER = OpenApiParameter("offset", _schema("offset"), description=_DESCRIPTIONS["offset"])


class PagePagination(LimitOffsetPagination):
    def _read(self, request: Request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        low = _BOUNDS[name]
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= PAGE_VALUE_MAX:
            raise ValidationError({name: [f"Must be a whole number from {low} to {PAGE_VALUE_MAX}, not {raw!r}."]})
        return value

    def get_limit(self, request: Request) -> int | None:
        limit = self._read(request, self.limit_query_param)
        return self.default_limit if limit is None else limit

    def get_offset(self, request: Request) -> int:
        return self._read(request, self.offset_query_param) or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "required": False,
                "in": "query",
                "description": _DESCRIPTIONS[name],
                "schema": _schema(name),
            }
            for name in ("limit", "offset")
        ]

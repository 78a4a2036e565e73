"""Text fields for API request bodies: they take JSON strings only.

DRF's CharField also turns a JSON number or boolean into text ({"name": 5} -> "5"), which the schema, saying
"string", does not allow; forms and query strings only ever send strings anyway. Every serializer uses these in
place of DRF's text fields (tests/api/test_request_errors.py checks that none is left taking numbers).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class TextOnly(serializers.CharField):
    """A CharField (or subclass, placed after this one) that refuses anything but a string."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class TextField(TextOnly):
    pass


class EmailField(TextOnly, serializers.EmailField):
    pass


class URLField(TextOnly, serializers.URLField):
    pass

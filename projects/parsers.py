"""The JSON request-body parser every API view uses: ``ner.json_input``'s bounds, a 400 with the reason."""

from __future__ import annotations

import json
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ner.json_input import JsonInputError, check_json_size, json_limits, load_json


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser, but a body larger or nested deeper than the limits is refused instead of parsed.

    DRF streams the body past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so it is read here at most one byte past
    the limit, then parsed by the one bounded loader (as UTF-8, which JSON over HTTP is: RFC 8259).
    """

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        max_bytes = json_limits().max_bytes
        body = stream.read(max_bytes + 1) if stream is not None else b""
        try:
            if len(body) > max_bytes:
                request = (parser_context or {}).get("request")
                declared = request.META.get("CONTENT_LENGTH", "") if request is not None else ""
                check_json_size(int(declared) if declared.isdigit() else len(body))
            return load_json(body)
        except (JsonInputError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ParseError(f"JSON parse error - {error}") from None


class BoundedMergePatchParser(BoundedJSONParser):
    """JSON Merge Patch (RFC 7386) bodies, as Azure's PATCH requests send them."""

    media_type = "application/merge-patch+json"

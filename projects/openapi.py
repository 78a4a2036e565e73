"""The error answers every API operation can give, added to the schema where a view does not describe its own.

Views document their success answers and the errors particular to them; the errors that come from the framework
itself (a malformed body, no credentials, a role that does not allow it, an unknown id in the path, a body in a
content type the view does not read, an address locked out for guessing keys: projects.throttling) are the same
everywhere, so they are described once, here.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# A refused input names each field it refuses: {"name": ["..."]}; a malformed body has a "detail" instead.
INVALID_SCHEMA = {"type": "object", "additionalProperties": {}, "description": "Each field's problems, or 'detail'."}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation gets the 400/401/403/404/415/429 answers it can give."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR_SCHEMA)
    error = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.get("parameters", [])
            has_body = "requestBody" in operation
            answers = {
                "401": _answer("No credentials, or an API key that is not valid.", error),
                "403": _answer("Your role, or your kind of API key, does not allow this.", error),
                "429": _answer("Too many wrong API keys from your address: wait (Retry-After), then try again.", error),
            }
            if has_body or any(parameter.get("in") == "query" for parameter in parameters):
                answers["400"] = _answer("The input breaks a rule; each message says which.", INVALID_SCHEMA)
            if any(parameter.get("in") == "path" for parameter in parameters):
                answers["404"] = _answer("No such resource, or you are not a member of its project.", error)
            if has_body:
                answers["415"] = _answer("The body is in a content type this operation does not read.", error)
            for code, answer in answers.items():
                operation["responses"].setdefault(code, answer)
    return result

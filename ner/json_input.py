"""Untrusted JSON, parsed within bounds: the one loader every reader and every JSON request body goes through.

Python's ``json`` follows nesting with recursion, so 100,000 ``[`` end in ``RecursionError``; a document just
under that limit parses but breaks whatever walks it next (``repr``, ``json.dumps``, a serializer). So every
document is refused, with the reason, when it is larger or nested deeper than the limits below. The defaults are
far above what any format nerlab reads needs (Azure's labels file, the deepest, nests 6 levels); the web app
sets both from its settings (``NERLAB_JSON_MAX_DEPTH``, ``NERLAB_JSON_MAX_BYTES``) when it starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ner.limits import JSON_BYTES_MAX, JSON_DEPTH_MAX


@dataclass(frozen=True, slots=True)
class JsonLimits:
    max_depth: int = JSON_DEPTH_MAX  # arrays and objects inside one another; a bare value has depth 0
    max_bytes: int = JSON_BYTES_MAX  # of the encoded document (of its characters when it comes decoded)


class JsonInputError(ValueError):
    """JSON nerlab refuses though Python would parse it: too large, nested too deep, or holding ``NaN`` or
    ``Infinity`` (not JSON, and refused by PostgreSQL's JSON columns); the message says which."""


_limits = JsonLimits()


def configure_json_limits(limits: JsonLimits) -> None:
    """Set the limits every later ``load_json`` applies (the web app and the worker call this once, at start)."""
    global _limits
    if limits.max_depth < 1 or limits.max_bytes < 1:
        raise ValueError(f"JSON limits must be positive, not {limits}")
    _limits = limits


def json_limits() -> JsonLimits:
    return _limits


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether containers nest more than ``max_depth`` levels; iterative, so any depth is safe to measure."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _refuse_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON number")


def _size(amount: int) -> str:
    return f"{amount:,} bytes" if amount < 1024 * 1024 else f"{amount / (1024 * 1024):,.1f} MB"


def check_json_size(size: int, *, limits: JsonLimits | None = None) -> None:
    """Refuse a JSON document of ``size`` bytes before reading it, when it is larger than the limit."""
    limits = limits or _limits
    if size > limits.max_bytes:
        raise JsonInputError(f"the JSON is {_size(size)}; at most {_size(limits.max_bytes)} is read")


def load_json(data: str | bytes, *, limits: JsonLimits | None = None) -> Any:
    """The value of a JSON document (bytes as UTF-8, -16 or -32, as ``json.loads`` detects them).

    Raises ``json.JSONDecodeError`` for malformed JSON (with its line and column) and ``JsonInputError`` for a
    document too large, too deep or with ``NaN``; bytes that are not text raise ``UnicodeDecodeError``.
    """
    limits = limits or _limits
    check_json_size(len(data), limits=limits)
    too_deep = JsonInputError(f"the JSON nests arrays and objects more than {limits.max_depth} levels deep")
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise too_deep from None
    if _deeper_than(value, limits.max_depth):
        raise too_deep
    return value

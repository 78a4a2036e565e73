"""Untrusted JSON, parsed within bounds: the one loader every reader and every JSON request body goes through.

Python's ``json`` follows nesting with recursion, so 100,000 ``[`` end in ``RecursionError``; a document just
under that limit parses but breaks whatever walks it next (``repr``, ``json.dumps``, a serializer). So every
document is refused, with the reason, when it is larger or nested deeper than the limits below, or when its text
holds a NUL character, which the database cannot store. The defaults are far above what any format nerlab reads
needs (Azure's labels file, the deepest, nests 6 levels); the web app sets both from its settings
(``NERLAB_JSON_MAX_DEPTH``, ``NERLAB_JSON_MAX_BYTES``) when it starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from ner.limits import JSON_BYTES_MAX, JSON_DEPTH_MAX


@dataclass(frozen=True, slots=True)
class JsonLimits:
    max_depth: int = JSON_DEPTH_MAX  # arrays and objects inside one another; a bare value has depth 0
    max_bytes: int = JSON_BYTES_MAX  # of the encoded document (of its characters when it comes decoded)


class JsonInputError(ValueError):
    """JSON nerlab refuses though Python would parse it: too large, nested too deep, holding ``NaN`` or
    ``Infinity`` (not JSON, and refused by PostgreSQL's JSON columns), or text holding U+0000 (which PostgreSQL's
    text and JSON columns cannot store, so a name, text or archive row holding it failed only there, as a 500); the
    message says which, and where."""


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


# JSON can only spell U+0000 as this escape: a raw NUL inside a string is a syntax error to ``json.loads``.
_NUL_ESCAPE: Final = "\\u0000"


def _may_hold_nul(data: str | bytes) -> bool:
    """False when the text cannot hold a NUL, so that the walk below runs only for the rare file that may."""
    if isinstance(data, str):
        return _NUL_ESCAPE in data
    if json.detect_encoding(data) in ("utf-8", "utf-8-sig"):
        return _NUL_ESCAPE.encode() in data
    return True  # UTF-16 or -32: the escape's bytes are interleaved with zeros, so walk the value


def _step(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _children(item: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(item, dict):
        return iter(item.items())
    return enumerate(item) if isinstance(item, list) else iter(())


def _nul_location(value: Any) -> str | None:
    """Where the first text (a key or a value, in the file's order) holding NUL is, as a path such as
    ``documents[3].text``; None when none does. Iterative, like the depth check before it."""
    if isinstance(value, str):
        return "in the JSON's text" if "\x00" in value else None
    stack: list[tuple[Iterator[tuple[str | int, Any]], str]] = [(_children(value), "")]
    while stack:
        children, path = stack[-1]
        for key, child in children:
            if isinstance(key, str) and "\x00" in key:
                return f"in a key of {path}" if path else "in a key at the top level"
            if isinstance(child, str) and "\x00" in child:
                return f"at {_step(path, key)}"
            if isinstance(child, dict | list):
                stack.append((_children(child), _step(path, key)))
                break
        else:
            stack.pop()
    return None


def _refuse_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON number")


def _size(amount: int) -> str:
    return f"{amount:,} bytes" if amount < 1024 * 1024 else f"{amount / (1024 * 1024):,.1f} MB"


def check_json_size(size: int, *, limits: JsonLimits | None = None) -> None:
    """Refuse a JSON document of ``size`` bytes before reading it, when it is larger than the limit."""
    limits = limits or _limits
    if size > limits.max_bytes:
        raise JsonInputError(f"the JSON is {_size(size)}; at most {_size(limits.max_bytes)} is read")


def load_json(data: str | bytes, *, limits: JsonLimits | None = None, refuse_nul: bool = True) -> Any:
    """The value of a JSON document (bytes as UTF-8, -16 or -32, as ``json.loads`` detects them).

    Raises ``json.JSONDecodeError`` for malformed JSON (with its line and column) and ``JsonInputError`` for a
    document too large, too deep, with ``NaN`` or with a NUL character in its text (naming where); bytes that are
    not text raise ``UnicodeDecodeError``. ``refuse_nul=False`` is for what only looks at a value's shape (format
    detection, a CSV cell that may hold spans): what is kept of it is checked where it is used, naming the record.
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
    if refuse_nul and _may_hold_nul(data) and (where := _nul_location(value)) is not None:
        raise JsonInputError(f"a NUL character (\\u0000) {where}: nerlab cannot store it")
    return value

"""Hypothesis strategies for hostile input: any JSON, JSON shaped like a valid input with fields swapped for anything,
deep nesting, and byte-level damage to a valid file. Used by the reader fuzz tests and the API's (no Django here).

A file format is fuzzed from what its own writer produces, so a reader added to ``ner.formats.FORMATS`` is fuzzed
with inputs shaped like its files without anything here knowing it: JSON is mutated as JSON, JSONL line by line,
a zip member by member, and anything else byte by byte.
"""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile
from typing import Any

from hypothesis import strategies as st

from ner.types import LabeledDoc, Span

# Inputs per JSON entry point; each reader gets twice as many (it is far cheaper to call than a request).
# FUZZ_EXAMPLES may raise them for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 500))
READER_EXAMPLES = 2 * EXAMPLES

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "train", "test", "en", "PERSON", "Utf16CodeUnit", "2026-13-45T00:00:00"])
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
DEEP_JSON = st.builds(lambda depth, opener: opener * depth, st.integers(50, 5_000), st.sampled_from(["[", '{"a":']))
BROKEN_JSON = st.sampled_from(["", "{", "[1,", '{"a": }', "NaN", "[Infinity]", "\ufeff{}", "nul", '"\\ud800"'])

SAMPLE_DOCS = [
    LabeledDoc("Alice Smith flew to Paris.", (Span(0, 11, "PERSON"), Span(20, 25, "CITY")), "a.txt", "en", "train"),
    LabeledDoc(
        "😀 Bob met Carol in Oslo 🇩🇪",
        (Span(2, 5, "PERSON"), Span(10, 15, "PERSON"), Span(19, 23, "CITY")),
        "b.txt",
        None,
        "test",
    ),
    LabeledDoc("Nothing to see here.", (), "c.txt", "en-US", None),
]


# Values that break a field's type or range in the usual ways.
WRONG = st.sampled_from(
    ["", "x", -1, 0, 1.5, 2**63, -(2**70), True, None, [], {}, [[]], "2026-13-45T00:00:00", "a" * 300]
)
Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place inside a JSON value, the value itself first."""
    inner: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            inner += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            inner += _paths(item, (*prefix, index))
    return [prefix, *inner]


def _edited(template: Any, edits: list[tuple[Path, bool, Any]]) -> Any:
    """``template`` with each (path, delete, value) edit applied; an edit whose place is gone is skipped."""
    document = json.loads(json.dumps(template))
    for path, delete, shared in edits:
        # A copy: WRONG's [], {} and [[]] are one object for every example, and a later edit inside one put there
        # would change the constant itself (once [[]] even came to hold itself, and every later draw failed).
        value = copy.deepcopy(shared)
        if not path:
            document = value
            continue
        parent = document
        for step in path[:-1]:
            if (isinstance(parent, dict) and step in parent) or (
                isinstance(parent, list) and isinstance(step, int) and step < len(parent)
            ):
                parent = parent[step]
            else:
                parent = None
                break
        last = path[-1]
        if (isinstance(parent, dict) and isinstance(last, str) and last in parent) or (
            isinstance(parent, list) and isinstance(last, int) and last < len(parent)
        ):
            if delete:
                del parent[last]
            else:
                parent[last] = value
    return document


def _at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _nul_added(template: Any, path: Path, in_key: bool) -> Any:
    document = json.loads(json.dumps(template))
    parent, last = _at(document, path[:-1]), path[-1]
    if in_key:
        parent[f"{last}\x00"] = parent.pop(last)
    else:
        parent[last] = f"{parent[last]}\x00"
    return document


def with_a_nul(template: Any) -> st.SearchStrategy[Any]:
    """``template`` with U+0000 added to one of its texts or object keys: PostgreSQL's text and JSON columns refuse
    it, so a NUL that gets past the checks is a 500 there alone (found so: an archive's snapshot counts)."""
    places = [
        (path, in_key)
        for path in _paths(template)[1:]
        for in_key in (False, True)
        if (isinstance(path[-1], str) if in_key else isinstance(_at(template, path), str))
    ]
    if not places:
        return st.nothing()
    return st.sampled_from(places).map(lambda place: _nul_added(template, *place))


def shaped(template: Any) -> st.SearchStrategy[Any]:
    """Values shaped like ``template``: most keep it whole but for one to three fields dropped or given a wrong
    value (so that the checks behind the first ones are reached too); some change everywhere at once."""
    edit = st.tuples(st.sampled_from(_paths(template)), st.booleans(), WRONG | ANY_JSON)
    return st.one_of(
        st.lists(edit, min_size=1, max_size=3).map(lambda edits: _edited(template, edits)), _wild(template)
    )


def _wild(template: Any) -> st.SearchStrategy[Any]:
    if isinstance(template, dict):
        return st.fixed_dictionaries({}, optional={key: _wild(value) | ANY_JSON for key, value in template.items()})
    if isinstance(template, list):
        items = st.one_of(*[_wild(value) for value in template]) if template else ANY_JSON
        return st.lists(items | ANY_JSON, max_size=len(template) + 2)
    return st.just(template) | ANY_JSON


def json_bodies(template: Any) -> st.SearchStrategy[bytes]:
    """Request bodies for a JSON entry point whose valid body looks like ``template``."""
    return st.one_of(
        shaped(template).map(lambda value: json.dumps(value).encode()),
        with_a_nul(template).map(lambda value: json.dumps(value).encode()),
        ANY_JSON.map(lambda value: json.dumps(value).encode()),
        DEEP_JSON.map(str.encode),
        BROKEN_JSON.map(str.encode),
    )


def _damaged(valid: bytes) -> st.SearchStrategy[bytes]:
    """Cut, spliced and overwritten copies of ``valid``, and bytes from nowhere."""
    size = len(valid)
    return st.one_of(
        st.integers(0, size).map(lambda end: valid[:end]),
        st.tuples(st.integers(0, size), st.integers(0, size), st.binary(max_size=16)).map(
            lambda cut: valid[: min(cut[0], cut[1])] + cut[2] + valid[max(cut[0], cut[1]) :]
        ),
        st.binary(max_size=200),
    )


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def files_like(valid: bytes) -> st.SearchStrategy[bytes]:
    """Inputs for a reader whose valid file is ``valid``, mutated in the way the file is built."""
    if zipfile.is_zipfile(io.BytesIO(valid)):
        with zipfile.ZipFile(io.BytesIO(valid)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}

        def one_changed(names: list[str]) -> st.SearchStrategy[bytes]:
            return st.sampled_from(names).flatmap(
                lambda name: files_like(members[name]).map(lambda data: _zip({**members, name: data}))
            )

        # The JSON members (labels, manifests) are where the structure is: most inputs change one of them.
        structured = [name for name, data in sorted(members.items()) if json_shaped(data)]
        changed = [one_changed(structured)] * 2 if structured else []
        return st.one_of(*changed, one_changed(sorted(members)), _damaged(valid))
    document = _json_or_none(valid)
    if document is not None:
        return st.one_of(json_bodies(document), _damaged(valid))
    rows = _jsonl_rows(valid)
    if rows:
        values = shaped(rows[0]) | with_a_nul(rows[0]) | ANY_JSON | DEEP_JSON | BROKEN_JSON
        jsonl = st.lists(values, min_size=1, max_size=4).map(
            lambda values: "\n".join(v if isinstance(v, str) else json.dumps(v) for v in values).encode()
        )
        return st.one_of(jsonl, _damaged(valid))
    return _damaged(valid)


def _jsonl_rows(data: bytes) -> list[Any]:
    """The rows of a JSON Lines file, or none when ``data`` is not one."""
    try:
        lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return []
    rows = [_json_or_none(line.encode()) for line in lines[:1000]]
    return rows if rows and all(row is not None for row in rows) else []


def json_shaped(data: bytes) -> bool:
    """Whether a file is JSON, JSON Lines, or a zip holding either: a file of a JSON entry point."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(json_shaped(archive.read(name)) for name in archive.namelist())
    return _json_or_none(data) is not None or bool(_jsonl_rows(data))

"""Prodigy's annotation JSONL (``prodigy db-out``): one task per line with its ``answer``.

``{"text": "...", "tokens": [{"text", "start", "end", "id"}], "spans": [{"start", "end", "label", "token_start",
"token_end"}], "meta": {...}, "_input_hash": 1, "_task_hash": 2, "answer": "accept"}``.

What an answer means depends on the recipe:

- manual recipes (``ner.manual``, ``ner.correct``; ``_view_id`` "ner_manual"): an accepted task's spans are the
  whole annotation of its text; a rejected or ignored task is not annotated and is skipped.
- binary recipes (``ner.teach``, ``ner.silver-to-gold`` reviews; ``_view_id`` "ner", or spans carrying their own
  ``answer``): each task asks about one suggested span. Accepted spans are kept; rejected ones are never
  gold — they are counted and skipped. Tasks about the same text (``_input_hash``) are merged into one document
  holding the accepted spans; a text with no accepted span is skipped. Such a document holds only the entities
  someone accepted, which the notes say.
- a span's own ``answer`` ("reject" in a reviewed task) overrides the task's.

``token_start``/``token_end`` must point at tokens whose character offsets are the span's; a span given only by
tokens takes its offsets from them. A ``choice`` task (``options``, e.g. entity linking) is refused: its spans
are context for the choice, not an entity annotation. A task without ``answer`` is an input, not an annotation:
its spans are refused (import it as jsonl to take them as they are).
``meta`` is kept, and so are the hashes (as ``prodigy_input_hash``/``prodigy_task_hash``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ner.formats.common import (
    check_label,
    check_offsets,
    decode_input,
    document_fields,
    dump_jsonl,
    is_int,
    iter_objects,
    read_language,
    read_meta,
    read_split,
    refuse_unread_spans,
    type_name,
)
from ner.formats.errors import Problems
from ner.types import LabeledDoc, Span

ANSWERS = ("accept", "reject", "ignore")
_BINARY_VIEWS = {"ner"}  # ner.teach and its binary reviews; ner_manual is the manual interface


@dataclass(slots=True)
class _Text:
    """One text and what its tasks decided."""

    text: str
    where: str
    meta: dict[str, str]
    binary: bool
    accepted: set[Span] = field(default_factory=set)
    any_accepted: bool = False


@dataclass(slots=True)
class _Counts:
    rejected_tasks: int = 0
    ignored_tasks: int = 0
    rejected_spans: int = 0
    binary_texts: int = 0
    unanswered: int = 0


def _token_offsets(
    raw: dict[str, Any], tokens: object, problems: Problems, where: str, field: str
) -> tuple[object, object] | None:
    """The span's (start, end), checked against (or taken from) ``token_start``/``token_end``; None: reported."""
    start, end = raw.get("start"), raw.get("end")
    token_start, token_end = raw.get("token_start"), raw.get("token_end")
    if (token_start is None and token_end is None) or not isinstance(tokens, list):
        return start, end
    if not (is_int(token_start) and is_int(token_end)):
        shown = f"{token_start!r}/{token_end!r}"
        problems.add(f"token_start/token_end must be whole numbers, not {shown}", where=where, field=field)
        return None
    assert isinstance(token_start, int) and isinstance(token_end, int)
    if not 0 <= token_start <= token_end < len(tokens):
        problems.add(
            f"token_start {token_start} / token_end {token_end} do not name tokens of this task ({len(tokens)} tokens)",
            where=where,
            field=field,
        )
        return None
    first, last = tokens[token_start], tokens[token_end]
    if not (isinstance(first, dict) and isinstance(last, dict)):
        problems.add("'tokens' must be objects with start and end", where=where, field="'tokens'")
        return None
    token_bounds = (first.get("start"), last.get("end"))
    if start is None and end is None:
        return token_bounds
    if (start, end) != token_bounds:
        problems.add(
            f"offsets {start}-{end} disagree with tokens {token_start}-{token_end}, which cover "
            f"{token_bounds[0]}-{token_bounds[1]}",
            where=where,
            field=field,
        )
        return None
    return start, end


def _answer(value: object, problems: Problems, where: str, field: str) -> str | None:
    if value in ANSWERS:
        assert isinstance(value, str)
        return value
    problems.add(f"'answer' must be accept, reject or ignore, not {value!r}", where=where, field=field)
    return None


def read_prodigy(data: bytes, *, file_name: str = "", notes: list[str] | None = None) -> list[LabeledDoc]:
    problems = Problems(file_name)
    content = decode_input(data, problems)
    texts: dict[object, _Text] = {}
    counts = _Counts()
    records = 0
    bad_keys: set[object] = set()
    for where, row in iter_objects(content, problems, notes, noun="task"):
        records += 1
        if row is None:
            bad_keys.add(where)
            continue
        before = len(problems)
        key = _read_task(row, where, problems, texts, counts)
        if len(problems) > before:
            bad_keys.add(key)
    docs: list[LabeledDoc] = []
    for key, item in texts.items():
        if key in bad_keys or not item.any_accepted:
            continue
        docs.append(_document(item))
        counts.binary_texts += item.binary
    if notes is not None:
        _note(counts, notes)
    if not records and not problems:
        problems.add("the file holds no tasks")
    # A record is one document here only once texts are merged; count the merged texts, bad ones included.
    problems.raise_if_any(records=len(docs) + len(bad_keys), readable=docs)
    if not docs:
        raise problems.fail("no task was accepted: Prodigy's rejected and ignored tasks hold no annotation to import")
    return docs


def _read_task(
    row: dict[str, Any], where: str, problems: Problems, texts: dict[object, _Text], counts: _Counts
) -> object:
    """Read one task into ``texts``; returns the key of the document it belongs to."""
    text = row.get("text")
    input_hash = row.get("_input_hash")
    raw_spans = row.get("spans", [])
    if not isinstance(text, str):
        problems.add(f"'text' must be a string, not {type_name(text)}", where=where, field="'text'")
        return where
    if not isinstance(raw_spans, list):
        problems.add(f"'spans' must be a list, not {type_name(raw_spans)}", where=where, field="'spans'")
        return where
    view = row.get("_view_id")
    binary = (isinstance(view, str) and view in _BINARY_VIEWS) or any(
        isinstance(raw, dict) and "answer" in raw for raw in raw_spans
    )
    # Binary tasks about one text are merged into one document; a manual task is a document of its own (two
    # annotators' versions of one text are then reported as a repeated text, never merged into one).
    key: object = ("input", input_hash if is_int(input_hash) else text) if binary else where
    if "options" in row or row.get("_view_id") == "choice":
        problems.add(
            "a choice task ('options'): its spans are context for choosing an option (e.g. entity linking), "
            "not an entity annotation",
            where=where,
            field="'options'",
        )
        return key
    refuse_unread_spans(row, {"spans"}, problems, where=where, reader="prodigy")
    if "answer" not in row:
        if raw_spans:
            problems.add(
                "no 'answer': this is a task to annotate, not an annotation; import it as jsonl to take its "
                "spans as they are",
                where=where,
                field="'answer'",
            )
            return key
        counts.unanswered += 1
        answer: str | None = "accept"  # a plain text: nothing was decided about it, it is read as text
    else:
        answer = _answer(row.get("answer"), problems, where, "'answer'")
    meta = read_meta(row.get("meta"), problems, where=where, field="'meta'")
    # A binary document merges several tasks: only the hash of their common input still names it.
    for hash_key in ("_input_hash",) if binary else ("_input_hash", "_task_hash"):
        if is_int(row.get(hash_key)):
            meta[f"prodigy{hash_key}"] = str(row[hash_key])
    item = texts.get(key)
    if item is None:
        item = texts[key] = _Text(text=text, where=where, meta=meta, binary=binary)
    elif item.text != text:
        problems.add(f"_input_hash {input_hash} also names a different text ({item.where})", where=where)
        return key
    item.binary = item.binary or binary
    spans: list[tuple[Span, str]] = []
    tokens = row.get("tokens")
    for index, raw in enumerate(raw_spans):
        field = f"'spans'[{index}]"
        if not isinstance(raw, dict):
            problems.add(f"a span must be an object, not {type_name(raw)}", where=where, field=field)
            continue
        span_answer = _answer(raw["answer"], problems, where, f"{field}.'answer'") if "answer" in raw else answer
        label = check_label(raw.get("label"), problems, where=where, field=f"{field}.'label'")
        offsets = _token_offsets(raw, tokens, problems, where, field)
        if offsets is None:
            continue
        start, end = offsets
        valid = check_offsets(start, end, len(text), problems, where=where, field=field)
        if valid and label is not None and span_answer is not None:
            assert isinstance(start, int) and isinstance(end, int)
            spans.append((Span(start, end, label), span_answer))
    if answer == "ignore":
        counts.ignored_tasks += 1
        return key
    if answer == "reject" and not binary:
        counts.rejected_tasks += 1
        return key
    if answer == "reject":
        counts.rejected_tasks += 1
    for span, span_answer in spans:
        if answer == "accept" and span_answer == "accept":
            item.accepted.add(span)
        else:
            counts.rejected_spans += 1
    if answer == "accept":
        item.any_accepted = True
    return key


def _document(item: _Text) -> LabeledDoc:
    """A text's document. Prodigy has no fields for a name, language or split: nerlab writes them into ``meta``
    and takes them back from there — language and split only when they are valid, otherwise they stay metadata
    (another tool's ``"split": "dev"`` is its own business)."""
    meta = dict(item.meta)
    quiet = Problems()
    language = read_language(meta.get("language"), quiet, where="", field="")
    split = read_split(meta.get("split"), quiet, where="", field="")
    if language is not None and not quiet:
        meta.pop("language")
    else:
        language = None
    if split is not None and not quiet:
        meta.pop("split")
    else:
        split = None
    return LabeledDoc(
        text=item.text,
        spans=tuple(sorted(item.accepted)),
        name=meta.pop("name", ""),
        language=language,
        split=split,
        meta=meta,
    )


def _note(counts: _Counts, notes: list[str]) -> None:
    def plural(number: int, word: str) -> str:
        return f"{number:,} {word}{'s' if number != 1 else ''}"

    skipped = []
    if counts.rejected_tasks:
        skipped.append(plural(counts.rejected_tasks, "rejected task"))
    if counts.ignored_tasks:
        skipped.append(plural(counts.ignored_tasks, "ignored task"))
    if skipped:
        notes.append(f"skipped {' and '.join(skipped)}")
    if counts.rejected_spans:
        notes.append(f"{plural(counts.rejected_spans, 'rejected span')} not imported: a rejected span is never gold")
    if counts.binary_texts:
        notes.append(
            f"{plural(counts.binary_texts, 'text')} from binary (accept/reject) answers hold only the accepted "
            "spans; other entities in them were never annotated — review them before training"
        )
    if counts.unanswered:
        notes.append(f"{plural(counts.unanswered, 'task')} without an answer read as plain text")


def write_prodigy(docs: Sequence[LabeledDoc]) -> bytes:
    """Accepted manual tasks (``_view_id`` "ner_manual"), one per document, with their ``meta`` and hashes; the
    name, language and split go into ``meta`` (Prodigy shows it beside the task)."""
    rows: list[dict[str, Any]] = []
    for doc in docs:
        meta = {key: value for key, value in doc.meta.items() if not key.startswith("prodigy_")}
        meta.update(document_fields(doc))
        row: dict[str, Any] = {
            "text": doc.text,
            "spans": [{"start": span.start, "end": span.end, "label": span.label} for span in doc.sorted_spans()],
            "meta": meta,
            "_view_id": "ner_manual",
            "answer": "accept",
        }
        for key in ("input_hash", "task_hash"):
            value = doc.meta.get(f"prodigy_{key}", "")
            if value.lstrip("-").isdigit():
                row[f"_{key}"] = int(value)
        rows.append(row)
    return dump_jsonl(rows)

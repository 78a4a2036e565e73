"""Label Studio's JSON export: a list of tasks, each with ``data`` and ``annotations[].result[]``.

Reading takes the annotations only; ``predictions`` (machine pre-annotations) are ignored because they are not
anyone's decision. A task may have several annotations (one per annotator, or redone work): the reader takes the
latest one that was not cancelled ("skipped"), by ``updated_at``, then ``created_at``, then position in the
list. A task whose annotations are all cancelled, or that has none, is read with no spans.

Offsets: Label Studio's editor measures ``start``/``end`` in the browser (UTF-16 code units), while tools
that write tasks in Python use code points — the source of its "offsets wrong with emoji" bug reports. Each
result also carries the selected ``text``, so the reader checks which reading of the offsets gives that text
and uses it; without ``text`` it trusts ``offset_unit``. The writer writes ``offset_unit`` offsets and the text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Literal

from ner.formats.common import (
    check_label,
    check_offsets,
    decode_input,
    document_fields,
    documents_read,
    is_int,
    parse_json,
    read_document,
    read_meta,
    type_name,
)
from ner.formats.errors import Problems
from ner.json_input import JsonInputError, load_json
from ner.offsets import OffsetMapper
from ner.types import LabeledDoc, Span

OffsetUnit = Literal["codepoint", "utf16"]


def _chosen_annotation(annotations: list[Any]) -> tuple[int, dict[str, Any]] | None:
    """The latest annotation not cancelled, with its index (ISO timestamps sort as strings)."""
    candidates = [
        (str(item.get("updated_at") or ""), str(item.get("created_at") or ""), index, item)
        for index, item in enumerate(annotations)
        if isinstance(item, dict) and not item.get("was_cancelled")
    ]
    if not candidates:
        return None
    *_, index, item = max(candidates, key=lambda candidate: candidate[:3])
    return index, item


def _to_codepoints(
    start: int, end: int, selected: object, text: str, mapper: OffsetMapper, offset_unit: OffsetUnit
) -> tuple[int, int] | None:
    """Code point offsets for a result, choosing the unit whose reading matches the selected text."""
    units: list[OffsetUnit] = [offset_unit, "utf16" if offset_unit == "codepoint" else "codepoint"]
    for unit in units:
        try:
            reading = (start, end) if unit == "codepoint" else (mapper.from_utf16(start), mapper.from_utf16(end))
        except ValueError:
            continue
        if reading[1] > len(text):
            continue
        if not isinstance(selected, str) or text[reading[0] : reading[1]] == selected:
            return reading
    return None


def _min_spans(value: object) -> bool:
    """A JSON_MIN field holding spans: a list of objects with ``start``, ``end`` and ``labels``."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "labels" in item and "start" in item for item in value)
    )


def read_label_studio(
    data: bytes,
    *,
    file_name: str = "",
    notes: list[str] | None = None,
    data_key: str = "text",
    offset_unit: OffsetUnit = "codepoint",
) -> list[LabeledDoc]:
    """Label Studio's JSON export, its JSON_MIN export, or a list of tasks to import (with or without ``data``).

    JSON_MIN flattens each task: the data fields and, under the control tag's name (``label``), the spans as
    ``{"start", "end", "text", "labels"}``. Label Studio before 1.0 called annotations ``completions``.
    """
    problems = Problems(file_name)
    tasks = parse_json(decode_input(data, problems), problems)
    if isinstance(tasks, dict):
        tasks = [tasks]  # a single task exported on its own
    if not isinstance(tasks, list):
        raise problems.fail(f"a Label Studio export is a list of tasks, not {type_name(tasks)}")
    return _read_tasks(tasks, problems, notes, data_key, offset_unit, "task")


def _read_tasks(
    tasks: list[Any], problems: Problems, notes: list[str] | None, data_key: str, offset_unit: OffsetUnit,
    unit: str,
) -> list[LabeledDoc]:  # fmt: skip
    docs: list[LabeledDoc] = []
    predicted = several = 0
    for task_index, task in enumerate(tasks):
        task_id = task.get("id") if isinstance(task, dict) else None
        where = f"{unit} {task_index + 1}" + (f" (id {task_id})" if task_id is not None else "")
        before = len(problems)
        if not isinstance(task, dict):
            problems.add(f"a task must be an object, not {type_name(task)}", where=where)
            continue
        flat = "data" not in task
        task_data = task if flat else task.get("data")
        if not isinstance(task_data, dict):
            problems.add(f"'data' must be an object, not {type_name(task_data)}", where=where, field="'data'")
            continue
        text = task_data.get(data_key)
        data_field = f"'{data_key}'" if flat else f"'data'.'{data_key}'"
        if not isinstance(text, str):
            keys = ", ".join(repr(key) for key in task_data) or "none"
            problems.add(
                f"no text under {data_field} (keys present: {keys}); choose the key your labeling config uses",
                where=where,
                field=data_field,
            )
            continue
        annotation_key = "completions" if "completions" in task and "annotations" not in task else "annotations"
        annotations = task.get(annotation_key, [])
        if not isinstance(annotations, list):
            problems.add(
                f"'{annotation_key}' must be a list, not {type_name(annotations)}",
                where=where,
                field=f"'{annotation_key}'",
            )
            annotations = []
        spans: list[Span] = []
        chosen = _chosen_annotation(annotations)
        if sum(1 for item in annotations if isinstance(item, dict) and not item.get("was_cancelled")) > 1:
            several += 1
        if chosen is not None:
            spans = _read_result(chosen, text, problems, where, offset_unit, annotation_key)
        elif _predicts_spans(task.get("predictions")):
            predicted += 1
        min_keys = [key for key, value in task_data.items() if flat and _min_spans(value)]
        for key in min_keys:
            spans.extend(_read_min(task_data[key], key, text, problems, where, offset_unit))
        meta: dict[str, str] = {}
        skip = {data_key, "name", "language", "split", "id", "annotations", "completions", "predictions", *min_keys}
        meta.update(
            read_meta(
                {key: value for key, value in task_data.items() if key not in skip and not _min_spans(value)},
                problems,
                where=where,
                field="'data'",
            )
        )
        if isinstance(task.get("meta"), dict) and not flat:
            meta.update(read_meta(task["meta"], problems, where=where, field="'meta'"))
        name_value = task_data.get("name")
        if name_value is None:
            name_value = task_id
        doc = read_document(
            text,
            spans,
            meta,
            problems,
            where=where,
            name=name_value,
            language=task_data.get("language"),
            split=task_data.get("split"),
            field_prefix="'data'.",
        )
        if len(problems) == before:
            docs.append(doc)
    if several and notes is not None:
        notes.append(
            f"{several:,} task{'s' if several != 1 else ''} had several annotations: the latest one of each was "
            "imported (nerlab keeps one version of a document's spans)"
        )
    if predicted and notes is not None:
        notes.append(
            f"{predicted:,} task{'s' if predicted != 1 else ''} without annotations had predictions: model "
            "suggestions are not decisions and were not imported as spans"
        )
    return documents_read(docs, problems, records=len(tasks), noun="tasks")


def _predicts_spans(predictions: object) -> bool:
    return isinstance(predictions, list) and any(
        isinstance(prediction, dict)
        and isinstance(prediction.get("result"), list)
        and any(isinstance(result, dict) and result.get("type") == "labels" for result in prediction["result"])
        for prediction in predictions
    )


def _read_min(
    items: list[Any], key: str, text: str, problems: Problems, where: str, offset_unit: OffsetUnit
) -> list[Span]:
    mapper = OffsetMapper(text)
    spans: list[Span] = []
    for index, value in enumerate(items):
        spans.extend(_read_value(value, text, mapper, problems, where, f"'{key}'[{index}]", offset_unit))
    return spans


def _read_result(
    chosen: tuple[int, dict[str, Any]], text: str, problems: Problems, where: str, offset_unit: OffsetUnit,
    annotation_key: str = "annotations",
) -> list[Span]:  # fmt: skip
    annotation_index, annotation = chosen
    results = annotation.get("result", [])
    prefix = f"'{annotation_key}'[{annotation_index}].'result'"
    if not isinstance(results, list):
        problems.add(f"'result' must be a list, not {type_name(results)}", where=where, field=prefix)
        return []
    mapper = OffsetMapper(text)
    spans: list[Span] = []
    for index, result in enumerate(results):
        field = f"{prefix}[{index}]"
        if not isinstance(result, dict) or result.get("type", "labels") != "labels":
            continue  # choices, relations, text areas: not spans
        spans.extend(_read_value(result.get("value"), text, mapper, problems, where, f"{field}.'value'", offset_unit))
    return spans


def _read_value(
    value: object, text: str, mapper: OffsetMapper, problems: Problems, where: str, field: str,
    offset_unit: OffsetUnit,
) -> list[Span]:  # fmt: skip
    """The spans of one labelled region: ``{"start", "end", "text", "labels": [...]}``."""
    if not isinstance(value, dict):
        problems.add(f"must be an object, not {type_name(value)}", where=where, field=field)
        return []
    start, end, labels = value.get("start"), value.get("end"), value.get("labels")
    if not isinstance(labels, list) or not labels:
        problems.add("'labels' must be a non-empty list of label names", where=where, field=f"{field}.'labels'")
        return []
    if not (is_int(start) and is_int(end)):
        check_offsets(start, end, len(text), problems, where=where, field=field)
        return []
    assert isinstance(start, int) and isinstance(end, int)
    reading = _to_codepoints(start, end, value.get("text"), text, mapper, offset_unit)
    if reading is None:
        if check_offsets(start, end, len(text), problems, where=where, field=field):
            problems.add(
                f"offsets {start}-{end} select {text[start:end]!r}, not the annotated text "
                f"{value.get('text')!r} (in code points or UTF-16 units)",
                where=where,
                field=field,
            )
        return []
    if not check_offsets(*reading, len(text), problems, where=where, field=field):
        return []
    spans: list[Span] = []
    for label_index, label_value in enumerate(labels):
        label = check_label(label_value, problems, where=where, field=f"{field}.'labels'[{label_index}]")
        if label is not None:
            spans.append(Span(reading[0], reading[1], label))
    return spans


def write_label_studio(
    docs: Sequence[LabeledDoc], *, data_key: str = "text", offset_unit: OffsetUnit = "codepoint"
) -> bytes:
    tasks: list[dict[str, Any]] = []
    for number, doc in enumerate(docs, start=1):
        mapper = OffsetMapper(doc.text)
        task_data: dict[str, Any] = {data_key: doc.text}
        task_data.update(document_fields(doc))
        for key, value in doc.meta.items():  # a task's other data fields are its metadata
            task_data.setdefault(key, value)
        result = []
        for index, span in enumerate(doc.sorted_spans()):
            start, end = span.start, span.end
            if offset_unit == "utf16":
                start, end = mapper.to_utf16(start), mapper.to_utf16(end)
            result.append(
                {
                    "id": f"{number}-{index + 1}",
                    "from_name": "label",
                    "to_name": data_key,
                    "type": "labels",
                    "value": {"start": start, "end": end, "text": span.text_in(doc.text), "labels": [span.label]},
                }
            )
        tasks.append({"id": number, "data": task_data, "annotations": [{"id": number, "result": result}]})
    return json.dumps(tasks, ensure_ascii=False, indent=2).encode("utf-8")


# --- CSV and TSV exports ---------------------------------------------------------------------------------------------


def _cell(value: str) -> Any:
    """A CSV cell: spans written as JSON text (a list of ``{start, end, labels}``) parsed, any other cell text."""
    if value.startswith("[{"):
        try:
            # Looked at for its shape only: a NUL in a label is refused by the label's own check, naming the row.
            parsed = load_json(value, refuse_nul=False)
        except (json.JSONDecodeError, JsonInputError):
            return value
        if _min_spans(parsed):
            return parsed
    return value


def read_label_studio_csv(
    data: bytes,
    *,
    file_name: str = "",
    notes: list[str] | None = None,
    data_key: str = "text",
    offset_unit: OffsetUnit = "codepoint",
) -> list[LabeledDoc]:
    """Label Studio's CSV or TSV export: one row per task, the data fields as columns and, in the control tag's
    column (``label``), the spans as JSON text — read like JSON_MIN. The delimiter is the header's (TAB or comma).
    Every row has every column, so an empty cell is a field the task does not have (an empty metadata value
    does not survive a CSV).
    """
    problems = Problems(file_name)
    content = decode_input(data, problems)
    header = content.split("\n", 1)[0]
    delimiter = "\t" if "\t" in header else ","
    try:
        rows = list(csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise problems.fail(f"the file is not valid CSV: {error}") from None
    if not rows:
        raise problems.fail("the file holds a header and no rows")
    parsed = [{key: _cell(value or "") for key, value in row.items() if key is not None} for row in rows]
    # The control tag's column (Label Studio names it "label" by default) holds "[]" in a row without spans.
    span_columns = {"label"} | {key for row in parsed for key, value in row.items() if not isinstance(value, str)}
    tasks: list[Any] = []
    for number, (row, task) in enumerate(zip(rows, parsed, strict=True), start=1):
        extra = row.get(None)
        if extra:
            problems.add(f"{len(extra)} more cells than the header has columns", where=f"row {number}")
        for key in list(task):
            # A CSV has every column in every row: an empty cell is a field the task does not have.
            if task[key] == "" or (key in span_columns and task[key] == "[]"):
                del task[key]
        if isinstance(task.get("id"), str) and task["id"].isdigit():
            task["id"] = int(task["id"])
        tasks.append(task)
    return _read_tasks(tasks, problems, notes, data_key, offset_unit, "row")


def write_label_studio_csv(docs: Sequence[LabeledDoc], *, data_key: str = "text") -> bytes:
    """A CSV export as Label Studio writes it: ``id``, the text, ``label`` (spans as JSON), then the other fields."""
    tasks = json.loads(write_label_studio(docs, data_key=data_key))
    rows: list[dict[str, Any]] = []
    for task in tasks:
        row: dict[str, Any] = {"id": task["id"], **task["data"]}
        row["label"] = json.dumps([result["value"] for result in task["annotations"][0]["result"]], ensure_ascii=False)
        rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO(newline="")
    # Every cell quoted (as Label Studio's own export does): a lone carriage return stays inside its cell.
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")

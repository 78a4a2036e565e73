"""evaluation's part of the whole-project archive: training snapshots, trained models (their runs, pipeline files,
evaluations and per-document predictions) and finished learning curves: dumped to the archive's shapes and files,
and read back (every field checked) and restored into a new project.

portability.archive puts the parts together; the shapes are described there, with the archive's layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from django.core.files.storage import default_storage

from evaluation.models import DatasetSnapshot, Evaluation, LearningCurve, Prediction, TrainedModel, TrainingRun
from labeling.models import Document
from ner.formats import FormatError
from ner.formats.common import is_int, type_name
from ner.formats.jsonl import read_jsonl, write_jsonl
from ner.learning_curve import Projection
from ner.types import LabeledDoc
from projects.archive import (
    BULK_BATCH,
    COLUMN_INT_MAX,
    PROJECT_FILE,
    ArchiveError,
    ArchiveReader,
    Lines,
    Restore,
    any_text,
    archive_error,
    describe,
    is_number,
    iso_time,
    json_entry,
    keep_times,
    max_length_of,
    of_kind,
    optional_number,
    optional_text,
    strings,
    username_of,
    whole,
)
from projects.storage import project_storage_prefix

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from projects.models import Project


def _storage_files(prefix: str) -> Iterator[str]:
    """Every file under ``prefix`` in Django's storage, as paths relative to it."""
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    yield from sorted(files)
    for directory in sorted(directories):
        for name in _storage_files(f"{prefix}/{directory}"):
            yield f"{directory}/{name}"


def _read_storage(path: str) -> bytes:
    with default_storage.open(path, "rb") as handle:
        return handle.read()


def curves_dump(project: Project) -> list[dict[str, Any]]:
    """Finished curves' results; a queued, running or failed curve is a job, not a result, and stays behind."""
    curves = (
        LearningCurve.objects.filter(project=project, status=LearningCurve.Status.SUCCEEDED)
        .select_related("requested_by")
        .order_by("created_at", "pk")
    )
    return [
        {
            "snapshot": curve.snapshot_id,
            "percents": curve.percents,
            "seed": curve.seed,
            "max_steps": curve.max_steps,
            "points": curve.points,
            "projection": curve.projection,
            "requested_by": username_of(curve.requested_by),
            "created_at": iso_time(curve.created_at),
            "started_at": iso_time(curve.started_at),
            "finished_at": iso_time(curve.finished_at),
        }
        for curve in curves
    ]


def model_entries_dump(
    project: Project, include_models: bool, curve_snapshots: Iterable[int] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The project.json entries of snapshots and models: the snapshots the models and learning curves need."""
    models = (
        list(TrainedModel.objects.filter(project=project).select_related("run").order_by("pk"))
        if include_models
        else []
    )
    # Learning curves travel without the models (they are results, like the audit trail), so their snapshots do.
    needed = {model.run.snapshot_id for model in models} | set(curve_snapshots)
    snapshots = [
        {
            "id": snapshot.pk,
            "content_hash": snapshot.content_hash,
            "document_count": snapshot.document_count,
            "train_document_ids": snapshot.train_document_ids,
            "test_document_ids": snapshot.test_document_ids,
            "span_counts": snapshot.span_counts,
            "language": snapshot.language,
            "split_mode": snapshot.split_mode,
            "test_percent": snapshot.test_percent,
            "split_seed": snapshot.split_seed,
            "training_scope": snapshot.training_scope,
            "created_at": iso_time(snapshot.created_at),
            "file": f"snapshots/{snapshot.pk}.jsonl" if snapshot.file else "",
        }
        for snapshot in DatasetSnapshot.objects.filter(project=project, pk__in=needed).order_by("pk")
    ]
    entries = []
    for model in models:
        run = model.run
        entries.append(
            {
                "id": model.pk,
                "name": model.name,
                "labels": model.labels,
                "duration_s": model.duration_s,
                "snapshot_documents": model.snapshot_documents,
                "micro_f1": model.micro_f1,
                "size_bytes": model.size_bytes,
                "created_at": iso_time(model.created_at),
                "snapshot": run.snapshot_id,
                "run": {
                    "seed": run.seed,
                    "max_epochs": run.max_epochs,
                    "max_steps": run.max_steps,
                    "patience": run.patience,
                    "time_budget_minutes": run.time_budget_minutes,
                    "representation": run.representation,
                    "representation_reason": run.representation_reason,
                    # A student's teacher travels by name (the model's meta.json has its fingerprint).
                    "teacher_name": run.teacher_name,
                    "silver_threshold": run.silver_threshold,
                    "untagged_documents": run.untagged_documents,
                    "labelled_documents": run.labelled_documents,
                    "silver_spans": run.silver_spans,
                    "dropout": run.dropout,
                    "batch_size_start": run.batch_size_start,
                    "batch_size_stop": run.batch_size_stop,
                    "eval_frequency": run.eval_frequency,
                    "settings_rule": run.settings_rule,
                    "settings_reason": run.settings_reason,
                    "budget": run.budget,
                    "epoch": run.epoch,
                    "step": run.step,
                    "loss": run.loss,
                    "dev_f1": run.dev_f1,
                    "warnings": run.warnings,
                    "created_at": iso_time(run.created_at),
                    "started_at": iso_time(run.started_at),
                    "finished_at": iso_time(run.finished_at),
                },
                "files": f"models/{model.pk}/",
                "evaluation": f"evaluations/{model.pk}.json" if hasattr(model, "evaluation") else "",
            }
        )
    return snapshots, entries


def model_files(snapshots: list[dict[str, Any]], models: list[dict[str, Any]]) -> Iterator[tuple[str, bytes]]:
    """The archive's files for the entries ``model_entries_dump`` made: each snapshot's file, then each model's
    pipeline files, evaluation report and predictions, as (name in the archive, content)."""
    for entry in snapshots:
        if entry["file"]:
            snapshot = DatasetSnapshot.objects.get(pk=entry["id"])
            yield entry["file"], _read_storage(snapshot.file)
    for entry in models:
        model = TrainedModel.objects.get(pk=entry["id"])
        for relative in _storage_files(model.storage_path) if model.storage_path else []:
            yield f"{entry['files']}{relative}", _read_storage(f"{model.storage_path}/{relative}")
        evaluation = Evaluation.objects.filter(model=model).first()
        if evaluation is not None:
            yield entry["evaluation"], json.dumps(evaluation.report, ensure_ascii=False).encode()
            predictions = [
                {
                    "position": p.position,
                    "name": p.name,
                    "content_hash": p.content_hash,
                    "document": p.document_id,
                    "spans": p.spans,
                    "error_count": p.error_count,
                    "outcome_counts": p.outcome_counts,
                }
                for p in evaluation.predictions.order_by("position")
            ]
            yield f"predictions/{model.pk}.json", json.dumps(predictions, ensure_ascii=False).encode()


# What the learning curve page reads of each point (evaluation.learning_curve writes more).
_POINT_NUMBERS: Final = ("percent", "documents", "instances", "micro_f1", "precision", "recall", "duration_s")


def _point_problem(point: object) -> str | None:
    """What keeps ``point`` from being drawn on the learning curve page, or None."""
    if not isinstance(point, dict):
        return f"must be an object, not {type_name(point)}"
    for key in _POINT_NUMBERS:
        if not is_number(point.get(key)):
            return f"{key!r} must be a number, not {describe(point.get(key))}"
    per_type = point.get("per_type", {})
    if not isinstance(per_type, dict):
        return f"'per_type' must be an object, not {type_name(per_type)}"
    for label, scores in per_type.items():
        if not isinstance(scores, dict) or not (is_number(scores.get("f1")) and is_number(scores.get("instances"))):
            return f"'per_type' {label!r} needs the numbers 'f1' and 'instances'"
    return None


@dataclass(frozen=True)
class CurveRow:
    snapshot: int  # the snapshot's id in project.json
    percents: list[int]
    seed: int
    max_steps: int
    points: list[dict[str, Any]]
    projection: dict[str, Any]
    requested_by: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


def curves_read(lines: Lines, data: bytes, snapshot_ids: set[int]) -> list[CurveRow]:
    rows = []
    for row in lines.rows(data):
        before = len(lines.problems)
        snapshot = lines.integer(row, "snapshot")
        if len(lines.problems) == before and snapshot not in snapshot_ids:
            lines.bad("snapshot", f"names snapshot {snapshot}, which project.json does not list")
        percents = row.get("percents")
        if not (isinstance(percents, list) and percents and all(is_int(p) and 1 <= p <= 100 for p in percents)):
            lines.bad("percents", f"must be a list of whole numbers from 1 to 100, not {describe(percents)}")
            percents = []
        points = row.get("points")
        if not isinstance(points, list):
            lines.bad("points", f"must be a list, not {describe(points)}")
            points = []
        for index, point in enumerate(points):
            if (problem := _point_problem(point)) is not None:
                lines.bad_at(f"'points'[{index}]", problem)
        projection = row.get("projection", {})
        try:
            if not isinstance(projection, dict):
                raise TypeError
            Projection.from_dict(projection)
        except (TypeError, ValueError, AttributeError):
            lines.bad("projection", "must be a learning curve projection (an object as nerlab writes it)")
        curve = CurveRow(
            snapshot=snapshot,
            percents=list(percents),
            seed=lines.integer(row, "seed", maximum=COLUMN_INT_MAX),
            max_steps=lines.integer(row, "max_steps", minimum=1, maximum=COLUMN_INT_MAX),
            points=list(points),
            projection=dict(projection) if isinstance(projection, dict) else {},
            requested_by=lines.username(row, "requested_by"),
            created_at=lines.moment(row, "created_at"),
            started_at=lines.moment(row, "started_at"),
            finished_at=lines.moment(row, "finished_at"),
        )
        if len(lines.problems) == before:
            rows.append(curve)
    return rows


def _new_ids(restore: Restore, ids: list[Any]) -> list[int]:
    return [restore.document_ids[str(pk)] for pk in ids if str(pk) in restore.document_ids]


def snapshots_restore(
    restore: Restore, archive: ArchiveReader, entries: list[Any], only: set[int] | None = None
) -> dict[int, DatasetSnapshot]:
    """The manifest's snapshots (``only`` those ids, when given), by their id in the manifest."""
    project = restore.project
    lines = Lines(PROJECT_FILE)
    snapshots: dict[int, DatasetSnapshot] = {}
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not is_int(entry.get("id")):
            raise ArchiveError("project.json: each snapshot needs an integer id.")
        if only is not None and entry["id"] not in only:
            continue
        lines.where = f"snapshot {index}"
        problems_before = len(lines.problems)
        snapshot = DatasetSnapshot(
            project=project,
            content_hash=optional_text(lines, entry, "content_hash", DatasetSnapshot, ""),
            file="",
            document_count=whole(lines, entry, "document_count"),
            train_document_ids=_new_ids(restore, of_kind(lines, entry, "train_document_ids", list)),
            test_document_ids=_new_ids(restore, of_kind(lines, entry, "test_document_ids", list)),
            span_counts=of_kind(lines, entry, "span_counts", dict),
            language=optional_text(lines, entry, "language", DatasetSnapshot, project.language),
            split_mode=optional_text(lines, entry, "split_mode", DatasetSnapshot, project.split_mode),
            test_percent=whole(lines, entry, "test_percent", project.test_percent, maximum=100),
            split_seed=whole(lines, entry, "split_seed"),
            training_scope=optional_text(lines, entry, "training_scope", DatasetSnapshot, project.training_scope),
        )
        file_name = entry.get("file")
        if file_name is not None and not isinstance(file_name, str):
            lines.bad("file", f"must name a file of the archive, not {describe(file_name)}")
        if len(lines.problems) != problems_before:
            continue
        snapshot.save()
        if file_name:
            docs = _snapshot_docs(archive, file_name)
            remapped = [
                LabeledDoc(
                    d.text,
                    d.spans,
                    d.name,
                    d.language,
                    d.split,
                    # The live document's new id ("0": the document no longer existed when the archive was made).
                    {**d.meta, "document_id": str(restore.document_ids.get(d.meta.get("document_id", ""), 0))},
                )
                for d in docs
            ]
            snapshot.file = restore.save(
                f"{project_storage_prefix(project.pk)}/snapshots/{snapshot.pk}.jsonl", write_jsonl(remapped)
            )
            snapshot.save(update_fields=["file"])
        snapshots[entry["id"]] = snapshot
    if lines.problems:
        raise archive_error(lines.problems.items)
    return snapshots


def _snapshot_docs(archive: ArchiveReader, name: str) -> list[LabeledDoc]:
    try:
        return read_jsonl(archive.read(name), file_name=name)
    except FormatError as error:
        raise ArchiveError([str(problem) for problem in error.problems[:20]]) from None


def _or_default(value: float | None, default: float) -> float:
    return default if value is None else value


def _model_rows(
    lines: Lines, entry: Mapping[str, Any], restore: Restore, snapshots: Mapping[int, DatasetSnapshot]
) -> tuple[TrainingRun, TrainedModel]:
    """The run and the model of one project.json model entry, unsaved; a wrongly typed field is a problem."""
    run_fields = of_kind(lines, entry, "run", dict)
    snapshot_id = entry.get("snapshot")
    snapshot = snapshots.get(snapshot_id) if is_int(snapshot_id) else None
    if snapshot is None:
        lines.bad("snapshot", f"names snapshot {describe(snapshot_id)}, which the archive does not hold")
    max_epochs = whole(lines, run_fields, "max_epochs")
    run = TrainingRun(
        project=restore.project,
        snapshot=snapshot,
        model_name=entry["name"],
        status=TrainingRun.Status.SUCCEEDED,
        phase=TrainingRun.Phase.DONE,
        seed=whole(lines, run_fields, "seed"),
        max_epochs=max_epochs,
        max_steps=whole(lines, run_fields, "max_steps") or (0 if max_epochs else 1),
        patience=whole(lines, run_fields, "patience"),
        # Archives from before encoders existed trained the CNN.
        representation=optional_text(lines, run_fields, "representation", TrainingRun, "cnn"),
        representation_reason=any_text(lines, run_fields, "representation_reason"),
        # A student's teacher by name only: the link to the teacher's row is not restored.
        teacher_name=optional_text(lines, run_fields, "teacher_name", TrainingRun, ""),
        silver_threshold=optional_number(lines, run_fields, "silver_threshold", 1.0),
        untagged_documents=whole(lines, run_fields, "untagged_documents"),
        labelled_documents=whole(lines, run_fields, "labelled_documents"),
        silver_spans=whole(lines, run_fields, "silver_spans"),
        time_budget_minutes=(
            None if run_fields.get("time_budget_minutes") is None else whole(lines, run_fields, "time_budget_minutes")
        ),
        # Archives from before the small-data settings trained with the config's dropout and batches.
        dropout=_or_default(optional_number(lines, run_fields, "dropout", 0.9), 0.1),
        batch_size_start=whole(lines, run_fields, "batch_size_start", 100),
        batch_size_stop=whole(lines, run_fields, "batch_size_stop", 1000),
        eval_frequency=(
            None if run_fields.get("eval_frequency") is None else whole(lines, run_fields, "eval_frequency", 1)
        ),
        settings_rule=optional_text(lines, run_fields, "settings_rule", TrainingRun, ""),
        settings_reason=any_text(lines, run_fields, "settings_reason"),
        # What a time budget chose: "same settings" retrains of the clone reuse its steps.
        budget=of_kind(lines, run_fields, "budget", dict),
        percent=100.0,
        epoch=whole(lines, run_fields, "epoch"),
        step=whole(lines, run_fields, "step"),
        loss=optional_number(lines, run_fields, "loss"),
        dev_f1=optional_number(lines, run_fields, "dev_f1", 1.0),
        warnings=strings(lines, run_fields, "warnings"),
        started_at=lines.moment(run_fields, "started_at"),
        finished_at=lines.moment(run_fields, "finished_at"),
    )
    model = TrainedModel(
        project=restore.project,
        run=run,
        name=entry["name"],
        storage_path="",
        labels=strings(lines, entry, "labels"),
        duration_s=optional_number(lines, entry, "duration_s") or 0.0,
        snapshot_documents=whole(lines, entry, "snapshot_documents"),
        micro_f1=optional_number(lines, entry, "micro_f1", 1.0) or 0.0,
        size_bytes=whole(lines, entry, "size_bytes", maximum=2**63 - 1),
    )
    for key in ("files", "evaluation"):
        if entry.get(key) is not None and not isinstance(entry.get(key), str):
            lines.bad(key, f"must name a file or folder of the archive, not {describe(entry.get(key))}")
    return run, model


def _prediction_rows(archive: ArchiveReader, name: str, evaluation: Evaluation, by_hash: Mapping[str, int]) -> None:
    """The per-document predictions of one model's evaluation; raises ArchiveError listing every bad row."""
    rows = json_entry(archive, name)
    lines = Lines(name)
    if not isinstance(rows, list):
        raise ArchiveError(f"{name} in the archive must be a list of predictions, not {type_name(rows)}.")
    predictions = []
    for index, row in enumerate(rows, start=1):
        lines.where = f"prediction {index}"
        if not isinstance(row, dict):
            lines.bad("", f"each prediction must be an object, not {type_name(row)}")
            continue
        content = lines.string(
            row, "content_hash", max_length=max_length_of(Prediction, "content_hash"), required=False
        )
        predictions.append(
            Prediction(
                evaluation=evaluation,
                document_id=by_hash.get(content),
                position=lines.integer(row, "position", maximum=COLUMN_INT_MAX),
                name=str(row.get("name", ""))[:500],
                content_hash=content,
                spans=of_kind(lines, row, "spans", list),
                error_count=whole(lines, row, "error_count"),
                outcome_counts=of_kind(lines, row, "outcome_counts", dict),
            )
        )
    if lines.problems:
        raise archive_error(lines.problems.items)
    Prediction.objects.bulk_create(predictions, batch_size=500)


def models_restore(
    restore: Restore, archive: ArchiveReader, entries: list[Any], snapshots: Mapping[int, DatasetSnapshot]
) -> None:
    project = restore.project
    by_hash = dict(Document.objects.filter(project=project).values_list("content_hash", "pk"))
    lines = Lines(PROJECT_FILE)
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ArchiveError("project.json: each model needs a name.")
        lines.where = f"model {index} ({entry['name']!r})"
        problems_before = len(lines.problems)
        run, model = _model_rows(lines, entry, restore, snapshots)
        if len(lines.problems) != problems_before:
            continue
        folder = entry.get("files") or f"models/{entry.get('id')}/"
        files = archive.under(folder)
        if not files:
            raise ArchiveError(f"The archive holds no files for model {entry['name']}; it could not be deployed.")
        run.full_clean(exclude=["snapshot"])
        run.save()
        model.run = run
        model.full_clean(exclude=["storage_path", "run"])
        model.save()
        prefix = f"{project_storage_prefix(project.pk)}/models/{model.pk}"
        for name in files:
            restore.save(f"{prefix}/{name.removeprefix(folder)}", archive.read(name))
        TrainedModel.objects.filter(pk=model.pk).update(storage_path=prefix)
        if entry.get("evaluation"):
            report = json_entry(archive, entry["evaluation"])
            if not isinstance(report, dict):
                raise ArchiveError(f"{entry['evaluation']} in the archive must be an object, not {type_name(report)}.")
            evaluation = Evaluation.objects.create(model=model, report=report)
            predictions_name = f"predictions/{entry.get('id')}.json"
            if predictions_name in archive.names:
                _prediction_rows(archive, predictions_name, evaluation, by_hash)
    if lines.problems:
        raise archive_error(lines.problems.items)


def curves_restore(
    restore: Restore,
    rows: list[CurveRow],
    users: Mapping[str, AbstractBaseUser],
    snapshots: Mapping[int, DatasetSnapshot],
) -> None:
    curves = [
        LearningCurve(
            project=restore.project,
            snapshot=snapshots[row.snapshot],
            percents=row.percents,
            seed=row.seed,
            max_steps=row.max_steps,
            status=LearningCurve.Status.SUCCEEDED,
            points=row.points,
            projection=row.projection,
            requested_by=users.get(row.requested_by) if row.requested_by else None,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )
        for row in rows
    ]
    created = LearningCurve.objects.bulk_create(curves, batch_size=BULK_BATCH)
    keep_times(LearningCurve, created, [row.created_at for row in rows])

"""Reads for training runs, trained models, evaluations, the test-set review and model comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import Http404

from evaluation.model_files import model_files_local_dir, model_files_stamp
from evaluation.models import DatasetSnapshot, Evaluation, Prediction, TrainedModel, TrainingRun
from ner import limits
from ner.advice import Advice, evaluation_advice
from ner.calibration import CalibrationError, CalibrationReport
from ner.formats.jsonl import read_jsonl
from ner.metrics import (
    MATRIX_FILTERS,
    DocumentComparison,
    EvaluationReport,
    compare_documents,
    weighted_confusion,
)
from ner.types import LabeledDoc, Span
from projects.models import Project
from projects.selectors import project_rows_newest_first, row_get_or_404

# --------------------------------------------------------------------------------------------- snapshots


@lru_cache(maxsize=8)
def _snapshot_docs(file: str, content_hash: str) -> tuple[LabeledDoc, ...]:
    # Snapshots never change after they are written, so their parsed documents can be kept per process (keyed by
    # the hash too, in case a deleted project's path is ever reused).
    with default_storage.open(file, "rb") as handle:
        return tuple(read_jsonl(handle.read(), file_name=file))


def snapshot_documents(*, snapshot: DatasetSnapshot) -> list[LabeledDoc]:
    """The frozen documents of a snapshot, in snapshot order, each with ``split`` and ``meta['document_id']``."""
    return list(_snapshot_docs(snapshot.file, snapshot.content_hash))


def snapshot_test_documents(*, snapshot: DatasetSnapshot) -> list[LabeledDoc]:
    return [doc for doc in snapshot_documents(snapshot=snapshot) if doc.split == "test"]


# --------------------------------------------------------------------------------------------- runs


def training_run_list(*, project: Project) -> QuerySet[TrainingRun]:
    return project_rows_newest_first(
        TrainingRun, project=project, related=("snapshot", "requested_by", "trained_model")
    )


def training_run_get(*, project: Project, run_id: int) -> TrainingRun:
    return row_get_or_404(
        training_run_list(project=project).filter(pk=run_id), missing="No such training run in this project."
    )


def training_run_position(*, run: TrainingRun) -> int:
    """For a queued run, how many runs of the project are ahead of it (the running one included)."""
    if run.status != TrainingRun.Status.QUEUED:
        return 0
    return (
        TrainingRun.objects.filter(project_id=run.project_id, status__in=TrainingRun.ACTIVE)
        .filter(created_at__lte=run.created_at)
        .exclude(pk=run.pk)
        .count()
    )


# --------------------------------------------------------------------------------------------- models


def trained_model_list(*, project: Project) -> QuerySet[TrainedModel]:
    return TrainedModel.objects.filter(project=project).select_related("run", "run__snapshot").order_by("-created_at")


def trained_model_get(*, project: Project, model_id: int) -> TrainedModel:
    return row_get_or_404(
        trained_model_list(project=project).filter(pk=model_id), missing="No such model in this project."
    )


def teacher_model_list(*, project: Project) -> QuerySet[TrainedModel]:
    """The models that can teach a student (``ner.distill``): this project's, trained on a pretrained encoder."""
    return (
        TrainedModel.objects.filter(project=project)
        .exclude(run__representation="cnn")
        .select_related("run")
        .order_by("-created_at", "-id")
    )


def trained_model_local_path(*, model: TrainedModel) -> Path:
    """A local folder holding the model's files (``evaluation.model_files``)."""
    return model_files_local_dir(storage_path=model.storage_path, stamp=model_files_stamp(model))


def _evaluation_data(model: TrainedModel) -> dict[str, Any]:
    data = Evaluation.objects.filter(model=model).values_list("report", flat=True).first()
    if data is None:
        raise Http404("This model has no evaluation.")
    return dict(data)


def evaluation_report(*, model: TrainedModel) -> EvaluationReport:
    return EvaluationReport.from_dict(_evaluation_data(model))


def _calibration(data: dict[str, Any]) -> CalibrationReport | None:
    """The confidence calibration stored with the evaluation; None for evaluations made before it was measured."""
    stored = data.get("calibration")
    if stored is None:
        return None
    try:
        return CalibrationReport.from_dict(stored)
    except CalibrationError:
        return None


# --------------------------------------------------------------------------------------------- evaluation page


@dataclass(frozen=True)
class TypeRow:
    label: str
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    partial_f1: float
    boundary_errors: int
    wrong_type_errors: int
    train_count: int
    test_count: int


@dataclass(frozen=True)
class MatrixView:
    labels: tuple[str, ...]
    rows: list[tuple[str, list[tuple[str, float, float, bool]]]]  # gold -> [(predicted, value, shade 0..1, shown)]
    kind: str
    values: str
    cells: str


@dataclass
class EvaluationView:
    model: TrainedModel
    report: EvaluationReport
    rows: list[TypeRow]
    advice: list[Advice]
    train_counts: dict[str, int]
    test_counts: dict[str, int]
    interval: dict[str, Any] | None = field(default=None)
    # ECE and the reliability table of the confidence scores on the test set (None: not measured).
    calibration: CalibrationReport | None = field(default=None)


def evaluation_view(*, model: TrainedModel) -> EvaluationView:
    data = _evaluation_data(model)
    report = EvaluationReport.from_dict(data)
    snapshot = model.run.snapshot
    train_counts = dict(snapshot.span_counts.get("train", {}))
    test_counts = dict(snapshot.span_counts.get("test", {}))
    rows = [
        TypeRow(
            label=t.label,
            tp=t.exact.tp,
            fp=t.exact.fp,
            fn=t.exact.fn,
            precision=t.exact.precision,
            recall=t.exact.recall,
            f1=t.exact.f1,
            partial_f1=t.partial.f1,
            boundary_errors=t.boundary_errors,
            wrong_type_errors=t.wrong_type_errors,
            train_count=train_counts.get(t.label, 0),
            test_count=test_counts.get(t.label, 0),
        )
        for t in report.types
    ]
    return EvaluationView(
        model=model,
        report=report,
        rows=rows,
        advice=evaluation_advice(report=report, train_counts=train_counts, test_counts=test_counts),
        train_counts=train_counts,
        test_counts=test_counts,
        interval=None if report.micro_f1_interval is None else report.micro_f1_interval.to_dict(),
        calibration=_calibration(data),
    )


def confusion_matrix_view(*, report: EvaluationReport, kind: str, values: str, cells: str) -> MatrixView:
    """The matrix as table rows: ``kind`` weighted|count, ``values`` raw|normalized, ``cells`` all|errors|matches."""
    kind = kind if kind in ("weighted", "count") else "weighted"
    values = values if values in ("raw", "normalized") else "raw"
    cells = cells if cells in MATRIX_FILTERS else "all"
    matrix = (
        report.weighted_matrix if kind == "weighted" and report.weighted_matrix is not None else report.count_matrix
    )
    if matrix is report.count_matrix:
        kind = "count"
    shown = {(c.gold, c.predicted) for c in matrix.cells(cells)}  # type: ignore[arg-type]
    rows = []
    for gold in matrix.labels:
        row = []
        for predicted in matrix.labels:
            normalized = matrix.normalized(gold, predicted)
            value = normalized if values == "normalized" else matrix.value(gold, predicted)
            row.append((predicted, value, normalized / 100.0, (gold, predicted) in shown))
        rows.append((gold, row))
    return MatrixView(labels=matrix.labels, rows=rows, kind=kind, values=values, cells=cells)


# --------------------------------------------------------------------------------------------- review


@dataclass(frozen=True)
class ReviewDocument:
    prediction: Prediction
    doc: LabeledDoc
    comparison: DocumentComparison
    gold_segments: list[tuple[str, str, str]]  # (text, outcome or "", label)
    predicted_segments: list[tuple[str, str, str]]

    @property
    def first_error(self) -> int | None:
        """Where the first mistake starts (code points): the tagging page opens there from "Fix"."""
        return next((row.start for row in self.comparison.rows if row.outcome != "tp"), None)


def _segments(text: str, marks: list[tuple[Span, str]]) -> list[tuple[str, str, str]]:
    """The text cut at the marked spans: (piece, outcome, label); unmarked pieces have an empty outcome."""
    pieces: list[tuple[str, str, str]] = []
    position = 0
    for span, outcome in sorted(marks, key=lambda mark: (mark[0].start, mark[0].end)):
        if span.start < position:
            continue  # overlapping spans (possible only under a permissive overlap policy): show the first
        if span.start > position:
            pieces.append((text[position : span.start], "", ""))
        pieces.append((text[span.start : span.end], outcome, span.label))
        position = span.end
    if position < len(text):
        pieces.append((text[position:], "", ""))
    return pieces


def review_documents(
    *, model: TrainedModel, mismatches_only: bool = False, label: str = "", cell: tuple[str, str] | None = None
) -> list[ReviewDocument]:
    """Each test document with gold and predicted spans marked by outcome, worst first.

    ``label`` keeps the documents where that type is tagged or predicted; with ``mismatches_only``, where it is
    part of a mistake. ``cell`` (gold type, predicted type, either ``$none``) keeps the documents that add to that
    confusion-matrix cell: where text tagged as the first was predicted, wholly or in part, as the second."""
    evaluation = Evaluation.objects.filter(model=model).first()
    if evaluation is None:
        raise Http404("This model has no evaluation.")
    tests = snapshot_test_documents(snapshot=model.run.snapshot)
    predictions = list(evaluation.predictions.all())
    found: list[ReviewDocument] = []
    for prediction in predictions:
        doc = tests[prediction.position]
        predicted = [Span(s["start"], s["end"], s["label"]) for s in prediction.spans]
        comparison = compare_documents([(doc, predicted)])[0]
        if mismatches_only and comparison.error_count == 0:
            continue
        # With "mismatches only", the type filter keeps the documents where that type goes wrong (a type row's
        # link), not every document that holds the type and some other type's mistake.
        if label and not any(
            label in {row.gold.label if row.gold else "", row.predicted.label if row.predicted else ""}
            for row in comparison.rows
            if not (mismatches_only and row.outcome == "tp")
        ):
            continue
        # The document's own share of the matrix the link came from: the weighted matrix holds every cell the count
        # one does, and more (a prediction overlapping part of an entity of another type), which entity-by-entity
        # comparison rows would miss.
        if cell is not None and weighted_confusion([(doc, predicted)]).value(*cell) <= 0:
            continue
        found.append(
            ReviewDocument(
                prediction=prediction,
                doc=doc,
                comparison=comparison,
                gold_segments=_segments(doc.text, comparison.gold_marks()),  # type: ignore[arg-type]
                predicted_segments=_segments(doc.text, comparison.predicted_marks()),  # type: ignore[arg-type]
            )
        )
    found.sort(key=lambda item: (-item.comparison.error_count, item.prediction.position))
    return found


# --------------------------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class TypeDelta:
    label: str
    f1_a: float | None
    f1_b: float | None

    @property
    def delta(self) -> float | None:
        if self.f1_a is None or self.f1_b is None:
            return None
        return self.f1_b - self.f1_a


@dataclass(frozen=True)
class DocumentDelta:
    name: str
    document_id: int | None
    errors_a: int
    errors_b: int

    @property
    def delta(self) -> int:
        return self.errors_b - self.errors_a


@dataclass
class Comparison:
    a: TrainedModel
    b: TrainedModel
    same_test_set: bool
    shared_documents: int
    micro_a: float
    micro_b: float
    types: list[TypeDelta]
    better: list[DocumentDelta]
    worse: list[DocumentDelta]


def model_compare(*, a: TrainedModel, b: TrainedModel) -> Comparison:
    """Per-type F1 of ``b`` against ``a``, and the test documents ``b`` got better or worse on (by error count).

    Documents are matched by content, so two models of different snapshots compare on the documents they share.
    """
    report_a, report_b = evaluation_report(model=a), evaluation_report(model=b)
    f1_a = {t.label: t.exact.f1 for t in report_a.types}
    f1_b = {t.label: t.exact.f1 for t in report_b.types}
    types = [TypeDelta(label, f1_a.get(label), f1_b.get(label)) for label in sorted(set(f1_a) | set(f1_b))]
    preds_a = {p.content_hash: p for p in Prediction.objects.filter(evaluation__model=a)}
    preds_b = {p.content_hash: p for p in Prediction.objects.filter(evaluation__model=b)}
    shared = sorted(set(preds_a) & set(preds_b), key=lambda h: preds_b[h].position)
    deltas = [
        DocumentDelta(preds_b[h].name, preds_b[h].document_id, preds_a[h].error_count, preds_b[h].error_count)
        for h in shared
    ]
    return Comparison(
        a=a,
        b=b,
        same_test_set=set(preds_a) == set(preds_b),
        shared_documents=len(shared),
        micro_a=report_a.micro.f1,
        micro_b=report_b.micro.f1,
        types=types,
        better=sorted((d for d in deltas if d.delta < 0), key=lambda d: d.delta),
        worse=sorted((d for d in deltas if d.delta > 0), key=lambda d: -d.delta),
    )


def trained_models_at_limit(*, project: Project) -> bool:
    """Whether the project holds as many models as it may (queued and running trainings count): another training
    needs one of them deleted first."""
    active = TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE).count()
    return TrainedModel.objects.filter(project=project).count() + active >= limits.TRAINED_MODELS_MAX


def replaceable_model_list(*, project: Project) -> QuerySet[TrainedModel]:
    """The project's models that no deployment uses, oldest first: those a new training may replace."""
    return TrainedModel.objects.filter(project=project, deployments__isnull=True).order_by("created_at", "id")


def review_prediction_get(*, model: TrainedModel, prediction_id: int) -> Prediction:
    return row_get_or_404(
        Prediction.objects.filter(evaluation__model=model, pk=prediction_id),
        missing="No such test document in this model's evaluation.",
    )

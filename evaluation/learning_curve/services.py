"""Learning curves: "how many tagged files are needed?", answered with the project's own data.

``learning_curve_start`` freezes (or reuses) a ``DatasetSnapshot`` exactly as training does and queues a
``LearningCurve`` after commit. The Celery task calls ``learning_curve_execute``, which claims the row under
``select_for_update``, takes nested shares of the snapshot's training side (``ner.learning_curve.nested_subsets``),
trains one model per share with ``ner.train`` (a normal run's settings, the curve's step limit) in a temporary
folder, scores it with ``ner.metrics`` on the snapshot's test side (the same test set for every share), appends the
point to the row at once (the page polls it), and finally stores the projection (``ner.learning_curve``). The models
are thrown away: only the numbers are kept.

A curve whose worker died is found by its stale heartbeat (``learning_curves_recover``, the projects.jobs rule) and
queued again; it restarts from scratch. Each claim writes a fresh ``started_at``, and a worker only writes to a row
whose ``started_at`` is still its own, so a superseded worker stops instead of mixing its points into the new
attempt's.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.safestring import SafeString

from evaluation.charts import Axis, Series, count, line_chart, percent
from evaluation.models import LearningCurve
from evaluation.selectors import snapshot_documents
from evaluation.services import DEFAULT_SETTINGS, snapshot_create
from ner.learning_curve import (
    DEFAULT_PERCENTS,
    LearningCurveError,
    Projection,
    Subset,
    check_percents,
    fit_projection,
    instances_by_type,
    nested_subsets,
    types_by_gain,
)
from ner.metrics import evaluate
from ner.predict import load as load_model
from ner.train import TrainCancelled, TrainError, TrainSettings, train
from ner.types import LabeledDoc
from projects.jobs import job_heartbeat, job_is_stale, job_lost_reason, job_recovery_verdict, jobs_recover_on_commit
from projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

DEFAULT_MAX_STEPS = 1000
MAX_STEPS_LIMIT = 100_000
# How often a worker checks that the curve is still its own while a share trains.
OWNERSHIP_CHECK_INTERVAL_S = 2.0


class _Superseded(Exception):
    """Another attempt has claimed this curve since this worker did."""


# --------------------------------------------------------------------------------------------- start


def learning_curve_start(
    *,
    project: Project,
    user: AbstractBaseUser | None,
    percents: Sequence[int] = DEFAULT_PERCENTS,
    max_steps: int = DEFAULT_MAX_STEPS,
    seed: int = 0,
) -> LearningCurve:
    """Freeze the project's training data and queue a curve; the task is sent after commit.

    Raises ValidationError when a curve of the project is already queued or running, when the shares or the step
    limit are invalid, or when the data cannot train a model (the same checks as training).
    """
    try:
        shares = check_percents(percents)
    except LearningCurveError as error:
        raise ValidationError({"percents": str(error)}) from None
    if not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise ValidationError({"max_steps": f"The step limit must be from 1 to {MAX_STEPS_LIMIT:,}."})
    with transaction.atomic():
        # One writer per project: two clicks cannot both find no running curve.
        Project.objects.select_for_update().only("pk").get(pk=project.pk)
        if LearningCurve.objects.filter(project=project, status__in=LearningCurve.ACTIVE).exists():
            raise ValidationError(
                f"A learning curve of {project.name} is already queued or running: wait for it to finish."
            )
        snapshot = snapshot_create(project=project, user=user)
        if snapshot.train_count < 2:
            raise ValidationError(
                f"The training side holds {snapshot.train_count} document; a learning curve needs at least 2 "
                "to take shares of."
            )
        curve = LearningCurve(
            project=project,
            snapshot=snapshot,
            percents=list(shares),
            seed=seed,
            max_steps=max_steps,
            requested_by=user,
            heartbeat_at=timezone.now(),
        )
        curve.full_clean()
        curve.save()
        curve_pk = curve.pk
        jobs_recover_on_commit()
        transaction.on_commit(lambda: _dispatch(curve_pk))
    return curve


def _dispatch(curve_id: int) -> None:
    from evaluation.tasks import learning_curve_task  # tasks import the services; import here to avoid a cycle

    learning_curve_task.delay(curve_id)


# --------------------------------------------------------------------------------------------- execute


def _claim(curve_id: int) -> tuple[str, LearningCurve | None]:
    with transaction.atomic():
        curve = LearningCurve.objects.select_for_update().filter(pk=curve_id).first()
        if curve is None:
            return "missing", None
        if curve.status not in LearningCurve.ACTIVE:
            return "finished", curve
        if curve.status == LearningCurve.Status.RUNNING:
            return "busy", curve  # a duplicate message: another worker has it (recovery covers its death)
        curve.status = LearningCurve.Status.RUNNING
        curve.started_at = curve.heartbeat_at = timezone.now()
        curve.attempts += 1
        curve.finished_at = None
        curve.points = []
        curve.projection = {}
        curve.error = ""
        curve.save(
            update_fields=[
                "status", "started_at", "heartbeat_at", "attempts", "finished_at", "points", "projection", "error"
            ]
        )  # fmt: skip
    # The stored value (the database may round it) is the token later writes compare against.
    curve.started_at = LearningCurve.objects.values_list("started_at", flat=True).get(pk=curve.pk)
    return "claimed", curve


def _locked_own(curve_id: int, token: datetime | None) -> LearningCurve:
    """The curve under a row lock, if this worker's claim still holds (call inside a transaction)."""
    locked = LearningCurve.objects.select_for_update().get(pk=curve_id)
    if locked.started_at != token or locked.status != LearningCurve.Status.RUNNING:
        raise _Superseded
    return locked


def _append_point(curve: LearningCurve, point: dict[str, Any]) -> None:
    with transaction.atomic():
        locked = _locked_own(curve.pk, curve.started_at)
        locked.points = [*locked.points, point]
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["points", "heartbeat_at"])
    curve.points = locked.points


def _finish(curve: LearningCurve, status: str, *, error: str = "", projection: dict[str, Any] | None = None) -> None:
    with transaction.atomic():
        locked = _locked_own(curve.pk, curve.started_at)
        locked.status = status
        locked.error = error
        locked.finished_at = timezone.now()
        fields = ["status", "error", "finished_at"]
        if projection is not None:
            locked.projection = projection
            fields.append("projection")
        locked.save(update_fields=fields)


class _Ownership:
    """``should_stop`` for ner.train: true once another attempt has claimed the curve, or recovery has queued it
    again (checked every few seconds, with the heartbeat written by the same query)."""

    def __init__(self, curve: LearningCurve) -> None:
        self.curve_id = curve.pk
        self.token = curve.started_at
        self._checked = 0.0
        self._lost = False

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._lost and now - self._checked >= OWNERSHIP_CHECK_INTERVAL_S:
            self._checked = now
            self._lost = not LearningCurve.objects.filter(
                pk=self.curve_id, started_at=self.token, status=LearningCurve.Status.RUNNING
            ).update(heartbeat_at=timezone.now())
        return self._lost


def learning_curve_execute(*, curve_id: int) -> str:
    """Train and score every share of one curve (the Celery task's one service call). Safe to call again.

    Returns "missing", "finished" (nothing to do: a redelivered message), "busy" (another worker has it),
    "superseded" (another attempt took the curve over), "succeeded" or "failed".
    """
    outcome, curve = _claim(curve_id)
    if outcome != "claimed":
        return outcome
    assert curve is not None
    own = LearningCurve.objects.filter(pk=curve.pk, started_at=curve.started_at, status=LearningCurve.Status.RUNNING)
    try:
        with job_heartbeat(own.all):
            projection = _run(curve)
        _finish(curve, LearningCurve.Status.SUCCEEDED, projection=projection.to_dict())
    except (_Superseded, TrainCancelled):
        return "superseded"
    except (TrainError, LearningCurveError) as error:
        return _fail(curve, str(error))
    except ValidationError as error:
        return _fail(curve, " ".join(error.messages))
    except Exception as error:  # a worker must record every failure on the row the user is watching
        logger.exception("Learning curve %s failed", curve.pk)
        return _fail(curve, f"The learning curve failed unexpectedly ({type(error).__name__}: {error}).")
    return "succeeded"


def learning_curves_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for learning curves: a running curve silent since ``stale_before`` is queued again
    (or failed after ``NERLAB_JOB_ATTEMPTS`` starts); a queued one sent before then is sent again."""
    touched = 0
    silent = Q(status=LearningCurve.Status.RUNNING) | Q(status=LearningCurve.Status.QUEUED)
    stale = Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at=None)
    for curve_id in LearningCurve.objects.filter(silent & stale).values_list("pk", flat=True):
        with transaction.atomic():
            curve = LearningCurve.objects.select_for_update().get(pk=curve_id)
            if curve.status not in LearningCurve.ACTIVE or not job_is_stale(
                curve.heartbeat_at, stale_before=stale_before
            ):
                continue
            now = timezone.now()
            if curve.status == LearningCurve.Status.QUEUED:
                curve.heartbeat_at = now  # sent again, below
            elif job_recovery_verdict(attempts=curve.attempts) == "fail":
                curve.status = LearningCurve.Status.FAILED
                curve.error = job_lost_reason(what="learning curve", attempts=curve.attempts)
                curve.finished_at = now
            else:
                logger.warning("Learning curve %s lost its worker; queuing it again", curve.pk)
                curve.status = LearningCurve.Status.QUEUED
                curve.heartbeat_at = now
            curve.save(update_fields=["status", "error", "finished_at", "heartbeat_at"])
            if curve.status == LearningCurve.Status.QUEUED:
                transaction.on_commit(partial(_dispatch, curve.pk))
        touched += 1
    return touched


def _fail(curve: LearningCurve, message: str) -> str:
    try:
        _finish(curve, LearningCurve.Status.FAILED, error=message)
    except _Superseded:
        return "superseded"
    return "failed"


def _settings(curve: LearningCurve) -> TrainSettings:
    # A normal run's settings (evaluation.services), with the curve's step limit.
    return TrainSettings(
        seed=curve.seed,
        max_steps=curve.max_steps,
        max_epochs=DEFAULT_SETTINGS["max_epochs"],
        patience=DEFAULT_SETTINGS["patience"],
        threads=settings.NERLAB_TRAINING_THREADS,
        eval_frequency=max(1, min(200, curve.max_steps // 5)),
    )


def _run(curve: LearningCurve) -> Projection:
    snapshot = curve.snapshot
    docs = snapshot_documents(snapshot=snapshot)
    train_docs = [doc for doc in docs if doc.split == "train"]
    test_docs = [doc for doc in docs if doc.split == "test"]
    if not test_docs:
        raise LearningCurveError("The snapshot has no test documents, so the shares could not be scored.")
    subsets = nested_subsets(train_docs, curve.percents, curve.seed)
    ownership = _Ownership(curve)
    measured: dict[int, dict[str, Any]] = {}  # subset size -> point, so equal shares train once
    for subset in subsets:
        size = len(subset.docs)
        if size not in measured:
            measured[size] = _measure(curve, subset, test_docs, ownership)
        _append_point(curve, {**measured[size], "percent": subset.percent})
    return curve_projection(curve.points)


def _measure(
    curve: LearningCurve, subset: Subset, test_docs: list[LabeledDoc], ownership: _Ownership
) -> dict[str, Any]:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"nerlab-curve-{curve.pk}-{subset.percent}-"))
    try:
        result = train(
            subset.docs,
            [],
            language=curve.snapshot.language,
            output_dir=workdir / "model",
            settings=_settings(curve),
            should_stop=ownership.should_stop,
        )
        found = load_model(result.model_path).predict([doc.text for doc in test_docs])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    pairs = [(doc, [scored.as_span() for scored in spans]) for doc, spans in zip(test_docs, found, strict=True)]
    report = evaluate(pairs, resamples=0)
    scores = {scores.label: scores.exact for scores in report.types}
    per_type = {}
    for label, test_instances in instances_by_type(test_docs).items():
        exact = scores.get(label)
        per_type[label] = {
            "f1": exact.f1 if exact else 0.0,
            "precision": exact.precision if exact else 0.0,
            "recall": exact.recall if exact else 0.0,
            "instances": subset.per_type.get(label, 0),
            "test_instances": test_instances,
        }
    return {
        "percent": subset.percent,
        "documents": len(subset.docs),
        "instances": subset.instances,
        "micro_f1": report.micro.f1,
        "precision": report.micro.precision,
        "recall": report.micro.recall,
        "per_type": per_type,
        "steps": result.steps,
        "duration_s": round(time.perf_counter() - started, 2),
    }


def curve_projection(points: Sequence[dict[str, Any]]) -> Projection:
    """The projection of stored points: overall micro F1 against all instances, each type against its own."""
    labels = sorted({label for point in points for label in point.get("per_type", {})})
    return fit_projection(
        [(point["instances"], point["micro_f1"]) for point in points],
        per_type={
            label: [
                (point["per_type"][label]["instances"], point["per_type"][label]["f1"])
                for point in points
                if label in point.get("per_type", {})
            ]
            for label in labels
        },
    )


# --------------------------------------------------------------------------------------------- selectors


def learning_curve_list(*, project: Project) -> QuerySet[LearningCurve]:
    return (
        LearningCurve.objects.filter(project=project)
        .select_related("snapshot", "requested_by")
        .order_by("-created_at", "-id")
    )


def learning_curve_get(*, project: Project, curve_id: int) -> LearningCurve:
    curve = learning_curve_list(project=project).filter(pk=curve_id).first()
    if curve is None:
        raise Http404("No such learning curve in this project.")
    return curve


def learning_curve_latest(*, project: Project) -> LearningCurve | None:
    return learning_curve_list(project=project).first()


@dataclass(frozen=True)
class TypeGain:
    label: str
    projection: Projection
    instances: int


@dataclass(frozen=True)
class PointRow:
    point: dict[str, Any]
    types: list[tuple[str, dict[str, Any] | None]]  # (label, its scores in this share) in label order


@dataclass
class CurveView:
    """What the page shows of one curve: the plot, the points as rows, the projection and per-type gains."""

    curve: LearningCurve
    rows: list[PointRow]
    labels: list[str]
    chart: SafeString
    projection: Projection | None
    type_gains: list[TypeGain] = field(default_factory=list)
    training_percent: int | None = None  # the share being trained now
    more_documents: int | None = None  # the projection's extra instances, in documents like the current ones

    @property
    def projects_gain(self) -> bool:
        return self.projection is not None and self.projection.method in ("power_law", "log_linear")

    @property
    def instances_2x(self) -> int:
        return 2 * self.projection.current_instances if self.projection else 0

    @property
    def instances_4x(self) -> int:
        return 4 * self.projection.current_instances if self.projection else 0


def _tooltip(point: dict[str, Any], label: str | None = None) -> str:
    if label is None:
        return (
            f"All types: micro F1 {percent(point['micro_f1'])} with {point['instances']:,} tagged instances "
            f"({point['percent']}% of the training documents: {point['documents']})"
        )
    scores = point["per_type"][label]
    return (
        f"{label}: F1 {percent(scores['f1'])} with {scores['instances']:,} {label} instances "
        f"({point['instances']:,} in all, {point['percent']}% of the training documents)"
    )


def learning_curve_chart(*, curve: LearningCurve, projection: Projection | None = None) -> SafeString:
    """F1 against the tagged instances of each share: micro F1 (with its projection to twice the data, dashed) and
    one line per entity type. Every line shares the x axis (all types' instances), so they line up by share."""
    points = sorted(curve.points, key=lambda point: point["instances"])
    labels = sorted({label for point in points for label in point.get("per_type", {})})
    projected: list[tuple[float, float]] = []
    if projection is not None and projection.method in ("power_law", "log_linear") and projection.current_instances:
        now = projection.current_instances
        for factor in (1.25, 1.5, 1.75, 2.0):
            value = projection.predict(now * factor)
            if value is not None:
                projected.append((now * factor, value))
    series = [
        Series(
            name="All types (micro F1)",
            points=[(point["instances"], point["micro_f1"]) for point in points],
            tooltips=[_tooltip(point) for point in points],
            projection=projected,
            projection_label="Projection of micro F1 to twice the tagged instances (extrapolated)",
            emphasis=True,
            slug="overall",
        )
    ]
    for index, label in enumerate(labels):
        rows = [point for point in points if label in point.get("per_type", {})]
        series.append(
            Series(
                name=label,
                points=[(point["instances"], point["per_type"][label]["f1"]) for point in rows],
                tooltips=[_tooltip(point, label) for point in rows],
                slug=f"type-{index}",
            )
        )
    if points:
        first, last = points[0], points[-1]
        description = (
            f"Micro F1 on the test set went from {percent(first['micro_f1'])} with {first['instances']:,} tagged "
            f"instances to {percent(last['micro_f1'])} with {last['instances']:,}, over {len(points)} shares of the "
            f"training documents; one line per entity type ({', '.join(labels) or 'none'}) on the same axis."
        )
    else:
        description = "No share has been trained yet."
    return line_chart(
        series=series,
        title="Learning curve: test F1 against tagged entity instances",
        description=description,
        x_axis=Axis("Tagged entity instances in the training share (all types)", low=0, format=count),
        y_axis=Axis("F1 on the test set", low=0, high=1, format=percent),
        chart_id=f"learning-curve-{curve.pk}",
    )


def learning_curve_view(*, curve: LearningCurve) -> CurveView:
    points = list(curve.points)
    labels = sorted({label for point in points for label in point.get("per_type", {})})
    projection = Projection.from_dict(curve.projection) if curve.projection else None
    if projection is None and len(points) >= 2:
        projection = curve_projection(points)  # a running or failed curve: what its points say so far
    training_percent = None
    if curve.status == LearningCurve.Status.RUNNING and len(points) < len(curve.percents):
        training_percent = curve.percents[len(points)]
    more_documents = None
    if projection is not None and projection.more_instances is not None and points:
        last = max(points, key=lambda point: point["instances"])
        per_document = last["instances"] / last["documents"] if last["documents"] else 0
        if per_document > 0:
            more_documents = max(1, round(projection.more_instances / per_document))
    last_counts = max(points, key=lambda point: point["instances"])["per_type"] if points else {}
    gains = []
    if projection is not None:
        gains = [
            TypeGain(label, item, int(last_counts.get(label, {}).get("instances", 0)))
            for label, item in types_by_gain(projection)
        ]
    return CurveView(
        curve=curve,
        rows=[PointRow(point, [(label, point.get("per_type", {}).get(label)) for label in labels]) for point in points],
        labels=labels,
        chart=learning_curve_chart(curve=curve, projection=projection),
        projection=projection,
        type_gains=gains,
        training_percent=training_percent,
        more_documents=more_documents,
    )

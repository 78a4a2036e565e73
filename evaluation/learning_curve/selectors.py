"""Reads of learning curves: the project's curves, their projection, and the chart and rows the page shows.
Starting and running a curve live in ``services``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.safestring import SafeString

from evaluation.charts import Axis, Series, count, line_chart, percent
from evaluation.models import LearningCurve
from ner.learning_curve import (
    Projection,
    fit_projection,
    types_by_gain,
)
from projects.models import Project
from projects.selectors import project_rows_newest_first, row_get_or_404


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


def learning_curve_list(*, project: Project) -> QuerySet[LearningCurve]:
    return project_rows_newest_first(LearningCurve, project=project, related=("snapshot", "requested_by"))


def learning_curve_get(*, project: Project, curve_id: int) -> LearningCurve:
    return row_get_or_404(
        learning_curve_list(project=project).filter(pk=curve_id), missing="No such learning curve in this project."
    )


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

"""Reads for the training page's table of representations: each one's measured speed here and its best test F1 in
the project, the trade-off a user chooses by."""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.encoders import representation_choices, representation_identity, representation_label
from evaluation.models import SpeedMeasurement, TrainedModel
from projects.models import Project


@dataclass(frozen=True, slots=True)
class RepresentationSpeedRow:
    representation: str
    label: str
    # The measurement of the representation as it is now (None: never asked for, e.g. no worker started since).
    measurement: SpeedMeasurement | None
    # The project's model on this representation with the best test F1 (None: none trained on it yet).
    best_model: TrainedModel | None


def representation_speed_rows(*, project: Project) -> list[RepresentationSpeedRow]:
    rows = []
    for name in representation_choices():
        rows.append(
            RepresentationSpeedRow(
                representation=name,
                label=representation_label(name),
                measurement=SpeedMeasurement.objects.filter(
                    representation=name, identity=representation_identity(name)
                ).first(),
                best_model=TrainedModel.objects.filter(project=project, run__representation=name)
                .order_by("-micro_f1", "-created_at")
                .first(),
            )
        )
    return rows


def speed_measurements_active(rows: list[RepresentationSpeedRow]) -> bool:
    """Whether the page should keep polling the table: some measurement is still queued or running."""
    return any(row.measurement is not None and row.measurement.is_active for row in rows)

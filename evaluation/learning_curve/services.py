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
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evaluation.learning_curve.selectors import curve_projection
from evaluation.models import LearningCurve
from evaluation.selectors import snapshot_documents
from evaluation.services import DEFAULT_SETTINGS, snapshot_create
from ner.learning_curve import (
    DEFAULT_PERCENTS,
    LearningCurveError,
    Projection,
    Subset,
    check_percents,
    instances_by_type,
    nested_subsets,
)
from ner.metrics import evaluate
from ner.predict import load as load_model
from ner.train import TrainCancelled, TrainError, TrainSettings, train
from ner.types import LabeledDoc
from projects.jobs import (
    AttemptWatch,
    job_claim,
    job_heartbeat,
    job_queue,
    job_refuse_while_active,
    job_workdir,
    jobs_recover_lost,
)
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
        job_refuse_while_active(LearningCurve, project=project, what="learning curve")
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
        )
        job_queue(curve, send=_dispatch)
    return curve


def _dispatch(curve_id: int) -> None:
    from evaluation.tasks import learning_curve_task  # tasks import the services; import here to avoid a cycle

    learning_curve_task.delay(curve_id)


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


def _ownership(curve: LearningCurve) -> AttemptWatch:
    """``should_stop`` for ner.train: true once another attempt has claimed the curve, or recovery has queued it
    again (checked every few seconds, with the heartbeat written by the same query)."""
    own = LearningCurve.objects.filter(pk=curve.pk, started_at=curve.started_at, status=LearningCurve.Status.RUNNING)
    return AttemptWatch(lambda: bool(own.update(heartbeat_at=timezone.now())), interval_s=OWNERSHIP_CHECK_INTERVAL_S)


def learning_curve_execute(*, curve_id: int) -> str:
    """Train and score every share of one curve (the Celery task's one service call). Safe to call again.

    Returns "missing", "finished" (nothing to do: a redelivered message), "busy" (another worker has it),
    "superseded" (another attempt took the curve over), "succeeded" or "failed".
    """
    # Each attempt starts from scratch: the last one's points, projection and end go.
    outcome, curve = job_claim(LearningCurve, curve_id, finished_at=None, points=[], projection={}, error="")
    if outcome != "claimed":
        return outcome
    assert curve is not None
    # The stored value (the database may round it) is the token later writes compare against.
    curve.started_at = LearningCurve.objects.values_list("started_at", flat=True).get(pk=curve.pk)
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
    return jobs_recover_lost(LearningCurve, stale_before=stale_before, what="learning curve", send=_dispatch)


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
        processes=settings.NERLAB_TRAINING_PROCESSES,
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
    ownership = _ownership(curve)
    measured: dict[int, dict[str, Any]] = {}  # subset size -> point, so equal shares train once
    for subset in subsets:
        size = len(subset.docs)
        if size not in measured:
            measured[size] = _measure(curve, subset, test_docs, ownership)
        _append_point(curve, {**measured[size], "percent": subset.percent})
    return curve_projection(curve.points)


def _measure(
    curve: LearningCurve, subset: Subset, test_docs: list[LabeledDoc], ownership: AttemptWatch
) -> dict[str, Any]:
    started = time.perf_counter()
    with job_workdir(f"curve-{curve.pk}-{subset.percent}") as workdir:
        result = train(
            subset.docs,
            [],
            language=curve.snapshot.language,
            output_dir=workdir / "model",
            settings=_settings(curve),
            should_stop=ownership.should_stop,
        )
        found = load_model(result.model_path).predict([doc.text for doc in test_docs])
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

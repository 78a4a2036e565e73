"""Measuring how fast each representation trains and predicts on this server, in the background.

A speed depends on the machine and on the representation, so it is measured here rather than quoted from a
benchmark: ``speed_measurements_request`` queues a ``SpeedMeasurement`` for each representation the server offers
(the CNN, every usable encoder and spaCy pipeline) that has none for its present identity
(``evaluation.encoders.representation_identity``: its files and the software that runs them). Every worker asks for
this once when it starts (``config.celery``), so a new encoder, a changed folder or an upgraded runtime is measured
without anyone asking; "Measure again" on the training page queues one representation afresh.

The Celery task calls ``speed_measurement_execute``, which claims the row under ``select_for_update`` and runs
``ner.train.measure_representation_speed`` on the demo corpus shipped with nerlab (``demo/``: English loan
agreements, its training side to train on and its test side to predict), with the training thread and process
counts a training run uses. A measurement whose worker died is found by its stale heartbeat and queued again (the
``projects.jobs`` rule).

A measurement gives way to the jobs people ask for: while any of them waits for a worker
(``projects.jobs.jobs_waiting``), it sends itself again ``NERLAB_MEASURE_GIVE_WAY_S`` seconds later instead of
running. On a server with one worker, the start-up measurements (about a minute on 2 cores) would otherwise run
ahead of the first training of someone trying nerlab out, and a measurement beside a training would measure both.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime
from functools import cache, partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from evaluation.encoders import (
    encoder_for,
    encoder_offers,
    pipeline_for,
    pipeline_offers,
    representation_choices,
    representation_identity,
)
from evaluation.models import SpeedMeasurement
from labeling.management.commands.load_demo import DEMO_FILE
from ner.formats.jsonl import read_jsonl
from ner.pipelines import KNOWN_PIPELINES
from ner.train import CNN_REPRESENTATION, TrainSettings, measure_representation_speed
from ner.types import LabeledDoc
from projects.jobs import (
    job_attempt_row,
    job_claim,
    job_finish,
    job_heartbeat,
    job_queue,
    job_send_on_commit,
    job_workdir,
    jobs_recover_lost,
    jobs_waiting,
)

logger = logging.getLogger(__name__)

# How often a measurement gives way before it runs all the same: a server that always has a job waiting is measured
# too.
GIVE_WAY_AT_MOST = 20

# The sample is English; a spaCy pipeline is measured in its own language (its tokenizer is the one it runs with).
SAMPLE_LANGUAGE = "en"


def _offered() -> list[str]:
    """The representations a training may use here, those whose files have a problem left out (they cannot run)."""
    usable = {offer.name for offer in encoder_offers()} | {offer.name for offer in pipeline_offers()}
    return [name for name in representation_choices() if name == CNN_REPRESENTATION or name in usable]


def _dispatch(measurement_id: int) -> None:
    from evaluation.tasks import speed_measurement_task  # tasks import this module lazily; keep it one way

    speed_measurement_task.delay(measurement_id)


def _dispatch_later(measurement_id: int, *, deferrals: int) -> None:
    from evaluation.tasks import speed_measurement_task

    speed_measurement_task.apply_async(
        (measurement_id,), {"deferrals": deferrals}, countdown=settings.NERLAB_MEASURE_GIVE_WAY_S
    )


def speed_measurements_request(
    *, representations: list[str] | None = None, again: bool = False
) -> list[SpeedMeasurement]:
    """Queue a measurement for each offered representation (or those named) that has none for its present identity;
    with ``again``, also for those measured already (one queued or running is left to finish). Returns the rows
    queued. Two workers starting together queue each representation once: the row is unique per identity."""
    offered = _offered()
    queued = []
    for name in offered if representations is None else [name for name in representations if name in offered]:
        identity = representation_identity(name)
        with transaction.atomic():
            row = SpeedMeasurement.objects.select_for_update().filter(representation=name, identity=identity).first()
            if row is None:
                try:
                    with transaction.atomic():
                        row = SpeedMeasurement(representation=name, identity=identity)
                        job_queue(row, send=_dispatch)
                except (IntegrityError, ValidationError):  # another process queued it since the query
                    continue
            elif again and not row.is_active:
                row.status = SpeedMeasurement.Status.QUEUED
                row.heartbeat_at = timezone.now()
                row.error = ""
                row.attempts = 0  # a fresh measurement: the last ones' starts are no lost workers (projects.jobs)
                row.save(update_fields=["status", "heartbeat_at", "error", "attempts"])
                job_send_on_commit(_dispatch, row.pk)
            else:
                continue
        queued.append(row)
    return queued


@cache
def _sample() -> tuple[list[LabeledDoc], list[LabeledDoc]]:
    docs = read_jsonl(DEMO_FILE.read_bytes(), file_name=DEMO_FILE.name)
    return [doc for doc in docs if doc.split == "train"], [doc for doc in docs if doc.split == "test"]


def _measure(measurement: SpeedMeasurement) -> None:
    name = measurement.representation
    language = KNOWN_PIPELINES[name].language if name in KNOWN_PIPELINES else SAMPLE_LANGUAGE
    train_settings = TrainSettings(
        processes=settings.NERLAB_TRAINING_PROCESSES,
        threads=settings.NERLAB_TRAINING_THREADS,
        encoder=encoder_for(name),
        pipeline=pipeline_for(name, language=language),
    )
    train_docs, test_docs = _sample()
    speed = measure_representation_speed(train_docs, test_docs, language=language, settings=train_settings)
    job_attempt_row(measurement).update(
        status=SpeedMeasurement.Status.SUCCEEDED,
        train_words_per_second=speed.train_words_per_second,
        predict_words_per_second=speed.predict_words_per_second,
        predict_words=speed.predict_words,
        host=socket.gethostname()[:255],
        finished_at=timezone.now(),
    )


def speed_measurement_execute(*, measurement_id: int, deferrals: int = 0) -> str:
    """Measure one representation (the Celery task's one service call; ``deferrals``: how often it gave way
    already). Safe to call again: "skipped" when the row is gone, finished or another worker's, "deferred" when
    it gave way, else its final status."""
    if deferrals < GIVE_WAY_AT_MOST and jobs_waiting():
        return _give_way(measurement_id, deferrals=deferrals + 1)
    outcome, measurement = job_claim(
        SpeedMeasurement, measurement_id, error="", train_words_per_second=None, predict_words_per_second=None
    )
    if outcome != "claimed":
        return "skipped"
    assert measurement is not None
    try:
        with job_workdir(f"speed-{measurement.pk}"), job_heartbeat(job_attempt_row(measurement).all):
            _measure(measurement)
    except ValidationError as error:  # the server's configuration changed since the row was queued
        return _fail(measurement, " ".join(error.messages))
    except Exception as error:  # the page shows the row: every failure must land there
        logger.exception("Measuring the speed of %s failed", measurement.representation)
        return _fail(measurement, f"{type(error).__name__}: {error}")
    return SpeedMeasurement.Status.SUCCEEDED


def _give_way(measurement_id: int, *, deferrals: int) -> str:
    with transaction.atomic():
        # Still queued, its sign of life is when its message was sent (projects.jobs): now, and not resent meanwhile.
        if not SpeedMeasurement.objects.filter(pk=measurement_id, status=SpeedMeasurement.Status.QUEUED).update(
            heartbeat_at=timezone.now()
        ):
            return "skipped"
        transaction.on_commit(partial(_dispatch_later, measurement_id, deferrals=deferrals))
    return "deferred"


def _fail(measurement: SpeedMeasurement, message: str) -> str:
    job_finish(measurement, SpeedMeasurement.Status.FAILED, message)
    return SpeedMeasurement.Status.FAILED


def speed_measurements_recover(stale_before: datetime) -> int:
    """The projects.jobs rule for measurements: one silent since ``stale_before`` is queued again or failed."""
    return jobs_recover_lost(SpeedMeasurement, stale_before=stale_before, what="speed measurement", send=_dispatch)

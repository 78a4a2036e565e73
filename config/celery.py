"""The Celery application; settings come from Django's (CELERY_* names).

Every worker also looks for background jobs whose worker stopped (projects.jobs): once when it is ready and then
every ``NERLAB_RECOVERY_INTERVAL_S`` seconds, in a thread of its main process, until it shuts down. When ready, it
also queues a speed measurement of each representation the server offers that has none yet (evaluation.speeds;
``NERLAB_MEASURE_SPEEDS=false`` turns that off).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("nerlab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_recovery: list[Any] = []
logger = logging.getLogger(__name__)


@worker_ready.connect
def _start_job_recovery(**_: Any) -> None:
    from django.conf import settings

    from projects.jobs import RecoveryLoop

    loop = RecoveryLoop(interval_s=settings.NERLAB_RECOVERY_INTERVAL_S)
    loop.start()
    _recovery.append(loop)


@worker_ready.connect
def _measure_representations(**_: Any) -> None:
    """Queue a speed measurement for each representation with none for its present files (evaluation.speeds)."""
    from django.conf import settings

    from evaluation.speeds.services import speed_measurements_request

    if not settings.NERLAB_MEASURE_SPEEDS:
        return
    try:
        speed_measurements_request()
    except Exception:  # a worker that cannot queue them still runs every other job
        logger.exception("Queuing the representations' speed measurements failed")


@worker_shutdown.connect
def _stop_job_recovery(**_: Any) -> None:
    while _recovery:
        _recovery.pop().stop()

"""Background jobs whose worker stopped: one recovery rule for every kind of job, and what triggers it.

Every background job (training runs, imports, learning curves, pre-annotation, analyze jobs) is a row with a last
sign of life: the heartbeat its worker writes while it works (``job_heartbeat``, from a thread, so that a phase that
reports no progress for minutes, such as spaCy initialising a big corpus, still shows the worker alive), or the
time its message was sent while it waits. A
worker killed outright (SIGKILL, out of memory, a machine that went away) writes nothing more; with the default
file broker its message is gone for good, and Redis gives it back only after the visibility timeout, hours later.
So the rows, not the broker, decide:

- a running job silent for longer than its kind's stale age (``NERLAB_JOB_STALE_S``; imports
  ``NERLAB_IMPORT_STALE_S``, as they show no sign of life while they write) lost its worker. It is queued and sent
  again, unless it has already been started ``NERLAB_JOB_ATTEMPTS`` times: then it fails, saying why, and the
  project's queue moves on;
- a queued job whose message was sent longer ago than that and never taken may have lost its message with a
  worker: it is sent again. A duplicate message is harmless: every job is claimed under ``select_for_update``,
  and a message for a job already taken or finished does nothing.

``jobs_recover`` applies the rule to every registered kind (each app registers its own in ``AppConfig.ready``).
It runs when a worker starts, every ``NERLAB_RECOVERY_INTERVAL_S`` seconds in every running worker (a thread of
the worker's main process, so no beat process is needed), and when a job is queued.

A killed worker also leaves its scratch folder behind (a training's model and fold models, megabytes to hundreds of
them with an encoder). Each attempt works in ``job_workdir``, a folder named for its machine and process, so the
same recovery thread removes the folders of this machine's processes that are gone (``job_workdirs_abandoned_remove``).

The steps the jobs with a ``heartbeat_at`` (``projects.models.HeartbeatJob``) share live here too, so each kind
states only what is its own: one active job per project (``job_refuse_while_active``), queuing (``job_queue``), the
claim of an attempt (``job_claim``), the attempt's hold on its row (``job_attempt_row``, ``AttemptWatch``), its end
(``job_finish``) and the recovery rule above (``jobs_recover_lost``). ``jobs_waiting`` says which kinds of job
that someone asked for wait for a worker, so the server's own (speed measurements) can give way to them.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from ner.scratch import scratch_root
from projects.models import HeartbeatJob, Project

logger = logging.getLogger(__name__)

Verdict = Literal["requeue", "fail"]
# What a worker's claim on a job found: it is the worker's now, or gone, or finished, or another worker's.
JobClaim = Literal["claimed", "missing", "finished", "busy"]


@dataclass(frozen=True)
class JobKind:
    """One kind of background job: ``recover`` applies the rule to rows silent since ``stale_before`` and returns
    how many it requeued, failed or sent again."""

    name: str
    recover: Callable[[datetime], int]
    stale_setting: str = "NERLAB_JOB_STALE_S"
    # Whether a job of this kind that someone asked for waits for a worker (``job_waiting``); None for the server's
    # own housekeeping, which gives way to such jobs (``jobs_waiting``).
    waiting: Callable[[], bool] | None = None

    def stale_before(self, now: datetime) -> datetime:
        return now - timedelta(seconds=getattr(settings, self.stale_setting))


_KINDS: dict[str, JobKind] = {}


def job_kind_register(kind: JobKind) -> None:
    _KINDS[kind.name] = kind


def job_waiting(model: type[Model], *, status: str = "queued") -> Callable[[], bool]:
    """A ``JobKind.waiting`` for ``model``: whether any of its rows has ``status`` (sent, not yet taken)."""
    return lambda: model._default_manager.filter(status=status).exists()


def jobs_waiting() -> list[str]:
    """The kinds of job someone asked for that wait for a worker now."""
    return [kind.name for kind in _KINDS.values() if kind.waiting is not None and kind.waiting()]


def job_is_stale(sign_of_life: datetime | None, *, stale_before: datetime) -> bool:
    return sign_of_life is None or sign_of_life < stale_before


def job_stale_before(*, setting: str = "NERLAB_JOB_STALE_S", now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=getattr(settings, setting))


def job_recovery_verdict(*, attempts: int) -> Verdict:
    """Requeue a job that lost its worker, unless it has been started as often as allowed: a job that kills its
    worker every time (say, out of memory) must not take every worker down with it forever."""
    return "requeue" if attempts < settings.NERLAB_JOB_ATTEMPTS else "fail"


def job_lost_reason(*, what: str, attempts: int) -> str:
    times = "once" if attempts == 1 else f"{attempts} times"
    return (
        f"The worker running this {what} stopped without finishing it ({times}; it was killed, ran out of memory "
        "or its machine went away), so it was not started again. Check the worker's log, then start it again."
    )


def jobs_sweep[JobT: Model](
    active: QuerySet[JobT], *, sign_of_life: str, stale_before: datetime, recover: Callable[[JobT], None]
) -> int:
    """Call ``recover`` on each of the ``active`` jobs (queued or running) whose ``sign_of_life`` field is older
    than ``stale_before`` (or empty), and return how many. Each job is locked with ``select_for_update`` and
    checked again in its own transaction, which ``recover`` runs in: one that moved on since the query (a worker
    claimed or finished it) is left alone."""
    stale = Q(**{f"{sign_of_life}__lt": stale_before}) | Q(**{sign_of_life: None})
    touched = 0
    for job_id in active.filter(stale).values_list("pk", flat=True):
        with transaction.atomic():
            job = active.select_for_update().filter(pk=job_id).first()
            if job is None or not job_is_stale(getattr(job, sign_of_life), stale_before=stale_before):
                continue
            recover(job)
        touched += 1
    return touched


@contextmanager
def job_heartbeat(rows: Callable[[], QuerySet[Any]], *, field: str = "heartbeat_at") -> Iterator[None]:
    """While the block runs, write now into ``field`` of ``rows()`` (the job's row, filtered to the attempt that
    owns it) from a thread, every sixth of ``NERLAB_JOB_STALE_S``: the worker's sign of life, whatever it is busy
    with. A process killed outright takes the thread with it, so the heartbeat stops exactly when it should."""
    stop = threading.Event()
    interval_s = settings.NERLAB_JOB_STALE_S / 6

    def beat() -> None:
        try:
            while not stop.wait(interval_s):
                try:
                    rows().update(**{field: timezone.now()})
                except DatabaseError:  # e.g. SQLite busy with the job's own long write: the next beat may pass
                    logger.warning("A job heartbeat could not be written", exc_info=True)
        finally:
            connection.close()  # the thread's own connection

    thread = threading.Thread(target=beat, name="nerlab-job-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        # Not joined: a beat waiting on a lock the job held ends by itself, and writes only to the attempt's row.
        stop.set()


def jobs_recover(*, now: datetime | None = None) -> dict[str, int]:
    """Apply the rule to every kind of job; returns how many jobs of each kind it requeued, failed or resent."""
    moment = now or timezone.now()
    counts: dict[str, int] = {}
    for kind in _KINDS.values():
        try:
            counts[kind.name] = kind.recover(kind.stale_before(moment))
        except Exception:  # one kind's trouble (say, the broker down) must not keep the others from recovering
            logger.exception("Recovering stale %s jobs failed", kind.name)
    recovered = {name: count for name, count in counts.items() if count}
    if recovered:
        logger.warning("Recovered jobs whose worker stopped: %s", recovered)
    return counts


def jobs_recover_on_commit() -> None:
    """Recover once the caller's transaction commits (how queuing a job triggers recovery)."""
    transaction.on_commit(jobs_recover, robust=True)


def job_task(name: str) -> Callable[[Callable[..., Any]], Any]:
    """The Celery task of one kind of job (a primary key in, one service call): its message is acknowledged only
    once the task returns, and given back when its worker dies, so that a job is never lost with its message."""
    return shared_task(acks_late=True, reject_on_worker_lost=True, name=name)


def job_send_on_commit(send: Callable[[Any], None], job_id: Any) -> None:
    """Once the caller's transaction commits, recover (which resends what a lost worker took along), then send
    the job's message (``send(job_id)``): a worker never gets a job it cannot read yet."""
    jobs_recover_on_commit()
    transaction.on_commit(partial(send, job_id))


def job_queue(job: HeartbeatJob, *, send: Callable[[Any], None]) -> None:
    """Check and save a new job's row, and send its message once the caller's transaction commits. Its
    ``heartbeat_at`` is now: a queued job's sign of life is when its message was sent."""
    job.heartbeat_at = timezone.now()
    job.full_clean()
    job.save()
    job_send_on_commit(send, job.pk)


def job_refuse_while_active(model: type[HeartbeatJob], *, project: Project, what: str) -> None:
    """Refuse a second job of a kind in a project while one is queued or running. Call it inside the transaction
    that queues the job: it locks the project's row, so two clicks cannot both find none active."""
    Project.objects.select_for_update().only("pk").get(pk=project.pk)
    if model.objects.filter(project=project, status__in=model.ACTIVE).exists():
        raise ValidationError(f"A {what} of {project.name} is already queued or running: wait for it to finish.")


def job_claim[JobT: HeartbeatJob](
    model: type[JobT], job_id: Any, *, keep_started: bool = False, **reset: Any
) -> tuple[JobClaim, JobT | None]:
    """Take a queued job (one with a ``heartbeat_at``) for a new attempt under ``select_for_update``: running, its
    heartbeat now, one more attempt, and the fields in ``reset`` written (what the last attempt left).
    ``started_at`` becomes now, unless ``keep_started`` keeps the first start of a job that resumes.

    Anything but a queued job is left alone, so a duplicate message does nothing: "missing" (no such row),
    "finished", or "busy" (another worker has it; should that worker die, recovery queues the job again)."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return "missing", None
        if job.status not in model.ACTIVE:
            return "finished", job
        if job.status == model.Status.RUNNING:
            return "busy", job
        now = timezone.now()
        job.status = model.Status.RUNNING
        job.started_at = (job.started_at if keep_started else None) or now
        job.heartbeat_at = now
        job.attempts += 1
        for name, value in reset.items():
            setattr(job, name, value)
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", *reset])
    return "claimed", job


def job_attempt_row[JobT: HeartbeatJob](job: JobT) -> QuerySet[JobT]:
    """The job's row while the attempt ``job`` was claimed for still holds it: empty once recovery gave up on the
    attempt (queued the job again, or failed it), so a superseded worker writes nothing."""
    return type(job).objects.filter(pk=job.pk, status=job.Status.RUNNING, attempts=job.attempts)


def job_finish(job: HeartbeatJob, status: str, error: str = "") -> bool:
    """End the attempt ``job`` was claimed for with ``status``; False when it no longer held the row."""
    return bool(job_attempt_row(job).update(status=status, error=error, finished_at=timezone.now()))


def jobs_recover_lost(
    model: type[HeartbeatJob], *, stale_before: datetime, what: str, send: Callable[[Any], None]
) -> int:
    """The rule for the jobs of ``model`` whose ``heartbeat_at`` is older than ``stale_before``: a running one is
    failed once it has been started ``NERLAB_JOB_ATTEMPTS`` times (``what`` names it in the reason), else queued
    again; a queued one is sent again (``send(pk)``, after commit). Returns how many it touched."""
    active = model.objects.filter(status__in=model.ACTIVE)
    return jobs_sweep(
        active,
        sign_of_life="heartbeat_at",
        stale_before=stale_before,
        recover=partial(_requeue_or_fail, what=what, send=send),
    )


def _requeue_or_fail(job: HeartbeatJob, *, what: str, send: Callable[[Any], None]) -> None:
    now = timezone.now()
    if job.status == job.Status.RUNNING and job_recovery_verdict(attempts=job.attempts) == "fail":
        job.status = job.Status.FAILED
        job.error = job_lost_reason(what=what, attempts=job.attempts)
        job.finished_at = now
    else:
        if job.status == job.Status.RUNNING:
            logger.warning("A %s (%s) lost its worker; queuing it again", what, job.pk)
        job.status = job.Status.QUEUED
        job.heartbeat_at = now
        transaction.on_commit(partial(send, job.pk))
    job.save(update_fields=["status", "error", "finished_at", "heartbeat_at"])


class AttemptWatch:
    """Whether a worker should stop because its attempt no longer holds the job's row (recovery queued the job
    again, or a user cancelled it). ``should_stop`` is asked all the time (by ner's training loops), so it runs
    ``still_held`` (a query) at most every ``interval_s``; a write of the worker's that touched no row (``wrote``)
    tells at once. Once lost, an attempt stays lost."""

    def __init__(self, still_held: Callable[[], bool], *, interval_s: float) -> None:
        self._still_held = still_held
        self._interval_s = interval_s
        self._checked = 0.0
        self.lost = False

    def wrote(self, rows: int) -> None:
        self.lost = self.lost or not rows

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self.lost and now - self._checked >= self._interval_s:
            self._checked = now
            self.lost = not self._still_held()
        return self.lost


WORKDIRS = "nerlab-work"


def _workdirs_here() -> Path:
    """This machine's job folders: one folder per host, so machines sharing a temporary folder never judge each
    other's processes."""
    return Path(tempfile.gettempdir()) / WORKDIRS / socket.gethostname()


@contextmanager
def job_workdir(name: str) -> Iterator[Path]:
    """A scratch folder for one attempt at a job (``name`` says which, e.g. ``run-12``), removed when the block ends.
    Every short-lived folder a training makes inside the block goes in it too (``ner.scratch``). Its name starts with
    this process's id, which is how ``job_workdirs_abandoned_remove`` tells a killed worker's folder from a live one."""
    parent = _workdirs_here()
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{name}-", dir=parent))
    try:
        with scratch_root(folder):
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    # A killed pool process whose parent died too waits as a zombie until init reaps it, which in a container whose
    # first process is not an init may be never: it will not work again.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): a zombie counts as alive, so its folder waits
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def job_workdirs_abandoned_remove() -> int:
    """Remove this machine's job folders whose process has ended (a killed worker's); returns how many. A folder whose
    process id a new process took since stays until that one ends: kept too long, never removed too early."""
    parent = _workdirs_here()
    if not parent.is_dir():
        return 0
    removed = 0
    for folder in parent.iterdir():
        pid, _, _ = folder.name.partition("-")
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


class RecoveryLoop:
    """Runs ``jobs_recover`` at once and then every ``interval_s`` seconds, in a daemon thread of a worker."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nerlab-job-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 30)

    def _run(self) -> None:
        while True:
            close_old_connections()
            try:
                jobs_recover()
            except Exception:  # the loop must outlive a database restart
                logger.exception("Job recovery failed; trying again in %s s", self.interval_s)
            finally:
                connection.close()  # this thread's own connection: not held between sweeps
            try:
                if removed := job_workdirs_abandoned_remove():
                    logger.warning("Removed %s scratch folders of workers that stopped", removed)
            except OSError:
                logger.exception("Removing stopped workers' scratch folders failed")
            if self._stop.wait(self.interval_s):
                return

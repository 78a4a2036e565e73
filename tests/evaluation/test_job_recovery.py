"""Background jobs whose worker stopped (projects.jobs): every kind is queued again or failed with the reason, and
recovery runs when a worker starts, periodically in a running worker, and when a job is queued.

Heartbeats are back-dated in the database instead of waiting for them to go stale. The real worker killed with
SIGKILL is in tests/evaluation/test_worker.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from evaluation import services
from evaluation.models import TrainedModel, TrainingRun
from labeling.imports import import_job_create
from labeling.models import Document, ImportJob
from ner.scratch import scratch_folder
from projects import jobs
from serving.models import AnalyzeJob
from tests.evaluation.conftest import TINY
from tests.labeling.imports_helpers import jsonl

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(hours=1)


@pytest.fixture
def sent_runs(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr("evaluation.tasks.training_run_task.delay", ids.append)
    return ids


def _start(project, user, name, capture):
    with capture(execute=True):
        return services.training_run_start(project=project, user=user, model_name=name, **TINY)


def _worker_died(run: TrainingRun) -> None:
    """The run was claimed, and then its worker vanished without a word: its heartbeat is an hour old."""
    assert services.training_run_claim(run_id=run.pk).outcome == "claimed"
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - LONG_AGO, step=12)


def test_a_training_run_whose_worker_died_is_queued_again_then_failed_with_the_reason(
    trainable, user, sent_runs, settings, django_capture_on_commit_callbacks
):
    settings.NERLAB_JOB_ATTEMPTS = 2
    first = _start(trainable, user, "first", django_capture_on_commit_callbacks)
    second = _start(trainable, user, "second", django_capture_on_commit_callbacks)
    _worker_died(first)

    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_recover()
    first.refresh_from_db()
    assert first.status == "queued" and sent_runs == [first.pk, first.pk]  # sent again, ahead of the second

    _worker_died(first)  # its second start dies too: that was the last one allowed
    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_recover()
    first.refresh_from_db()
    assert first.status == "failed" and first.attempts == 2
    assert "worker running this training stopped without finishing it (2 times" in first.error
    assert sent_runs[-1] == second.pk  # the queue moves on


def test_a_live_run_is_left_alone(trainable, user, sent_runs, django_capture_on_commit_callbacks):
    run = _start(trainable, user, "live", django_capture_on_commit_callbacks)
    assert services.training_run_claim(run_id=run.pk).outcome == "claimed"
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.jobs_recover()["training runs"] == 0
    run.refresh_from_db()
    assert run.status == "running" and sent_runs == [run.pk]


def test_a_worker_given_up_on_writes_nothing_more(trainable, user, sent_runs, django_capture_on_commit_callbacks):
    run = _start(trainable, user, "slow", django_capture_on_commit_callbacks)
    assert services.training_run_claim(run_id=run.pk).outcome == "claimed"
    stale_attempt = TrainingRun.objects.get(pk=run.pk)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_recover()
    assert services.training_run_claim(run_id=run.pk).outcome == "claimed"  # the next attempt has it

    # The old worker was only slow: its progress, its cancel check and its end all find the run no longer its own.
    reporter = services._RunReporter(stale_attempt)
    reporter.phase(TrainingRun.Phase.EVALUATING)
    assert reporter.should_stop()
    assert not services._finish(stale_attempt, TrainingRun.Status.FAILED, "late")
    run.refresh_from_db()
    assert (run.status, run.phase, run.attempts, run.error) == ("running", "training", 2, "")


@pytest.mark.slow
def test_a_run_whose_worker_died_while_saving_leaves_one_model_and_no_stray_files(
    trainable, user, sent_runs, django_capture_on_commit_callbacks
):
    run = _start(trainable, user, "saved", django_capture_on_commit_callbacks)
    _worker_died(run)
    # What a worker killed while saving leaves behind: its rows rolled back, but the files it had stored under the
    # model's id stay (PostgreSQL never gives that id out again, so no later save overwrites them).
    models_root = f"projects/{trainable.pk}/models"
    default_storage.save(f"{models_root}/9999/config.cfg", ContentFile(b"[nlp]"))
    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_recover()
        assert services.training_run_execute(run_id=run.pk) == "claimed"

    run.refresh_from_db()
    model = TrainedModel.objects.get(run=run)
    assert run.status == "succeeded" and run.attempts == 2
    assert default_storage.listdir(models_root)[0] == [str(model.pk)]


def test_cancel_ends_a_stale_run_at_once_and_the_next_run_starts(
    trainable, user, sent_runs, django_capture_on_commit_callbacks
):
    first = _start(trainable, user, "first", django_capture_on_commit_callbacks)
    second = _start(trainable, user, "second", django_capture_on_commit_callbacks)
    _worker_died(first)
    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_cancel(run=first)
    first.refresh_from_db()
    assert first.status == "cancelled" and first.finished_at is not None
    assert sent_runs == [first.pk, second.pk]


def test_a_queued_run_whose_message_was_lost_is_sent_again(
    trainable, user, sent_runs, django_capture_on_commit_callbacks
):
    run = _start(trainable, user, "lost", django_capture_on_commit_callbacks)
    TrainingRun.objects.filter(pk=run.pk).update(dispatched_at=timezone.now() - LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_recover()
    assert sent_runs == [run.pk, run.pk]


def test_queuing_a_run_recovers_stale_runs_first(trainable, user, sent_runs, django_capture_on_commit_callbacks):
    first = _start(trainable, user, "first", django_capture_on_commit_callbacks)
    _worker_died(first)
    _start(trainable, user, "second", django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.status == "queued" and sent_runs == [first.pk, first.pk]


def test_an_import_whose_worker_died_is_run_again(project, user, settings, django_capture_on_commit_callbacks):
    job = import_job_create(
        project=project, user=user, format="jsonl", data=jsonl({"text": "Ada went to Paris."}), file_name="a.jsonl"
    )
    # Imports may be silent for NERLAB_IMPORT_STALE_S (15 minutes) while they write: three minutes is not enough.
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=1, updated_at=timezone.now() - timedelta(minutes=3)
    )
    assert jobs.jobs_recover()["imports"] == 0
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):  # tasks run eagerly here: the import runs again now
        assert jobs.jobs_recover()["imports"] == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.accepted) == ("succeeded", 2, 1)
    assert Document.objects.filter(project=project).count() == 1


class _WorkerKilled(BaseException):
    """What SIGKILL does to a worker, as far as the database can tell: it stops where it is, finishing nothing."""


def test_an_import_whose_worker_died_just_after_writing_reports_the_documents_it_imported(
    project, user, monkeypatch, django_capture_on_commit_callbacks
):
    from labeling import imports

    texts = ["Ada went to Paris.", "Bob went to Rome.", "Cy went to Oslo."]
    job = import_job_create(
        project=project,
        user=user,
        format="jsonl",
        data=jsonl(*({"text": text} for text in texts)),
        file_name="a.jsonl",
    )
    real = imports._import_reading

    def killed_once_written(**kwargs):
        real(**kwargs)
        raise _WorkerKilled  # the documents are committed; nothing after that runs

    monkeypatch.setattr(imports, "_import_reading", killed_once_written)
    with pytest.raises(_WorkerKilled):
        imports.import_job_execute(job_id=job.pk)
    monkeypatch.setattr(imports, "_import_reading", real)
    assert Document.objects.filter(project=project).count() == 3

    # Were it still running, the next attempt would find the file's documents already there and report "3
    # duplicates, nothing imported" for the import that wrote them.
    ImportJob.objects.filter(pk=job.pk, status="running").update(updated_at=timezone.now() - LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):  # a stale import is run again, eagerly here
        jobs.jobs_recover()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.accepted, job.duplicates) == ("succeeded", 1, 3, 0)
    assert imports.import_job_report(job=job).written
    assert Document.objects.filter(project=project).count() == 3


def test_an_import_that_keeps_losing_its_worker_fails_saying_nothing_was_written(project, user, settings):
    settings.NERLAB_JOB_ATTEMPTS = 1
    job = import_job_create(project=project, user=user, format="jsonl", data=jsonl({"text": "x"}), file_name="a.jsonl")
    ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1, updated_at=timezone.now() - LONG_AGO)
    jobs.jobs_recover()
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert "stopped without finishing it (once" in job.error and "Nothing was written." in job.error


def test_an_analyze_job_whose_worker_died_is_queued_again_then_failed_in_azures_shape(
    user, settings, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[str] = []
    monkeypatch.setattr("serving.tasks.analyze_job_task.delay", sent.append)
    task = {"taskName": "t", "projectName": "p", "deploymentName": "d", "stringIndexType": "Utf16CodeUnit"}
    job = AnalyzeJob.objects.create(
        user=user, api_version="2023-04-01", request={"documents": [], "tasks": [task]}, expires_at=timezone.now()
    )
    AnalyzeJob.objects.filter(pk=job.pk).update(status="running", attempts=1, updated_at=timezone.now() - LONG_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.jobs_recover()
    job.refresh_from_db()
    assert job.status == "notStarted" and sent == [str(job.pk)]

    settings.NERLAB_JOB_ATTEMPTS = 1
    AnalyzeJob.objects.filter(pk=job.pk).update(status="running", updated_at=timezone.now() - LONG_AGO)
    jobs.jobs_recover()
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.task_results[0]["status"] == "failed"
    assert "stopped without finishing it" in job.task_results[0]["error"]["message"]


def test_one_kind_failing_does_not_stop_the_others(monkeypatch):
    def broken(stale_before):
        raise RuntimeError("broker down")

    monkeypatch.setitem(jobs._KINDS, "broken", jobs.JobKind("broken", broken))
    counts = jobs.jobs_recover()
    assert "broken" not in counts and {"training runs", "imports", "analyze jobs"} <= set(counts)


def test_a_worker_recovers_when_it_starts_and_then_periodically(monkeypatch, settings):
    from config import celery

    calls = threading.Semaphore(0)
    sweeps = threading.Semaphore(0)
    monkeypatch.setattr(jobs, "jobs_recover", lambda: calls.release())
    monkeypatch.setattr(jobs, "job_workdirs_abandoned_remove", lambda: sweeps.release() and 0)
    settings.NERLAB_RECOVERY_INTERVAL_S = 0.01
    celery._start_job_recovery()  # what the worker_ready signal calls
    try:
        for _ in range(3):  # once at start, then again and again
            assert calls.acquire(timeout=60)
            assert sweeps.acquire(timeout=60)  # and each time, the stopped workers' scratch folders
    finally:
        celery._stop_job_recovery()  # what worker_shutdown calls
    assert not celery._recovery


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()  # reaped: no process has this id now
    return process.pid


def test_a_stopped_workers_scratch_folders_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    here = tmp_path / jobs.WORKDIRS / socket.gethostname()
    dead = here / f"{_dead_pid()}-run-7-abcd"
    (dead / "model" / "fold-1").mkdir(parents=True)
    (dead / "model" / "fold-1" / "weights.bin").write_bytes(b"x" * 1000)
    live = here / f"{os.getpid()}-run-8-efgh"
    live.mkdir()
    # Another machine's folders (a temporary folder shared between hosts): its process ids are not this machine's.
    elsewhere = tmp_path / jobs.WORKDIRS / "another-host" / f"{_dead_pid()}-run-9-ijkl"
    elsewhere.mkdir(parents=True)
    assert jobs.job_workdirs_abandoned_remove() == 1
    assert not dead.exists() and live.is_dir() and elsewhere.is_dir()
    assert jobs.job_workdirs_abandoned_remove() == 0


def test_a_killed_pool_process_left_as_a_zombie_counts_as_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", ""])
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie, as under a non-init
    try:
        folder = tmp_path / jobs.WORKDIRS / socket.gethostname() / f"{process.pid}-curve-3-50-abcd"
        folder.mkdir(parents=True)
        assert jobs.job_workdirs_abandoned_remove() == 1
        assert not folder.exists()
    finally:
        process.wait()


def test_a_job_folder_holds_its_trainings_scratch_folders_and_goes_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError), jobs.job_workdir("run-5") as folder:
        assert folder.parent == tmp_path / jobs.WORKDIRS / socket.gethostname()
        assert folder.name.startswith(f"{os.getpid()}-run-5-")
        with scratch_folder("nerlab-folds-") as scratch:
            assert scratch.parent == folder
        raise RuntimeError("the job failed")
    assert not folder.exists()
    with scratch_folder("nerlab-folds-") as outside:
        assert outside.parent == tmp_path  # no job: the system's temporary folder


def test_a_training_run_makes_every_folder_inside_its_job_folder(
    trainable, user, sent_runs, tmp_path, monkeypatch, settings
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings.NERLAB_CALIBRATION_FOLDS = 2  # the tiny project's dev side is small: fold models, in a scratch folder
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def spying_mkdtemp(*args, **kwargs):
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", spying_mkdtemp)
    run = services.training_run_start(project=trainable, user=user, model_name="m", **TINY)
    services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    job_folder, *inside = made
    assert job_folder.name.startswith(f"{os.getpid()}-run-{run.pk}-")
    assert any(folder.name.startswith("nerlab-folds-") for folder in inside)
    assert all(folder.parent == job_folder for folder in inside)
    assert list((tmp_path / jobs.WORKDIRS / socket.gethostname()).iterdir()) == []


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it must see the row
def test_a_heartbeat_thread_keeps_a_busy_job_alive_whatever_it_is_doing(project, user, settings):
    from labeling.imports import _own

    settings.NERLAB_JOB_STALE_S = 0.06  # a beat every 10 ms
    job = import_job_create(project=project, user=user, format="jsonl", data=jsonl({"text": "x"}), file_name="a.jsonl")
    silent_since = timezone.now() - LONG_AGO
    ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1, updated_at=silent_since)
    job.refresh_from_db()
    with jobs.job_heartbeat(lambda: _own(job), field="updated_at"):
        deadline = time.monotonic() + 120  # a bound on a hang only
        while ImportJob.objects.get(pk=job.pk).updated_at == silent_since:
            assert time.monotonic() < deadline, "no heartbeat was written"
            time.sleep(0.01)
    settings.NERLAB_IMPORT_STALE_S = 3600
    assert jobs.jobs_recover()["imports"] == 0
    assert ImportJob.objects.get(pk=job.pk).status == "running"

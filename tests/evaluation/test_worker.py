"""Training through a real Celery worker process: the broker, the task, the on-commit dispatch and the database.

The worker runs ``celery -A config worker`` with the local settings, pointed at this test's database (SQLite file
or PostgreSQL, from DATABASE_URL), media folder and broker (the SQLAlchemy file broker unless CELERY_BROKER_URL
names another, e.g. redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import pytest
from django.conf import settings
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from evaluation import services
from evaluation.models import Evaluation, TrainedModel, TrainingRun
from projects import jobs
from tests.evaluation.conftest import TINY, make_trainable
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if "postgresql" in db["ENGINE"]:
        auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
        host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{db['NAME']}"
    pytest.skip(f"no worker test for {db['ENGINE']}")
    raise AssertionError


def _reset_connections() -> None:
    # Celery caches its broker connection and producer pools on first use; drop them so the URL set here is used
    # (and the next test gets its own again).
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    # kombu keeps producer pools per connection in a process-wide registry; a closed one must not be reused.
    kombu.pools.reset()


class Worker:
    """A Celery worker process (``celery -A config worker``, the whole of it in its own process group) on this
    test's database and broker, which a test can kill outright and start again."""

    def __init__(self, tmp_path: Path, broker: str, pool: str = "solo") -> None:
        self.log_path = tmp_path / "worker.log"
        self.temp_dir = tmp_path / "worker-tmp"
        self.temp_dir.mkdir(exist_ok=True)
        self.pool = pool
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "NERLAB_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "NERLAB_DATA_DIR": str(tmp_path / "data"),
            # Its scratch folders where a test can see them, apart from other processes' on this machine.
            "TMPDIR": str(self.temp_dir),
            "NERLAB_TRAINING_THREADS": "1",
            "DJANGO_LOG_LEVEL": "WARNING",
            # Measuring every representation when it starts would only delay these jobs (test_speeds.py has its own).
            "NERLAB_MEASURE_SPEEDS": "false",
            # The worker's own modules are this checkout's, whichever copy of nerlab the interpreter has installed.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"\n===== worker start {self.starts} =====\n")
            log.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={self.pool}",
                    "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: SIGKILL reaches the pool's children too
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the whole worker: no shutdown handler runs, nothing is acknowledged or given back."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture
def broker(tmp_path):
    """The broker the suite runs with: the default SQLAlchemy file broker, or CELERY_BROKER_URL (e.g. Redis).
    The test process sends real (non-eager) tasks to it."""
    url = os.environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    if url.startswith("redis"):
        import redis

        try:
            redis.Redis.from_url(url).flushdb()  # a leftover message from an earlier run must not be trained
        except redis.exceptions.ConnectionError:
            pytest.skip(f"Redis is not reachable at {url}")
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    _reset_connections()
    app.conf.task_always_eager, app.conf.broker_url = False, url
    try:
        yield url
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        _reset_connections()


@pytest.fixture
def worker(tmp_path, broker):
    process = Worker(tmp_path, broker)
    process.start()
    try:
        yield process.log_path
    finally:
        process.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_training_through_a_real_worker(worker):
    user = UserFactory(username="worker-owner")
    project = ProjectFactory(name="worker-project")
    MembershipFactory(project=project, user=user)
    make_trainable(project, user)

    first = services.training_run_start(project=project, user=user, model_name="w1", **TINY)
    second = services.training_run_start(project=project, user=user, model_name="w2", **{**TINY, "seed": 4})

    deadline = time.monotonic() + 180
    seen_running_together = False
    while time.monotonic() < deadline:
        statuses = dict(TrainingRun.objects.filter(project=project).values_list("pk", "status"))
        if list(statuses.values()).count("running") > 1:
            seen_running_together = True
        if all(status in TrainingRun.FINISHED for status in statuses.values()):
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"the worker did not finish in time; its log:\n{worker.read_text()[-4000:]}")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("succeeded", "succeeded"), (first.error, second.error)
    assert not seen_running_together
    assert second.started_at >= first.finished_at  # one training at a time: the second waited for the first
    model = TrainedModel.objects.get(run=first)
    evaluation = Evaluation.objects.get(model=model)
    assert evaluation.report["documents"] == 4
    assert evaluation.predictions.count() == 4


# The killed-worker test: enough steps that a kill can land at a random one, few enough that 20 kills stay cheap.
KILLS = 20
KILL_STEPS = 60
WAIT_S = 300  # a generous bound on every wait for a condition: a busy CI machine is slow, never this slow


def _wait_for(condition, what: str, worker: Worker):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"waited {WAIT_S} s for {what}; the worker's log:\n{worker.log_tail()}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_training_heals(tmp_path, broker):
    """SIGKILL the whole worker 20 times at random points of a training, start it again each time: every run ends
    succeeded (or failed, saying its worker kept dying) and the queue behind it moves on, with the broker's message
    lost (the file broker) or held back for hours (Redis' visibility timeout)."""
    user = UserFactory(username="kill-owner")
    project = ProjectFactory(name="kill-project")
    MembershipFactory(project=project, user=user)
    make_trainable(project, user)
    settings_ = {**TINY, "max_steps": KILL_STEPS}
    rng = random.Random(20)
    worker = Worker(tmp_path, broker, pool="prefork")
    names = iter(range(1, 1000))

    def models_held() -> int:
        return TrainedModel.objects.filter(project=project).count()

    def queue_one() -> None:
        # A project keeps at most limits.TRAINED_MODELS_MAX models: make room as a user would, oldest first.
        for model in TrainedModel.objects.filter(project=project).order_by("pk")[: max(0, models_held() - 6)]:
            services.trained_model_delete(model=model)
        services.training_run_start(project=project, user=user, model_name=f"k{next(names)}", **settings_)

    def at_random_step(target: int) -> bool:
        runs = TrainingRun.objects.filter(project=project)
        if runs.filter(status__in=TrainingRun.ACTIVE).count() < 2:
            queue_one()  # always one waiting behind the running one
        running = runs.filter(status="running").first()
        return running is not None and (running.step >= target or running.phase != TrainingRun.Phase.TRAINING)

    def recovered(lost: list[tuple[int, int]]) -> bool:
        return not any(
            TrainingRun.objects.filter(pk=pk, status="running", attempts=attempts).exists() for pk, attempts in lost
        )

    def scratch_folders() -> list[str]:
        return [folder.name for folder in worker.temp_dir.glob(f"{jobs.WORKDIRS}/*/*")]

    queue_one()
    worker.start()
    lost_runs = 0
    left_behind = 0
    try:
        for _ in range(KILLS):
            target = rng.randrange(KILL_STEPS)
            _wait_for(partial(at_random_step, target), f"a run at step {target}", worker)
            worker.kill()
            left_behind += bool(scratch_folders())
            # Nothing else will move a run it was training: the worker is gone and (file broker) so is its message.
            # Recovery takes it for dead once its heartbeat is older than NERLAB_JOB_STALE_S: say that time passed.
            stuck = TrainingRun.objects.filter(project=project, status="running")
            lost = list(stuck.values_list("pk", "attempts"))
            stuck.update(heartbeat_at=timezone.now() - timedelta(hours=1))
            lost_runs += len(lost)
            worker.start()  # recovery runs as it starts
            _wait_for(partial(recovered, lost), f"runs {lost} to be recovered", worker)

        def all_finished() -> bool:
            return not TrainingRun.objects.filter(project=project, status__in=TrainingRun.ACTIVE).exists()

        _wait_for(all_finished, "every run to finish", worker)
    finally:
        worker.stop()  # a graceful stop: the recovery thread's sweep at the last start has ended
    # A kill leaves the run's scratch folder (its model, its fold models); the next start removed it.
    assert left_behind >= 1
    assert scratch_folders() == []

    runs = list(TrainingRun.objects.filter(project=project).order_by("created_at", "id"))
    outcomes = Counter(run.status for run in runs)
    assert set(outcomes) <= {"succeeded", "failed"}, outcomes
    for run in runs:
        if run.status == "failed":
            assert "stopped without finishing it" in run.error, run.error
            assert run.attempts == django_settings.NERLAB_JOB_ATTEMPTS
        else:
            assert run.error == "" and run.percent == 100
    for model in TrainedModel.objects.filter(project=project):
        assert model.evaluation.predictions.count() == 4
    assert runs[-1].status == "succeeded"  # the queue kept moving: the run queued behind the last kill trained
    assert lost_runs >= KILLS - 2  # nearly every kill hit a training (one may land just after a run ended)
    # Every lost training was started once more, except a run's last allowed start, which failed instead.
    assert sum(run.attempts for run in runs) == outcomes["succeeded"] + lost_runs
    # One training at a time per project, kills or not: each run started after the one before it had ended.
    for before, after in itertools.pairwise(runs):
        assert after.started_at >= before.finished_at

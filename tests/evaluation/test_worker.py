"""Training through a real Celery worker process: the broker, the task, the on-commit dispatch and the database.

The worker runs ``celery -A config worker`` with the local settings, pointed at this test's database (SQLite file
or PostgreSQL, from DATABASE_URL), media folder and broker (the SQLAlchemy file broker unless CELERY_BROKER_URL
names another, e.g. redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import kombu.pools
import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from evaluation import services
from evaluation.models import Evaluation, TrainedModel, TrainingRun
from tests.evaluation.conftest import TINY, make_trainable
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

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


@pytest.fixture
def worker(tmp_path):
    """A Celery worker process on this test's database; the test process sends real (non-eager) tasks to it."""
    broker = os.environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "NERLAB_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "NERLAB_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    if broker.startswith("redis"):
        import redis

        try:
            redis.Redis.from_url(broker).flushdb()  # a leftover message from an earlier run must not be trained
        except redis.exceptions.ConnectionError:
            pytest.skip(f"Redis is not reachable at {broker}")
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    _reset_connections()
    app.conf.task_always_eager, app.conf.broker_url = False, broker
    try:
        yield tmp_path / "worker.log"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        app.conf.task_always_eager, app.conf.broker_url = saved
        _reset_connections()


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

"""The production deployment on two machines: the web server on one host, the Celery worker on another.

Three network namespaces stand for three machines: ``web`` (gunicorn), ``worker`` (``celery worker``) and
``storage`` (moto's S3-compatible server). They share nothing but the network: PostgreSQL and Redis of this machine
(reached through a forwarder on the bridge's gateway address) and the bucket. Each host has its own data and
temporary folders. Everything runs with the production settings and is started the way the README's *Production*
section tells an operator; the test process is the user, calling the REST API from outside.

Needs root (namespaces and veth pairs), PostgreSQL and Redis: ``make test-postgres`` (DATABASE_URL=postgres://...,
CELERY_BROKER_URL=redis://...; alone: ``make test-postgres PYTEST_ARGS=tests/deploy``). Skipped with the reason
otherwise; ``.ci/run`` runs it as root with NERLAB_TEST_TWO_HOSTS=required, which turns a skip into a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from ner import predict as ner_predict
from ner.formats.jsonl import write_jsonl
from ner.types import LabeledDoc
from nerlab_client import NerlabClient, TrainingFailed
from tests.deploy import hosts
from tests.ner.synthetic_docs import sentence

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Generous bounds, not expectations: each wait ends as soon as its condition holds.
STARTUP_S = 300
TRAINING_S = 600
BUCKET = "nerlab-files"
MANAGE = [sys.executable, "manage.py"]


@dataclass(frozen=True)
class Services:
    database_url: str
    broker_url: str


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=10):
            return True
    except OSError:
        return False


def _cannot_run(reason: str) -> None:
    """Skip, with the reason, unless this run must include the test (``.ci/run`` sets NERLAB_TEST_TWO_HOSTS)."""
    if os.environ.get("NERLAB_TEST_TWO_HOSTS") == "required":
        pytest.fail(f"NERLAB_TEST_TWO_HOSTS=required, but {reason}")
    pytest.skip(reason)


@pytest.fixture
def services() -> Services:
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not broker_url.startswith("redis://"):
        _cannot_run(
            "the two-host test runs on PostgreSQL and Redis: `make test-postgres` "
            "(DATABASE_URL=postgres://..., CELERY_BROKER_URL=redis://...)"
        )
    if os.geteuid() != 0:
        _cannot_run("the two-host test needs root for network namespaces and veth pairs (.ci/run runs as root)")
    if shutil.which("ip") is None:
        _cannot_run("the two-host test needs `ip` (iproute2) for network namespaces")
    if not _reachable(database_url, 5432):
        _cannot_run(f"PostgreSQL is not reachable at {urlsplit(database_url).netloc}")
    if not _reachable(broker_url, 6379):
        _cannot_run(f"Redis is not reachable at {urlsplit(broker_url).netloc}")
    return Services(database_url=database_url, broker_url=broker_url)


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request of this test goes to the project's own hosts, never through a proxy from the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def network(services: Services, direct: None) -> Iterator[hosts.Network]:
    number = os.getpid() % 250
    try:
        network = hosts.Network(tag=str(number), subnet=number)
    except hosts.HostsUnavailable as error:
        _cannot_run(f"network namespaces cannot be made here: {error}")
    try:
        yield network
    finally:
        network.close()


@pytest.fixture
def forwarder() -> Iterator[hosts.TcpForwarder]:
    forwarder = hosts.TcpForwarder()
    try:
        yield forwarder
    finally:
        forwarder.close()


@pytest.fixture
def database(services: Services) -> Iterator[str]:
    """A fresh database beside the suite's (same server), dropped afterwards: the URL on this machine."""
    import psycopg

    parts = urlsplit(services.database_url)
    name = f"{parts.path.lstrip('/') or 'nerlab'}_two_hosts"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # left by an interrupted run
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker(services: Services) -> str:
    import redis

    # A message left by an interrupted run must not be worked on.
    redis.Redis.from_url(services.broker_url).flushdb()
    return services.broker_url


def _through(url: str, forwarder: hosts.TcpForwarder, gateway: str, default_port: int) -> str:
    """``url`` as the hosts reach it: the same service, through the forwarder on the gateway address."""
    parts = urlsplit(url)
    port = forwarder.forward(gateway, (parts.hostname or "127.0.0.1", parts.port or default_port))
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{gateway}:{port}" if credentials else f"{gateway}:{port}"))


def _host_env(base: dict[str, str], folder: Path) -> dict[str, str]:
    """A machine's environment: the shared settings, and data and temporary folders of its own."""
    for name in ("data", "tmp"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "TMPDIR": str(folder / "tmp"),
        "NERLAB_DATA_DIR": str(folder / "data"),
        **base,
    }
    if "PYTHONPATH" in os.environ:  # a checkout that is not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _wait_for[T](
    condition: Callable[[], T | None],
    what: str,
    *,
    process: subprocess.Popen[str],
    log: Path,
    bound_s: float = STARTUP_S,
) -> T:
    """Poll ``condition`` until it returns something; fail with the log if the process ends or the bound passes."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what}: the process ended ({process.returncode}); its log:\n{log.read_text()[-6000:]}")
        result = condition()
        if result is not None:
            return result
        time.sleep(0.5)
    pytest.fail(f"{what}: not after {bound_s:.0f} s; the log:\n{log.read_text()[-6000:]}")


def _answers(url: str, headers: dict[str, str] | None = None) -> bool | None:
    """True once ``url`` answers 200; None while nothing listens there yet. Any other answer is a failure."""
    try:
        response = httpx.get(url, headers=headers, timeout=30)
    except httpx.TransportError:
        return None
    assert response.status_code == 200, f"{url} answered {response.status_code}: {response.text[:2000]}"
    return True


class _BehindTlsProxy(httpx.HTTPTransport):
    """What the TLS-terminating proxy in front of gunicorn adds: production settings redirect plain HTTP."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["X-Forwarded-Proto"] = "https"
        return super().handle_request(request)


def _labelled_file() -> bytes:
    """16 tagged sentences, 4 of them in the test set: trains in seconds."""
    docs = []
    for index in range(16):
        text, spans = sentence(index)
        split = "test" if index % 4 == 0 else "train"
        docs.append(LabeledDoc(text=text, spans=spans, name=f"trip{index:02d}.txt", split=split))
    return write_jsonl(docs)


def _s3(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="nerlab", aws_secret_access_key="x"
    )


@pytest.fixture
def bucket(network: hosts.Network, tmp_path: Path) -> Iterator[str]:
    """An S3-compatible server on a storage host of its own with the operator's bucket made; its endpoint URL."""
    storage = network.add_host("storage")
    log_path = tmp_path / "storage.log"
    with log_path.open("w") as log:
        moto = hosts.start(
            storage,
            [sys.executable, "-m", "moto.server", "-H", "0.0.0.0", "-p", "9000"],
            env=_host_env({}, tmp_path / "storage"),
            cwd=ROOT,
            log=log,
        )
    try:
        endpoint = f"http://{storage.address}:9000"
        _wait_for(lambda: _answers(f"{endpoint}/moto-api/"), "the S3 server", process=moto, log=log_path)
        _s3(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        hosts.stop(moto)


@dataclass
class Machines:
    web: hosts.Host
    envs: dict[str, dict[str, str]]
    worker_process: subprocess.Popen[str]
    worker_log: Path


@pytest.fixture
def machines(
    tmp_path: Path, network: hosts.Network, forwarder: hosts.TcpForwarder, database: str, broker: str, bucket: str
) -> Iterator[Machines]:
    """A web host running gunicorn and a worker host running ``celery worker``, set up as the README says."""
    web, worker = network.add_host("web"), network.add_host("worker")
    shared = {  # the same on every host
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": web.address,
        "DATABASE_URL": _through(database, forwarder, network.gateway, 5432),
        "CELERY_BROKER_URL": _through(broker, forwarder, network.gateway, 6379),
        "NERLAB_STORAGE": "s3",
        "NERLAB_S3_BUCKET": BUCKET,
        "NERLAB_S3_ENDPOINT_URL": bucket,
        "NERLAB_S3_ACCESS_KEY": "nerlab",
        "NERLAB_S3_SECRET_KEY": "x",
        "NERLAB_S3_REGION": "us-east-1",
    }
    envs = {
        # Every upload is queued for the worker, so the upload too crosses hosts: the web host stores the file in
        # the bucket, the worker reads and imports it.
        "web": _host_env({**shared, "NERLAB_IMPORT_ASYNC_DOCUMENTS": "1"}, tmp_path / "web"),
        "worker": _host_env(shared, tmp_path / "worker"),
    }
    hosts.run(web, [*MANAGE, "migrate", "--noinput"], env=envs["web"], cwd=ROOT)
    hosts.run(web, [*MANAGE, "collectstatic", "--noinput"], env=envs["web"], cwd=ROOT)

    celery = [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--loglevel", "INFO"]
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "serving/gunicorn.conf.py", "--bind", "0.0.0.0:8000",
                "config.wsgi"]  # fmt: skip
    worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
    processes: list[subprocess.Popen[str]] = []
    try:
        with worker_log.open("w") as log:
            processes.append(hosts.start(worker, celery, env=envs["worker"], cwd=ROOT, log=log))
        with web_log.open("w") as log:
            processes.append(hosts.start(web, gunicorn, env=envs["web"], cwd=ROOT, log=log))
        _wait_for(
            lambda: _answers(f"http://{web.address}:8000/accounts/login/", {"X-Forwarded-Proto": "https"}),
            "the web server",
            process=processes[1],
            log=web_log,
        )
        yield Machines(web=web, envs=envs, worker_process=processes[0], worker_log=worker_log)
    finally:
        for process in reversed(processes):
            hosts.stop(process)


def _download_model(endpoint: str, model_id: int, into: Path) -> Path:
    """The model's files as the worker stored them in the bucket."""
    s3 = _s3(endpoint)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="projects/").get("Contents", [])]
    (meta,) = (key for key in keys if key.endswith(f"/models/{model_id}/meta.json"))
    prefix = meta.removesuffix("meta.json")
    for key in keys:
        if key.startswith(prefix):
            target = into / key.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(BUCKET, key, str(target))
    return into


def test_upload_train_deploy_and_predict_across_two_hosts(machines: Machines, bucket: str, tmp_path: Path) -> None:
    web, env = machines.web, machines.envs["web"]
    # "--password=..." in one argument: a token may start with "-", which argparse would read as an option.
    hosts.run(web, [*MANAGE, "create_user", "operator", f"--password={secrets.token_urlsafe(16)}"], env=env, cwd=ROOT)
    key = hosts.run(web, [*MANAGE, "create_api_key", "--user", "operator"], env=env, cwd=ROOT).strip().splitlines()[-1]
    base_url = f"http://{web.address}:8000"
    api = httpx.Client(
        base_url=f"{base_url}/api/v1/",
        headers={"Authorization": f"Api-Key {key}"},
        transport=_BehindTlsProxy(),
        timeout=120,
    )
    with api, NerlabClient(base_url, key, timeout=120, transport=_BehindTlsProxy()) as client:
        client.create_project("trips", language="en")

        queued = api.post(
            "projects/trips/imports/",
            data={"format": "jsonl", "create_missing_types": "true"},
            files={"file": ("trips.jsonl", _labelled_file(), "application/x-ndjson")},
        )
        assert queued.status_code == 202, queued.text  # stored in the bucket, queued for the worker host

        def imported() -> dict[str, Any] | None:
            job: dict[str, Any] = api.get(f"projects/trips/imports/{queued.json()['id']}/").raise_for_status().json()
            return job if job["status"] in ("succeeded", "failed") else None

        job = _wait_for(imported, "the import", process=machines.worker_process, log=machines.worker_log)
        assert (job["status"], job["accepted"], job["rejected"]) == ("succeeded", 16, 0), job
        assert {entity_type["name"] for entity_type in client.entity_types("trips")} == {"PERSON", "CITY"}

        run = client.train("trips", model_name="first", seed=3, max_steps=30, max_epochs=0, patience=0)
        try:
            finished = client.wait_for_training("trips", run["id"], poll_s=1, timeout_s=TRAINING_S)
        except (TimeoutError, TrainingFailed) as error:
            pytest.fail(f"{error}; the worker's log:\n{machines.worker_log.read_text()[-6000:]}")
        evaluation = client.get_evaluation("trips", finished["model_id"])["evaluation"]
        assert evaluation["documents"] == 4  # the file's test split, evaluated on the worker host

        assert client.deploy("trips", "production", model="first")["model"] == "first"
        text = "😀 Yesterday Alice Smith flew to Berlin for meeting number 3."
        (served,) = client.predict("trips", "production", [text])

    # The web host served the model the worker host trained and stored: loaded from the bucket here, it finds the
    # same entities with the same scores.
    model = ner_predict.load(_download_model(bucket, finished["model_id"], tmp_path / "model"))
    (expected,) = model.predict([text], with_confidence=True)
    assert expected, "the model found nothing in a sentence like its training data: nothing to compare"
    assert [(e["offset"], e["offset"] + e["length"], e["category"]) for e in served["entities"]] == [
        (span.start, span.end, span.label) for span in expected
    ]
    # The API gives scores to 4 decimals.
    assert [e["confidenceScore"] for e in served["entities"]] == [round(span.confidence, 4) for span in expected]
    # Nothing was kept on either host's disk: uploads and models live in the bucket.
    for host in ("web", "worker"):
        media = Path(machines.envs[host]["NERLAB_DATA_DIR"]) / "media"
        assert not media.exists() or not any(media.rglob("*")), f"{host} wrote files to its disk"

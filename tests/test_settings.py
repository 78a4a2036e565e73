"""Production configuration: refuses to start half-configured, passes Django's deploy checks, and picks
PostgreSQL, Redis and shared storage from the environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "NERLAB_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DJANGO_ALLOWED_HOSTS="nerlab.example.org")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must list" in result.stderr


def test_production_passes_the_deploy_checks_with_a_real_secret():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="nerlab.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_environment_selects_postgresql_redis_and_s3():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE']);print(s.DATABASES['default']['HOST']);"
        "print(s.CELERY_BROKER_URL);print(s.STORAGES['default']['BACKEND'])"
    )
    result = _manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="nerlab.example.org",
        DATABASE_URL="postgres://nerlab:pw@db.internal:5432/nerlab",
        CELERY_BROKER_URL="redis://queue.internal:6379/0",
        NERLAB_STORAGE="s3",
        NERLAB_S3_BUCKET="nerlab-files",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "db.internal",
        "redis://queue.internal:6379/0",
        "storages.backends.s3.S3Storage",
    ]


def test_defaults_need_no_server():
    code = "from django.conf import settings as s;print(s.DATABASES['default']['ENGINE']);print(s.CELERY_BROKER_URL)"
    result = _manage("shell", "--no-imports", "-c", code, DJANGO_SETTINGS_MODULE="config.settings.local")
    assert result.returncode == 0, result.stderr
    engine, broker = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker.startswith("sqla+sqlite:///")

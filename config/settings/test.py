"""Settings for the test suite: fast hashing, files under a temporary folder, tasks run in-process.

DATABASE_URL and CELERY_BROKER_URL still apply, so the same suite runs on PostgreSQL and Redis.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
SECRET_KEY = "test-only-not-secret"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="nerlab-test-media-"))
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["OPTIONS"].pop("init_command", None)  # noqa: F405
LOGGING = {**LOGGING, "handlers": {}, "root": {"level": "WARNING"}}  # noqa: F405
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="nerlab-test-static-"))
WHITENOISE_USE_FINDERS = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the real-worker test (tests/evaluation/test_worker.py) starts a Celery worker process,
    # which must see the test database the test process writes.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.mkdtemp(prefix="nerlab-test-db-")) / "test.sqlite3")
    }

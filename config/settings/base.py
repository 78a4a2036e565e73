"""Settings shared by every environment. The environment is read here and nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from ner import encoder_packages, pipelines
from ner.calibration import CALIBRATION_FOLDS
from ner.limits import JSON_BYTES_MAX, JSON_DEPTH_MAX

# BASE_DIR holds what nerlab ships besides code (templates/, static/, demo/): the repository root in a checkout, the
# installed config package for a wheel (pyproject.toml's package-dir puts them there). The folder that gets .env and
# the default data/ is the checkout, or for an installed nerlab the folder it runs in, never site-packages.
_CONFIG_DIR = Path(__file__).resolve().parent.parent
if (_CONFIG_DIR / "templates").is_dir():
    BASE_DIR = _CONFIG_DIR
    _HOME_DIR = Path.cwd()
else:
    BASE_DIR = _HOME_DIR = _CONFIG_DIR.parent
DATA_DIR = Path(environ.Env().str("NERLAB_DATA_DIR", default=str(_HOME_DIR / "data")))

env = environ.Env(
    DJANGO_DEBUG=(bool, False),
    DJANGO_ALLOWED_HOSTS=(list, []),
    DJANGO_CSRF_TRUSTED_ORIGINS=(list, []),
    NERLAB_SELF_REGISTRATION=(bool, False),
)
env_file = _HOME_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG")
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_htmx",
    "projects",
    "labeling",
    "evaluation",
    "serving",
    "portability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the login view's answer and turns a locked-out attempt into 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "projects.context_processors.nerlab",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'nerlab.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout rides out short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A fresh checkout has no data/ yet, and even `manage.py check` opens the database (JSONField support).
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:project_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("NERLAB_MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "media/"

# Uploads, model files and exports go through Django's storage API, so a shared volume (MEDIA_ROOT on NFS)
# or an S3-compatible bucket serves several web processes and workers on several machines alike.
_storage_backend = env.str("NERLAB_STORAGE", default="filesystem")
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env.str("NERLAB_S3_BUCKET", default=""),
                "endpoint_url": env.str("NERLAB_S3_ENDPOINT_URL", default="") or None,
                "access_key": env.str("NERLAB_S3_ACCESS_KEY", default="") or None,
                "secret_key": env.str("NERLAB_S3_SECRET_KEY", default="") or None,
                "region_name": env.str("NERLAB_S3_REGION", default="") or None,
                "default_acl": None,
                "querystring_auth": True,
            },
        }
        if _storage_backend == "s3"
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "config.staticfiles.StaticFilesStorage"},
}

# Uploaded files are read whole to validate them before anything is written.
NERLAB_UPLOAD_MAX_BYTES = env.int("NERLAB_UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = NERLAB_UPLOAD_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10_000
# Any JSON read (request bodies, uploaded files, archive entries) larger or nested deeper is refused (ner.json_input).
NERLAB_JSON_MAX_DEPTH = env.int("NERLAB_JSON_MAX_DEPTH", default=JSON_DEPTH_MAX)
NERLAB_JSON_MAX_BYTES = env.int("NERLAB_JSON_MAX_BYTES", default=JSON_BYTES_MAX)
NERLAB_SELF_REGISTRATION = env.bool("NERLAB_SELF_REGISTRATION")
# Imports larger than either threshold run in a Celery worker with a progress bar instead of in the request.
NERLAB_IMPORT_ASYNC_DOCUMENTS = env.int("NERLAB_IMPORT_ASYNC_DOCUMENTS", default=2_000)
NERLAB_IMPORT_ASYNC_BYTES = env.int("NERLAB_IMPORT_ASYNC_BYTES", default=5 * 1024 * 1024)
NERLAB_INVITATION_DAYS = env.int("NERLAB_INVITATION_DAYS", default=7)
# Trained models each web process and worker keeps loaded (serving.cache); about 10-50 MB of memory each.
NERLAB_MODEL_CACHE_SIZE = env.int("NERLAB_MODEL_CACHE_SIZE", default=4)
# Fold models a training with a small dev set fits its confidence calibration with (ner.calibration; 0: dev alone).
NERLAB_CALIBRATION_FOLDS = env.int("NERLAB_CALIBRATION_FOLDS", default=CALIBRATION_FOLDS)
if NERLAB_CALIBRATION_FOLDS < 0:
    raise ImproperlyConfigured(f"NERLAB_CALIBRATION_FOLDS must be 0 or more (got {NERLAB_CALIBRATION_FOLDS})")
# Every worker queues, when it starts, a measurement of each representation's speed it has none for (evaluation.speeds).
NERLAB_MEASURE_SPEEDS = env.bool("NERLAB_MEASURE_SPEEDS", default=True)
# How long a measurement waits, each time it gives way to a job someone asked for that waits for a worker.
NERLAB_MEASURE_GIVE_WAY_S = env.int("NERLAB_MEASURE_GIVE_WAY_S", default=30)
# A training run's cores: processes sharing each batch (ner.parallel, 1 or 2) x the matrix maths' threads in each
# (ner.compute). Both are part of what makes a retraining reproducible: every worker of a deployment should use the
# same values. Pretraining runs in one process on processes x threads threads.
NERLAB_TRAINING_PROCESSES = env.int("NERLAB_TRAINING_PROCESSES", default=2)
NERLAB_TRAINING_THREADS = env.int("NERLAB_TRAINING_THREADS", default=1)
if NERLAB_TRAINING_PROCESSES not in (1, 2) or NERLAB_TRAINING_THREADS < 1:
    raise ImproperlyConfigured(
        f"NERLAB_TRAINING_PROCESSES must be 1 or 2 (got {NERLAB_TRAINING_PROCESSES}) and NERLAB_TRAINING_THREADS "
        f"at least 1 (got {NERLAB_TRAINING_THREADS})"
    )


def parse_encoders(value: str) -> dict[str, str]:
    encoders: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        name, equals, folder = (part.strip() for part in entry.partition("="))
        if not (equals and folder and re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", name)) or name == "cnn":
            raise ImproperlyConfigured(
                f"NERLAB_ENCODERS: {entry!r} is not name=/folder (a name of letters, digits and _ . -, not 'cnn')"
            )
        if name in encoders:
            raise ImproperlyConfigured(f"NERLAB_ENCODERS: the name {name!r} is given twice")
        if name in pipelines.KNOWN_PIPELINES:
            raise ImproperlyConfigured(f"NERLAB_ENCODERS: the name {name!r} is a spaCy pipeline's; choose another")
        encoders[name] = folder
    return encoders


# Pretrained encoders a training may run on, "name=/folder,name=/folder": local folders only, never fetched from a
# hub (docs/encoders.md). Each folder's files are checked when a training uses it, with errors naming the file.
# Unset: the encoders nerlab's install brings, where installed (ner.encoder_packages); set empty: none.
NERLAB_ENCODERS = parse_encoders(env.str("NERLAB_ENCODERS", default=encoder_packages.default_setting()))
# Azure-style "containers": folders of .txt files that the authoring API's :import reads document texts from.
# Step limit for trainings started through the Azure authoring API's :train, which has no settings (0: defaults).
NERLAB_AZURE_TRAIN_MAX_STEPS = env.int("NERLAB_AZURE_TRAIN_MAX_STEPS", default=0)
# Time budget in minutes for those trainings (0: none): the worker measures its speed and chooses the step limit.
NERLAB_AZURE_TRAIN_BUDGET_MINUTES = env.int("NERLAB_AZURE_TRAIN_BUDGET_MINUTES", default=0)
if not 0 <= NERLAB_AZURE_TRAIN_BUDGET_MINUTES <= 24 * 60:  # ner.limits.TIME_BUDGET_MINUTES_MAX
    raise ImproperlyConfigured(
        f"NERLAB_AZURE_TRAIN_BUDGET_MINUTES must be from 0 (no budget) to 1440 minutes "
        f"(got {NERLAB_AZURE_TRAIN_BUDGET_MINUTES})"
    )
NERLAB_CONTAINERS_ROOT = Path(env.str("NERLAB_CONTAINERS_ROOT", default=str(DATA_DIR / "containers")))

# Celery: with nothing configured, a SQLite file is the broker, so one machine needs no server at all.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=f"sqla+sqlite:///{DATA_DIR / 'celery-broker.sqlite3'}")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Redis redelivers an unacknowledged task after the visibility timeout; long, so that a training still running is
# not sent twice. Lost workers are recovered from the job rows well before that (projects.jobs).
# (The SQLAlchemy transport passes its options to create_engine, so it gets none.)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600} if CELERY_BROKER_URL.startswith("redis") else {}
# Background jobs whose worker stopped (projects.jobs): a running job silent this long is requeued, up to
# NERLAB_JOB_ATTEMPTS starts, then failed with the reason. Imports write in one long transaction: a longer wait.
NERLAB_JOB_STALE_S = env.int("NERLAB_JOB_STALE_S", default=120)
NERLAB_IMPORT_STALE_S = env.int("NERLAB_IMPORT_STALE_S", default=15 * 60)
NERLAB_JOB_ATTEMPTS = env.int("NERLAB_JOB_ATTEMPTS", default=3)
# How often every running worker looks for such jobs (it also does when it starts and when a job is queued).
NERLAB_RECOVERY_INTERVAL_S = env.int("NERLAB_RECOVERY_INTERVAL_S", default=60)

# Guessing passwords and API keys (django-axes, attempts kept in the database so that every web process and host
# counts together). A sign-in is refused with 429 after NERLAB_LOGIN_FAILURE_LIMIT wrong passwords for one username
# from one client address; any API key from a client address after NERLAB_API_KEY_FAILURE_LIMIT wrong keys. The lock
# lifts NERLAB_LOCKOUT_MINUTES after the last failure, or at once with `manage.py axes_reset`. Behind reverse
# proxies, NERLAB_TRUSTED_PROXY_COUNT says how many append to X-Forwarded-For, so the client address is the real one.
NERLAB_LOGIN_FAILURE_LIMIT = env.int("NERLAB_LOGIN_FAILURE_LIMIT", default=10)
NERLAB_API_KEY_FAILURE_LIMIT = env.int("NERLAB_API_KEY_FAILURE_LIMIT", default=20)
NERLAB_LOCKOUT_MINUTES = env.int("NERLAB_LOCKOUT_MINUTES", default=15)
NERLAB_TRUSTED_PROXY_COUNT = env.int("NERLAB_TRUSTED_PROXY_COUNT", default=0)
AXES_FAILURE_LIMIT = "projects.throttling.failure_limit"
AXES_COOLOFF_TIME = "projects.throttling.cool_off"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "projects.throttling.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The API reads JSON; the few views that take files (uploads, imports, archives) or the tagging page's forms
    # name their parsers.
    "DEFAULT_PARSER_CLASSES": ["projects.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "projects.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "projects.api_errors.exception_handler",
    "NUM_PROXIES": NERLAB_TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "nerlab API",
    "DESCRIPTION": "Projects, members, entity types, documents and spans of a self-hosted custom NER studio.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's copy, never a CDN; no "valid schema" badge fetched from swagger.io.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "projects.openapi.document_error_responses",
    ],
    # Several models have a "status"; name each enum after its model so the schema has no collisions.
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "labeling.models.Document.Status",
        "ImportJobStatusEnum": "labeling.models.ImportJob.Status",
        "TrainingRunStatusEnum": "evaluation.models.TrainingRun.Status",
        "AnalyzeJobStatusEnum": "serving.models.AnalyzeJob.Status",
    },
}

# Everything from this host, nothing inline: no inline script, handler or style attribute, no eval, no CDN.
# Colours and bar widths come from data attributes that static/js/app.js applies through the CSSOM.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],  # Swagger UI draws its icons as data: SVGs
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused or missing page (4xx) is one line naming the path and the reason, not a traceback.
    "filters": {"one_line_refusals": {"()": "config.logging.OneLineRefusals"}},
    "loggers": {
        "django.request": {"filters": ["one_line_refusals"]},
        # No handler of Django's own: under DEBUG its console handler printed every record a second time beside the
        # root's (two tracebacks per refusal).
        "django": {"handlers": []},
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

"""Reads of the portability app: what a project stores and where (the "your data" page), and authoring jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Model, Q
from django.http import Http404
from django.utils import timezone

from portability.models import AuthoringJob, AzureProjectSettings
from projects.models import Project
from projects.storage import project_storage_prefix

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from evaluation.models import TrainingRun


@dataclass(frozen=True)
class TableCount:
    table: str  # the database table
    label: str  # what it holds, in the user's words
    rows: int


@dataclass(frozen=True)
class StorageUsage:
    prefix: str
    files: int
    bytes: int
    backend: str
    location: str


@dataclass(frozen=True)
class DatabaseInfo:
    engine: str
    name: str
    host: str


@dataclass(frozen=True)
class DataInventory:
    tables: list[TableCount]
    storage: StorageUsage
    database: DatabaseInfo
    containers_root: str


def _project_path(model: type[Model], target: type[Model], seen: tuple[type[Model], ...] = ()) -> str | None:
    """The ORM lookup from ``model`` to a Project (``document__project``), following foreign keys; None if none."""
    if model is target:
        return "pk"
    for field in model._meta.get_fields():
        if not (field.many_to_one or field.one_to_one) or not field.concrete or field.related_model is None:
            continue
        related = field.related_model
        if related is target:
            return f"{field.name}"
        if related in seen or related._meta.app_label in {"auth", "contenttypes", "sessions", "admin"}:
            continue
        inner = _project_path(related, target, (*seen, model))
        if inner is not None and inner != "pk":
            return f"{field.name}__{inner}"
    return None


def project_rows_by_table(*, project: Project) -> list[TableCount]:
    """Rows per nerlab table that belong to the project, found by walking every model's foreign keys to Project:
    a table added later is counted (and checked by the deletion test) without anyone updating a list."""
    counts = []
    local = {"projects", "labeling", "evaluation", "serving", "portability"}
    for model in apps.get_models():
        if model._meta.app_label not in local:
            continue
        path = _project_path(model, Project)
        if path is None:
            continue
        rows = model._default_manager.filter(**{path: project.pk}).count()
        counts.append(TableCount(model._meta.db_table, str(model._meta.verbose_name_plural), rows))
    return sorted(counts, key=lambda count: (count.table != "projects_project", count.table))


def storage_usage(*, project_pk: int) -> StorageUsage:
    prefix = project_storage_prefix(project_pk)
    files = size = 0

    def walk(path: str) -> None:
        nonlocal files, size
        try:
            directories, names = default_storage.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            files += 1
            size += default_storage.size(f"{path}/{name}")
        for directory in directories:
            walk(f"{path}/{directory}")

    walk(prefix)
    backend = f"{type(default_storage).__module__}.{type(default_storage).__name__}"
    try:
        location = default_storage.path(prefix)
    except NotImplementedError:
        bucket = getattr(default_storage, "bucket_name", "")
        location = f"bucket {bucket}, prefix {prefix}/" if bucket else f"prefix {prefix}/"
    return StorageUsage(prefix=f"{prefix}/", files=files, bytes=size, backend=backend, location=str(location))


def database_info() -> DatabaseInfo:
    """Where the database lives, without credentials."""
    config = connection.settings_dict
    host = str(config.get("HOST") or "")
    if config.get("PORT"):
        host = f"{host}:{config['PORT']}"
    return DatabaseInfo(engine=connection.vendor, name=str(config.get("NAME") or ""), host=host or "local file")


def project_data_inventory(*, project: Project) -> DataInventory:
    return DataInventory(
        tables=project_rows_by_table(project=project),
        storage=storage_usage(project_pk=project.pk),
        database=database_info(),
        containers_root=str(settings.NERLAB_CONTAINERS_ROOT),
    )


# --------------------------------------------------------------------------------------------- authoring jobs


def authoring_job_get(
    *, project: Project, job_id: str, kinds: tuple[str, ...], target: str | None = None
) -> AuthoringJob:
    """A job of the project, of one of ``kinds`` (and on ``target`` when given), not expired; else 404."""
    jobs = AuthoringJob.objects.filter(project=project, pk=job_id, kind__in=kinds, expires_at__gt=timezone.now())
    if target is not None:
        jobs = jobs.filter(target=target)
    job = jobs.select_related("training_run", "import_job").first()
    if job is None:
        raise Http404(f"The job {job_id} was not found (jobs are kept 7 days).")
    return job


def deletion_job_get(*, user: AbstractBaseUser, job_id: str) -> AuthoringJob:
    job = AuthoringJob.objects.filter(
        Q(pk=job_id), user=user, kind=AuthoringJob.Kind.DELETE_PROJECT, expires_at__gt=timezone.now()
    ).first()
    if job is None:
        raise Http404(f"The deletion job {job_id} was not found.")
    return job


def training_jobs_list(*, project: Project) -> list[AuthoringJob]:
    return list(
        AuthoringJob.objects.filter(
            project=project, kind=AuthoringJob.Kind.TRAIN, expires_at__gt=timezone.now()
        ).select_related("training_run")
    )


def training_job_get_for_run(*, run: TrainingRun) -> AuthoringJob | None:
    """The authoring ``:train`` job that started ``run`` (expired or not), or None for a run started in nerlab."""
    return AuthoringJob.objects.filter(training_run=run, kind=AuthoringJob.Kind.TRAIN).order_by("-created_at").first()


def azure_storage_container_get(*, project: Project) -> str:
    """The ``storageInputContainerName`` an Azure client gave the project; the project's name in lower case (a valid
    container name, and what nerlab's exports have always written) for a project it never named one for."""
    named = (
        AzureProjectSettings.objects.filter(project=project)
        .values_list("storage_input_container_name", flat=True)
        .first()
    )
    return named or project.name.lower()

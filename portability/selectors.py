"""Reads of the portability app: what a project stores and where (the "your data" page), authoring jobs, and the
containers a user may read from."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Model, Q
from django.http import Http404
from django.utils import timezone

from portability.models import AuthoringJob, AzureProjectSettings, Container
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


def project_data_inventory(*, project: Project, user: Any) -> DataInventory:
    """What the project stores and where. Where on the server (storage path or bucket, database name and host, the
    containers' folder) only superusers see: it is the operator's business, and a path helps an attacker."""
    storage = storage_usage(project_pk=project.pk)
    database = database_info()
    if user.is_superuser:
        return DataInventory(
            tables=project_rows_by_table(project=project),
            storage=storage,
            database=database,
            containers_root=str(settings.NERLAB_CONTAINERS_ROOT),
        )
    return DataInventory(
        tables=project_rows_by_table(project=project),
        storage=replace(storage, location=""),
        database=replace(database, name="", host=""),
        containers_root="",
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


# --------------------------------------------------------------------------------------------- containers

CONTAINER_NAME_RE: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


def containers_root() -> Path:
    return Path(settings.NERLAB_CONTAINERS_ROOT)


def container_check_name(name: str) -> str:
    if not CONTAINER_NAME_RE.match(name or "") or ".." in name:
        raise ValidationError(
            f"{name!r} is not a valid container name: use 1-63 letters, digits, '.', '_' or '-', starting and ending "
            "with a letter or digit."
        )
    return name


def container_folder_on_disk(name: str) -> Path | None:
    """The folder of that name under the containers root, its case ignored (as a case-insensitive file system
    would); None if there is none."""
    exact = containers_root() / name
    if exact.is_dir():
        return exact
    try:
        entries = list(os.scandir(containers_root()))
    except FileNotFoundError:
        return None
    return next((Path(e.path) for e in entries if e.name.lower() == name.lower() and e.is_dir()), None)


def container_row_get(*, name: str) -> Container | None:
    return Container.objects.filter(name__iexact=name).first()


def container_folder_for_user(*, user: Any, name: str) -> Path:
    """The folder of a container ``user`` may read from or name in a project: one they own, or any for a superuser.

    A stranger's container and one that does not exist get the same answer, so that nobody learns the names of
    other users' containers (or of their files) by trying them.
    """
    container_check_name(name)
    row = container_row_get(name=name)
    if row is not None and (row.owner_id == user.pk or user.is_superuser):
        return containers_root() / row.name
    if row is None and user.is_superuser:
        folder = container_folder_on_disk(name)
        if folder is not None:
            return folder
    raise ValidationError(
        f"You have no container named {name!r}. Put your .txt files into a container of your own with PUT "
        f"/api/v1/containers/{name}/<file name>, or ask an operator to assign a folder to you."
    )


@dataclass(frozen=True)
class ContainerListing:
    name: str
    owner: str | None  # the owner's username; None for an unowned container
    on_disk: bool


def container_list_all() -> list[ContainerListing]:
    """Every container, owned or not (for operators): the rows, and the folders placed by hand that have none."""
    rows = {row.name.lower(): row for row in Container.objects.select_related("owner")}
    try:
        entries = list(os.scandir(containers_root()))
    except FileNotFoundError:
        entries = []
    folders = {e.name.lower(): e.name for e in entries if e.is_dir() and CONTAINER_NAME_RE.match(e.name)}
    listing = [
        ContainerListing(
            row.name, row.owner.get_username() if row.owner is not None else None, row.name.lower() in folders
        )
        for row in rows.values()
    ]
    listing += [ContainerListing(name, None, True) for key, name in folders.items() if key not in rows]
    return sorted(listing, key=lambda item: item.name.lower())

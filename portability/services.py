"""Writes of the portability app: containers of text files, the Azure authoring API's operations, and the clean-up
that makes a project's deletion complete.

The clone and the whole-project archive live in ``portability.archive`` (one code path for both); this module
re-exports them so callers have one place to look.
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from evaluation import services as evaluation_services
from evaluation.models import TrainedModel, TrainingRun
from evaluation.selectors import snapshot_documents
from labeling.imports import ImportOptions, import_job_start, labeled_docs_export
from ner import limits
from ner.formats.azure import write_azure_labels
from ner.names import InvalidName, normalize_language
from ner.text import UploadError, decode_text
from portability.archive import (
    ArchiveError,
    project_archive_bytes,
    project_archive_import,
    project_archive_inspect,
    project_archive_write,
    project_clone,
)
from portability.models import AuthoringJob, AzureProjectSettings, Container
from portability.selectors import (
    azure_storage_container_get,
    container_check_name,
    container_folder_for_user,
    container_folder_on_disk,
    container_row_get,
    containers_root,
)
from projects.models import Project
from projects.services import entity_type_create, project_create, project_delete, project_update
from projects.storage import project_storage_prefix
from serving import services as serving_services

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

JOB_RETENTION: Final = timedelta(days=7)
CONTAINER_FILE_BYTES_MAX: Final = limits.TXT_FILE_BYTES_MAX
CONTAINER_FILE_NAME_MAX: Final = 255


# --------------------------------------------------------------------------------------------- containers


def container_check_file_name(file_name: str) -> str:
    if not file_name or "/" in file_name or "\\" in file_name or "\x00" in file_name:
        raise ValidationError("A file name may not contain path separators ('/' or '\\').")
    if file_name.startswith(".") or not file_name.lower().endswith(".txt"):
        raise ValidationError(f"{file_name!r}: a container holds .txt files only (and no hidden files).")
    if len(file_name) > CONTAINER_FILE_NAME_MAX:
        raise ValidationError(f"A file name may be at most {CONTAINER_FILE_NAME_MAX} characters long.")
    return file_name


def _not_yours(name: str) -> PermissionDenied:
    return PermissionDenied(
        f"The container {name!r} is not yours: choose another name for a container of your own (an operator assigns "
        "folders placed on the server by hand)."
    )


def _container_for_writing(*, user: AbstractBaseUser, name: str) -> Path:
    """The folder ``user`` may write into: a container they own (a superuser: any container), or a new one they
    become the owner of when the name is free (no container of that name, whatever its case, and no folder)."""
    container_check_name(name)
    row = container_row_get(name=name)
    if row is not None:
        if row.owner_id != user.pk and not user.is_superuser:  # type: ignore[attr-defined]
            raise _not_yours(name)
        folder = containers_root() / row.name
    else:
        on_disk = container_folder_on_disk(name)
        if on_disk is not None:
            # Placed by hand and never assigned: unowned, so for superusers only.
            if not user.is_superuser:  # type: ignore[attr-defined]
                raise _not_yours(name)
            return on_disk
        row = Container(name=name, owner=user)
        row.full_clean()
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:  # someone took the name between the check and the save
            raise _not_yours(name) from None
        folder = containers_root() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def container_file_save(*, user: AbstractBaseUser, container: str, file_name: str, data: bytes) -> tuple[Path, bool]:
    """Store one ``.txt`` document in a container of ``user``'s (created, and theirs, when the name is free);
    returns its path and whether it is new.

    The text must be a valid document (UTF-8/16 with or without BOM, not empty, at most 128,000 characters) so that
    a later ``:import`` does not fail on it. The file is written whole, then renamed into place.
    """
    container_check_file_name(file_name)
    if len(data) > CONTAINER_FILE_BYTES_MAX:
        raise ValidationError(f"{len(data):,} bytes; a document file may hold at most {CONTAINER_FILE_BYTES_MAX:,}.")
    try:
        decode_text(data, file_name)
    except UploadError as error:
        raise ValidationError(str(error)) from None
    folder = _container_for_writing(user=user, name=container)
    target = folder / file_name
    created = not target.exists()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target, created


@transaction.atomic
def container_owner_set(*, name: str, owner: AbstractBaseUser) -> tuple[Container, str | None]:
    """An operator's assignment: ``owner`` owns the container from now on (its folder is created when missing).
    Returns the container and the username of its previous owner (None if it had none)."""
    container_check_name(name)
    row = Container.objects.select_for_update(of=("self",)).filter(name__iexact=name).select_related("owner").first()
    previous = row.owner.get_username() if row is not None and row.owner is not None else None
    if row is None:
        on_disk = container_folder_on_disk(name)
        row = Container(name=on_disk.name if on_disk is not None else name)
    row.owner = owner
    row.full_clean()
    row.save()
    (containers_root() / row.name).mkdir(parents=True, exist_ok=True)
    return row, previous


def container_texts(*, folder: Path, locations: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """The raw bytes of each location's file in the container's folder, and the locations that have no file there.

    A location is the file's name ("01.txt"); one with a folder part ("data/01.txt") is looked up by its last part,
    as Azure's documents all sit at the container's root.
    """
    found: dict[str, bytes] = {}
    missing: list[str] = []
    for location in locations:
        base = location.replace("\\", "/").rsplit("/", 1)[-1]
        path = folder / base
        if base and not base.startswith(".") and path.is_file() and path.resolve().parent == folder.resolve():
            found[location] = path.read_bytes()
        else:
            missing.append(location)
    return found, missing


# --------------------------------------------------------------------------------------------- authoring jobs


def authoring_job_create(
    *,
    kind: str,
    user: AbstractBaseUser,
    api_version: str,
    project: Project | None,
    project_name: str = "",
    status: str = AuthoringJob.Status.SUCCEEDED,
    target: str = "",
    errors: list[dict[str, str]] | None = None,
    details: dict[str, Any] | None = None,
    training_run: TrainingRun | None = None,
    import_job: Any = None,
) -> AuthoringJob:
    job = AuthoringJob(
        kind=kind,
        user=user,
        api_version=api_version,
        project=project,
        project_name=project_name or (project.name if project else ""),
        status=status,
        target=target,
        errors=errors or [],
        details=details or {},
        training_run=training_run,
        import_job=import_job,
        expires_at=timezone.now() + JOB_RETENTION,
    )
    job.full_clean()
    job.save()
    return job


def azure_storage_container_set(*, project: Project, folder: Path) -> None:
    """Remember the container an Azure client named for the project (read back by GET project and ``:export``);
    ``folder`` comes from ``container_folder_for_user``, so only a container the user may use is ever named."""
    AzureProjectSettings.objects.update_or_create(
        project=project, defaults={"storage_input_container_name": folder.name}
    )


def azure_project_create_or_update(
    *, user: AbstractBaseUser, name: str, existing: Project | None, body: dict[str, Any]
) -> tuple[Project, bool]:
    """Azure's PATCH (merge-patch): create the project, or change the fields the body names. A
    ``storageInputContainerName`` must name a container of the user's own (any, for a superuser)."""
    container = body.get("storageInputContainerName")
    if container is not None and not isinstance(container, str):
        raise ValidationError("storageInputContainerName must be a string: the name of a container.")
    folder = container_folder_for_user(user=user, name=container) if container else None  # before any write
    project, created = _project_create_or_update(user=user, name=name, existing=existing, body=body)
    if folder is not None:
        azure_storage_container_set(project=project, folder=folder)
    return project, created


def _project_create_or_update(
    *, user: AbstractBaseUser, name: str, existing: Project | None, body: dict[str, Any]
) -> tuple[Project, bool]:
    fields: dict[str, Any] = {}
    if "description" in body:
        fields["description"] = str(body["description"] or "")
    if "multilingual" in body:
        value = body["multilingual"]
        # Microsoft's own doc example sends "True" as a string; accept what their scripts send.
        fields["multilingual"] = value.lower() == "true" if isinstance(value, str) else bool(value)
    if body.get("language"):
        fields["language"] = str(body["language"])
    if existing is not None:
        return project_update(project=existing, **fields), False
    language = fields.pop("language", "")
    if not language:
        raise ValidationError({"language": "language is required to create a project (e.g. 'en')."})
    return project_create(user=user, name=name, language=language, **fields), True


def _label_locations(body: dict[str, Any]) -> list[str]:
    assets = body.get("assets", body)
    documents = assets.get("documents") if isinstance(assets, dict) else None
    if not isinstance(documents, list):
        raise ValidationError("The labels file has no assets.documents list.")
    locations = []
    for index, document in enumerate(documents):
        location = document.get("location") if isinstance(document, dict) else None
        if not isinstance(location, str) or not location:
            raise ValidationError(f"assets.documents[{index}].location is required: the name of a .txt file.")
        locations.append(location)
    return locations


def _label_categories(body: dict[str, Any]) -> list[str]:
    assets = body.get("assets", body)
    names: list[str] = []
    for key in ("entities", "extractors"):
        for item in assets.get(key) or [] if isinstance(assets, dict) else []:
            name = item.get("category") or item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name:
                names.append(name)
    names += [name for name in assets.get("entityNames") or [] if isinstance(name, str)]
    return list(dict.fromkeys(names))


def azure_import_start(
    *, user: AbstractBaseUser, project: Project | None, project_name: str, api_version: str, body: dict[str, Any]
) -> AuthoringJob:
    """Azure's ``:import``: the labels JSON in the body, the texts from the container its metadata names.

    A project that does not exist yet is created from the file's metadata (as Azure does). Entity types the file
    lists are created; documents already in the project (same text) are skipped, never duplicated. The import
    itself is an ``ImportJob`` (inline when small, Celery when large); the returned job links to it.
    """
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    container = str(metadata.get("storageInputContainerName") or "")
    if not container:
        raise ValidationError("metadata.storageInputContainerName is required: the container holding the .txt files.")
    folder = container_folder_for_user(user=user, name=container)
    locations = _label_locations(body)
    texts, missing = container_texts(folder=folder, locations=locations)
    with transaction.atomic():
        if project is None:
            language = str(metadata.get("language") or "")
            try:
                normalize_language(language)
            except InvalidName:
                raise ValidationError({"language": "metadata.language is required to create the project."}) from None
            project, _ = azure_project_create_or_update(user=user, name=project_name, existing=None, body=metadata)
        else:
            azure_storage_container_set(project=project, folder=folder)
        if missing:
            shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
            return authoring_job_create(
                kind=AuthoringJob.Kind.IMPORT,
                user=user,
                api_version=api_version,
                project=project,
                status=AuthoringJob.Status.FAILED,
                errors=[
                    {
                        "code": "InvalidRequest",
                        "message": f"{len(missing)} document location(s) have no file in container "
                        f"{folder.name!r}: {shown}. Upload them with PUT /api/v1/containers/{folder.name}/<file name>, "
                        "then import again.",
                    }
                ],
                details={"missing": missing, "container": folder.name},
            )
        have = set(project.entity_types.values_list("name", flat=True))
        for name in _label_categories(body):
            if name not in have:
                entity_type_create(project=project, name=name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for location, data in texts.items():
            archive.writestr(location.replace("\\", "/").rsplit("/", 1)[-1], data)
    import_job = import_job_start(
        project=project,
        user=user,
        format="azure",
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        file_name=f"{project.name}-labels.json",
        options=ImportOptions(create_missing_types=True),
        texts_data=buffer.getvalue(),
        texts_file_name=f"{folder.name}.zip",
    )
    return authoring_job_create(
        kind=AuthoringJob.Kind.IMPORT,
        user=user,
        api_version=api_version,
        project=project,
        status=AuthoringJob.Status.RUNNING,
        import_job=import_job,
        details={"container": folder.name},
    )


def azure_export_run(
    *, user: AbstractBaseUser, project: Project, api_version: str, trained_model_label: str = ""
) -> AuthoringJob:
    """Azure's ``:export``: the labels JSON (GA shape, UTF-16 offsets) of the project, or of the snapshot a model
    was trained on, stored under the project's folder; the job's ``resultUrl`` serves it."""
    if trained_model_label:
        model = TrainedModel.objects.filter(project=project, name=trained_model_label).select_related("run").first()
        if model is None:
            raise Http404(f"The trained model {trained_model_label!r} was not found in project {project.name!r}.")
        docs = [
            type(doc)(doc.text, doc.spans, doc.name, doc.language, doc.split)
            for doc in snapshot_documents(snapshot=model.run.snapshot)
        ]
    else:
        docs = labeled_docs_export(project=project)
    labels, _texts = write_azure_labels(
        docs,
        project_name=project.name,
        language=project.language,
        multilingual=project.multilingual,
        description=project.description,
        storage_container=azure_storage_container_get(project=project),
        entity_types=list(project.entity_types.order_by("name").values_list("name", flat=True)),
    )
    job = authoring_job_create(
        kind=AuthoringJob.Kind.EXPORT,
        user=user,
        api_version=api_version,
        project=project,
        target=trained_model_label,
    )
    job.result_file = default_storage.save(
        f"{project_storage_prefix(project.pk)}/exports/{job.pk}.json", ContentFile(labels)
    )
    job.save(update_fields=["result_file", "updated_at"])
    return job


def azure_train_start(
    *,
    user: AbstractBaseUser,
    project: Project,
    api_version: str,
    model_label: str,
    training_config_version: str,
    evaluation_options: dict[str, Any] | None,
) -> AuthoringJob:
    """Azure's ``:train`` through nerlab's training (a queued ``TrainingRun`` and its Celery task).

    ``evaluationOptions`` applies to this run only (the project's settings are not changed): ``percentage`` is a
    seeded random split with that test percentage (manual assignments still win), ``manual`` uses each document's
    own Train/Test assignment. A model of the same label is replaced, as in Azure — unless it is deployed.
    """
    options = evaluation_options or {"kind": "percentage", "trainingSplitPercentage": 80, "testingSplitPercentage": 20}
    kind = str(options.get("kind", "percentage")).lower()
    run_project = copy.copy(project)  # the split rule of this run only; never saved
    if kind == "percentage":
        testing = options.get("testingSplitPercentage", 20)
        training = options.get("trainingSplitPercentage", 100 - testing if isinstance(testing, int) else 80)
        if not isinstance(testing, int) or not isinstance(training, int) or testing + training != 100:
            raise ValidationError(
                "evaluationOptions: trainingSplitPercentage and testingSplitPercentage must be integers adding up to "
                "100."
            )
        if not 1 <= testing <= 99:
            raise ValidationError("evaluationOptions.testingSplitPercentage must be between 1 and 99.")
        run_project.split_mode = Project.SplitMode.RANDOM
        run_project.test_percent = testing
    elif kind == "manual":
        run_project.split_mode = Project.SplitMode.MANUAL
    else:
        raise ValidationError(
            f"evaluationOptions.kind {options.get('kind')!r} is not supported: use percentage or manual."
        )
    existing = TrainedModel.objects.filter(project=project, name=model_label).first()
    if existing is not None:
        if existing.deployments.exists():  # type: ignore[attr-defined]
            raise ValidationError(
                f"The model {model_label!r} is deployed; delete or redeploy its deployments before retraining it."
            )
        evaluation_services.trained_model_delete(model=existing)
    # Azure's :train has no knobs; the operator may cap trainings started this way (0 keeps nerlab's defaults).
    train_settings: dict[str, Any] = evaluation_services.training_settings_defaults()
    if settings.NERLAB_AZURE_TRAIN_MAX_STEPS:
        train_settings.update(max_steps=settings.NERLAB_AZURE_TRAIN_MAX_STEPS, max_epochs=0)
    if settings.NERLAB_AZURE_TRAIN_BUDGET_MINUTES:
        train_settings.update(time_budget_minutes=settings.NERLAB_AZURE_TRAIN_BUDGET_MINUTES)
    with transaction.atomic():
        run = evaluation_services.training_run_start(
            project=run_project, user=user, model_name=model_label, **train_settings
        )
        return authoring_job_create(
            kind=AuthoringJob.Kind.TRAIN,
            user=user,
            api_version=api_version,
            project=project,
            status=AuthoringJob.Status.RUNNING,
            target=model_label,
            training_run=run,
            details={
                "trainingConfigVersion": training_config_version or "latest",
                "evaluationOptions": {
                    "kind": "manual" if kind == "manual" else "percentage",
                    **(
                        {
                            "trainingSplitPercentage": 100 - run_project.test_percent,
                            "testingSplitPercentage": run_project.test_percent,
                        }
                        if kind == "percentage"
                        else {}
                    ),
                },
            },
        )


def azure_train_cancel(*, job: AuthoringJob) -> AuthoringJob:
    if job.training_run is None:
        raise ValidationError("This job has no training to cancel.")
    evaluation_services.training_run_cancel(run=job.training_run)
    return job


def azure_deploy(
    *, user: AbstractBaseUser, project: Project, api_version: str, deployment_name: str, model_label: str
) -> AuthoringJob:
    model = TrainedModel.objects.filter(project=project, name=model_label).first()
    if model is None:
        raise Http404(f"The trained model {model_label!r} was not found in project {project.name!r}.")
    serving_services.deployment_create_or_replace(project=project, name=deployment_name, model=model, user=user)
    return authoring_job_create(
        kind=AuthoringJob.Kind.DEPLOY, user=user, api_version=api_version, project=project, target=deployment_name
    )


def azure_deployment_delete(
    *, user: AbstractBaseUser, project: Project, api_version: str, deployment_name: str
) -> AuthoringJob:
    deployment = project.deployments.filter(name=deployment_name).first()  # type: ignore[attr-defined]
    if deployment is None:
        raise Http404(f"The deployment {deployment_name!r} was not found in project {project.name!r}.")
    serving_services.deployment_delete(deployment=deployment)
    return authoring_job_create(
        kind=AuthoringJob.Kind.DELETE_DEPLOYMENT,
        user=user,
        api_version=api_version,
        project=project,
        target=deployment_name,
    )


def azure_swap(*, user: AbstractBaseUser, project: Project, api_version: str, first: str, second: str) -> AuthoringJob:
    serving_services.deployment_swap(project=project, first_name=first, second_name=second, user=user)
    return authoring_job_create(
        kind=AuthoringJob.Kind.SWAP, user=user, api_version=api_version, project=project, target=f"{first},{second}"
    )


def azure_project_delete(*, user: AbstractBaseUser, project: Project, api_version: str) -> AuthoringJob:
    """Delete the project now; the deletion job (which outlives it) says so to the user who asked."""
    name = project.name
    with transaction.atomic():
        # Rows by cascade, files under projects/<pk>/ after commit; runtime jobs with it (serving.signals).
        project_delete(project=project)
        return authoring_job_create(
            kind=AuthoringJob.Kind.DELETE_PROJECT, user=user, api_version=api_version, project=None, project_name=name
        )


__all__ = [
    "ArchiveError",
    "azure_deploy",
    "azure_deployment_delete",
    "azure_export_run",
    "azure_import_start",
    "azure_project_create_or_update",
    "azure_project_delete",
    "azure_storage_container_set",
    "azure_swap",
    "azure_train_cancel",
    "azure_train_start",
    "container_file_save",
    "container_owner_set",
    "container_texts",
    "project_archive_bytes",
    "project_archive_import",
    "project_archive_inspect",
    "project_archive_write",
    "project_clone",
]

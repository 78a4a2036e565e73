"""Jobs of the Azure-compatible authoring API, so that ``Operation-Location`` URLs can be polled.

Azure answers every long operation (import, export, train, deploy, swap, delete) with 202 and a job URL. nerlab
does the work through its own services (imports and training through their Celery tasks), and an ``AuthoringJob``
is only the handle Azure's clients poll: what was asked, by whom, on which project, and a link to the domain row
that is the source of truth (the ``TrainingRun`` of a training, the ``ImportJob`` of an import). Jobs expire
after a week, as Azure's do.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from evaluation.models import TrainingRun
from labeling.models import ImportJob
from projects.models import Project

# .NET ticks of the Unix epoch: Azure's job ids end in "_<ticks of the day>" (e.g. _637858368000000000).
_EPOCH_TICKS = 621_355_968_000_000_000


def new_job_id(now: datetime | None = None) -> str:
    day = (now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{uuid.uuid4()}_{_EPOCH_TICKS + int(day.timestamp()) * 10_000_000}"


class AuthoringJob(models.Model):
    class Kind(models.TextChoices):
        IMPORT = "import", "Import"
        EXPORT = "export", "Export"
        TRAIN = "train", "Train"
        DEPLOY = "deploy", "Deploy"
        DELETE_DEPLOYMENT = "delete_deployment", "Delete deployment"
        SWAP = "swap", "Swap deployments"
        DELETE_PROJECT = "delete_project", "Delete project"

    class Status(models.TextChoices):
        NOT_STARTED = "notStarted", "Not started"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        CANCELLING = "cancelling", "Cancelling"

    id = models.CharField(primary_key=True, max_length=64, default=new_job_id, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # CASCADE: a project's jobs go with it. A project-deletion job has no project (it outlives it) and keeps the
    # name only, visible to the user who asked.
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="authoring_jobs")
    project_name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    api_version = models.CharField(max_length=32)
    # What the job acts on: a deployment name (deploy, delete), a model label (train), "first,second" (swap).
    target = models.CharField(max_length=200, blank=True)
    training_run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.CASCADE, related_name="authoring_jobs"
    )
    import_job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.CASCADE, related_name="authoring_jobs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    errors = models.JSONField(default=list, blank=True, help_text='[{"code", "message"}] in Azure\'s shape')
    warnings = models.JSONField(default=list, blank=True)
    # Kind-specific: the training request (evaluationOptions...), or the export's stored file.
    details = models.JSONField(default=dict, blank=True)
    result_file = models.CharField(max_length=300, blank=True, help_text="An export's labels JSON in storage.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"


class AzureProjectSettings(models.Model):
    """What an Azure client said about a project that nerlab's own Project has no field for.

    ``storageInputContainerName`` names the container (folder under ``NERLAB_CONTAINERS_ROOT``) that a project's
    texts were imported from; Azure's clients read it back from the project and the exported labels file, and a
    script that re-imports an export relies on it being the one it gave.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="azure_settings")
    storage_input_container_name = models.CharField(max_length=63, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Azure project settings"
        verbose_name_plural = "Azure project settings"

    def __str__(self) -> str:
        return f"Azure settings of project {self.project_id}"


class Container(models.Model):
    """Who owns a container: a folder of ``.txt`` files under ``NERLAB_CONTAINERS_ROOT`` that Azure's ``:import``
    reads document texts from.

    Only the owner (and superusers) may write to a container, read from it or name it in a project. A folder with
    no row here, or a row whose owner was deleted, is *unowned*: only superusers may use it until an operator
    assigns it with ``manage.py nerlab_container_owner``. Names are compared without case, as the folders would be
    on a case-insensitive file system.
    """

    name = models.CharField(max_length=63)
    # SET_NULL: the files outlive their owner's account, unowned (for superusers only) until an operator
    # assigns them to someone else or deletes the folder.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="container_unique_name_ci",
                violation_error_message="This container name is taken.",
            )
        ]

    def __str__(self) -> str:
        return self.name

"""Named deployments of trained models, and the Azure-compatible analyze jobs that predict through them.

A ``Deployment`` is a name (``production``, ``staging``) that points at one ``TrainedModel`` of its project.
Requests resolve the name to a model on every call, so a redeploy or a swap takes effect at once. A deployed
model cannot be deleted (RESTRICT): delete or redeploy the deployment first.

An ``AnalyzeJob`` is one ``POST /language/analyze-text/jobs`` request: what was asked, its status, and the
results in Azure's shape, kept 24 hours (``expires_at``) and visible only to the user whose key submitted it. A job
is linked to every project its tasks name, so deleting a project deletes the jobs that predicted on it (their
requests hold its users' texts and their results its model's findings).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from evaluation.models import TrainedModel
from ner import limits
from ner.names import check_deployment_name
from projects.models import ApiKey, Project, name_check_as_validation_error


def validate_deployment_name(value: str) -> None:
    name_check_as_validation_error(check_deployment_name, value)


class Deployment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deployments")
    name = models.CharField(max_length=limits.DEPLOYMENT_NAME_MAX, validators=[validate_deployment_name])
    # RESTRICT rather than PROTECT: deleting the model alone is refused, but deleting the project (which takes its
    # models and deployments along in one cascade) still works; PROTECT would block the project's deletion.
    model = models.ForeignKey(TrainedModel, on_delete=models.RESTRICT, related_name="deployments")
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deployed_at = models.DateTimeField(help_text="When the current model was put under this name.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="deployment_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} → {self.model_id}"

    def clean(self) -> None:
        if self.model_id is not None and self.project_id is not None and self.model.project_id != self.project_id:
            raise ValidationError({"model": "The model belongs to another project."})


class AnalyzeJob(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "notStarted", "Not started"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.NOT_STARTED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    api_version = models.CharField(max_length=32)
    display_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    # {"documents": [{id, text, language}], "tasks": [{taskName, projectName, deploymentName, stringIndexType}]}
    request = models.JSONField()
    # The projects the tasks name (the request names them only inside its JSON): deletion follows this link.
    projects = models.ManyToManyField(Project, blank=True, related_name="analyze_jobs")
    # Azure's task items (``CustomEntityRecognitionLROResults``), one per task, in request order.
    task_results = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    character_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # The job's last sign of life (queued, claimed, a task done), and its starts so far: see projects.jobs.
    updated_at = models.DateTimeField(auto_now=True)
    attempts = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"analyze job {self.pk} ({self.status})"

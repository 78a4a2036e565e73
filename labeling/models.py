from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models import EntityType, Project, validate_language


class Document(models.Model):
    class Status(models.TextChoices):
        UNTAGGED = "untagged", "Untagged"
        IN_PROGRESS = "in_progress", "In progress"
        TAGGED = "tagged", "Tagged"

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        TEST = "test", "Test"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=500)
    text = models.TextField()
    content_hash = models.CharField(max_length=64)
    char_count = models.PositiveIntegerField()
    language = models.CharField(max_length=35, blank=True, validators=[validate_language])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNTAGGED)
    # Manual split assignment; blank means "decided by the project's split rule".
    split = models.CharField(max_length=8, choices=Split.choices, blank=True)
    tagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tagged_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_documents",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="document_unique_content"),
            models.CheckConstraint(condition=models.Q(char_count__gte=1), name="document_not_empty"),
        ]
        indexes = [models.Index(fields=["project", "status"]), models.Index(fields=["project", "split"])]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_language(self) -> str:
        return self.language or self.project.language


class Span(models.Model):
    """One tag: a labelled region of a document, offsets in Unicode code points, end exclusive."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="spans")
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="spans")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document", "start", "end"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="span_not_empty"),
            models.UniqueConstraint(fields=["document", "start", "end", "entity_type"], name="span_unique_region_type"),
        ]
        indexes = [models.Index(fields=["document", "start"])]

    def __str__(self) -> str:
        return f"{self.entity_type.name} {self.start}-{self.end}"


class ImportJob(models.Model):
    """One uploaded file being imported into a project: the page polls this row, never a Celery result.

    The upload lies in Django's storage under ``projects/<project id>/imports/<job id>/`` until the import has
    succeeded (a failed one keeps it, so it can be retried with "create missing entity types" ticked).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=32)
    file_name = models.CharField(max_length=500)
    file_path = models.CharField(max_length=1000, blank=True)
    # Azure's labels JSON may come with its texts in a second file (a zip of .txt files).
    texts_file_name = models.CharField(max_length=500, blank=True)
    texts_file_path = models.CharField(max_length=1000, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="import_job_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models import BackgroundJob, EntityType, Project, validate_language


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
    # Active learning: how unsure the latest model is about this (untagged) document, 0 (sure) to 1; null when
    # no model has scored it. Written after each training, read by the "next document" flow.
    uncertainty = models.FloatField(null=True, blank=True)
    uncertainty_model = models.CharField(max_length=100, blank=True, help_text="Name of the model that scored it.")
    # What the imported file said about the document besides its text and spans (doccano metadata, Prodigy meta,
    # Label Studio data fields, extra CoNLL token columns), as text values; exported again by the formats that
    # hold metadata, so that a round trip through nerlab loses none of it.
    meta = models.JSONField(default=dict, blank=True)
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


class ImportJob(BackgroundJob):
    """One uploaded file being imported into a project: the page polls this row, never a Celery result.

    The upload lies in Django's storage under ``projects/<project id>/imports/<job id>/`` until the import has
    succeeded (a failed one keeps it, so it can be retried with "create missing entity types" ticked).
    """

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
    progress = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    # The job's last sign of life (queued, claimed, progress): see projects.jobs.
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


class Suggestion(models.Model):
    """A span a model proposed (pre-annotation). Never a tag until an annotator accepts it: accepting creates a
    ``Span`` through ``span_create``; nothing reads suggestions for training.

    Accepting or rejecting keeps the row with its new ``state`` rather than deleting it, so that undo on the tagging
    page can bring the suggestion back (with its confidence and model) exactly as it was. Only pending ones are
    shown, counted or exported.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="suggestions")
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="suggestions")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    confidence = models.FloatField()
    model_name = models.CharField(max_length=100, help_text="The trained model that proposed it.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document", "start", "end"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="suggestion_not_empty"),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "accepted", "rejected"]), name="suggestion_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0, confidence__lte=1), name="suggestion_confidence_range"
            ),
            models.UniqueConstraint(
                fields=["document", "start", "end", "entity_type"], name="suggestion_unique_region_type"
            ),
        ]

    def __str__(self) -> str:
        return f"suggested {self.entity_type.name} {self.start}-{self.end} ({self.confidence:.2f})"


class AnnotationAssignment(models.Model):
    """One annotator's own copy of a document's tags, for inter-annotator agreement.

    An owner assigns the same document to two or more annotators; each tags it on the tagging page as usual, but
    their tags go to ``AnnotatorSpan`` rows of their assignment, apart from the gold ``Span`` rows and from each
    other, until an adjudicator merges them into the gold tags.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted"
        ADJUDICATED = "adjudicated", "Adjudicated"

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="annotation_assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["document", "annotator"]
        constraints = [
            models.UniqueConstraint(fields=["document", "annotator"], name="assignment_unique_annotator"),
        ]
        indexes = [models.Index(fields=["annotator", "status"])]

    def __str__(self) -> str:
        return f"{self.document} for {self.annotator} ({self.status})"


class AnnotatorSpan(models.Model):
    """A tag in one annotator's assignment: the same shape and rules as ``Span``, kept apart until adjudicated."""

    assignment = models.ForeignKey(AnnotationAssignment, on_delete=models.CASCADE, related_name="spans")
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="annotator_spans")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment", "start", "end"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="annotator_span_not_empty"),
            models.UniqueConstraint(
                fields=["assignment", "start", "end", "entity_type"], name="annotator_span_unique_region_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type.name} {self.start}-{self.end}"


class SpanEvent(models.Model):
    """The audit trail of the gold tags: who created, retyped or deleted which tag, when, and by what path.

    Rows copy what they describe (type name, offsets, surface text, document name), so the trail survives the
    span, the entity type and the document; only deleting the project removes it.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        RETYPED = "retyped", "Changed type"
        DELETED = "deleted", "Deleted"

    class Source(models.TextChoices):
        TAGGING = "tagging", "Tagging page or API"
        SUGGESTION = "suggestion", "Accepted suggestion"
        CONSISTENCY = "consistency", "Consistency fix"
        ADJUDICATION = "adjudication", "Adjudication"
        IMPORT = "import", "Import"
        UPLOAD = "upload", "Upload"
        TYPE_MERGE = "type_merge", "Entity type merge"
        TYPE_DELETE = "type_delete", "Entity type delete"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="span_events")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="span_events")
    document_name = models.CharField(max_length=500)
    span_id = models.PositiveBigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.TAGGING)
    entity_type = models.CharField(max_length=100)
    previous_entity_type = models.CharField(max_length=100, blank=True)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    surface = models.CharField(max_length=300, help_text="The tagged text, cut at 300 characters.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"]), models.Index(fields=["document", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.entity_type} {self.start}-{self.end} in {self.document_name}"

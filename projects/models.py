from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from ner import limits
from ner.names import InvalidName, check_entity_type_name, check_project_name, normalize_language
from ner.spans import OVERLAP_POLICIES
from projects.roles import ROLE_CHOICES, Role

# The largest id a row can have (DEFAULT_AUTO_FIELD is BigAutoField); an id filter past it is refused, since
# SQLite cannot even compare with a larger number (OverflowError).
ROW_ID_MAX = 2**63 - 1


def name_check_as_validation_error(check: Callable[[str], object], value: str) -> None:
    """Run one of ``ner.names``' checks as a model field validator: its ``InvalidName`` becomes a ValidationError."""
    try:
        check(value)
    except InvalidName as error:
        raise ValidationError(str(error)) from None


def validate_project_name(value: str) -> None:
    name_check_as_validation_error(check_project_name, value)


def validate_entity_type_name(value: str) -> None:
    name_check_as_validation_error(check_entity_type_name, value)


def validate_language(value: str) -> None:
    name_check_as_validation_error(normalize_language, value)


class Project(models.Model):
    class LabelMode(models.TextChoices):
        TOKEN = "token", "Snap selections to tokens"
        CHARACTER = "character", "Character-precise selections"

    class SplitMode(models.TextChoices):
        RANDOM = "random", "Random (seeded, stable)"
        MANUAL = "manual", "Manual (per document)"

    class TrainingScope(models.TextChoices):
        TAGGED = "tagged", "Documents marked as tagged"
        WITH_SPANS = "with_spans", "All documents with at least one span"

    name = models.CharField(
        max_length=limits.PROJECT_NAME_MAX,
        unique=True,
        validators=[validate_project_name],
        help_text="Letters, digits and _ . - only; cannot be changed later.",
    )
    description = models.TextField(blank=True, max_length=2000)
    language = models.CharField(
        max_length=35,
        validators=[validate_language],
        help_text="BCP-47 code of the documents' language, e.g. en, en-US, de, pt-BR.",
    )
    multilingual = models.BooleanField(
        default=False, help_text="Documents may be in several languages; each document has its own."
    )
    label_mode = models.CharField(max_length=16, choices=LabelMode.choices, default=LabelMode.TOKEN)
    overlap_policy = models.CharField(
        max_length=8,
        choices=[(policy, policy) for policy in OVERLAP_POLICIES],
        default="none",
        help_text="'none' rejects overlapping spans, which spaCy's NER cannot learn.",
    )
    split_mode = models.CharField(max_length=8, choices=SplitMode.choices, default=SplitMode.RANDOM)
    test_percent = models.PositiveSmallIntegerField(default=20)
    split_seed = models.PositiveIntegerField(default=0)
    training_scope = models.CharField(max_length=16, choices=TrainingScope.choices, default=TrainingScope.TAGGED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(test_percent__gte=1, test_percent__lte=99),
                name="project_test_percent_range",
            ),
            # "projB" and "PROJB" would be told apart by nobody reading a list, a URL or an Azure script.
            models.UniqueConstraint(
                Lower("name"),
                name="project_unique_name_ci",
                violation_error_message="A project with this name already exists (names are compared without "
                "regard to case); choose another name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A bad code is left as it is: the field's own validator (validate_language) reports it, once.
        if self.language:
            with contextlib.suppress(InvalidName):
                self.language = normalize_language(self.language)


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=[role.value for role in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


class EntityType(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="entity_types")
    name = models.CharField(max_length=limits.ENTITY_TYPE_NAME_MAX, validators=[validate_entity_type_name])
    description = models.TextField(blank=True, max_length=1000)
    color = models.CharField(max_length=7, default="#8ecae6", help_text="Background colour, #rrggbb.")
    hotkey = models.CharField(max_length=1, blank=True, help_text="One key that applies this type.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="entity_type_unique_name"),
            models.UniqueConstraint(
                "project",
                Lower("hotkey"),
                condition=~models.Q(hotkey=""),
                name="entity_type_unique_hotkey",
            ),
            models.CheckConstraint(condition=models.Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="entity_type_color_hex"),
        ]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    """A link an owner sends; whoever opens it creates an account (or signs in) and joins with the role."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    token_hash = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation to {self.project} as {self.role}"


class ApiKey(models.Model):
    """A secret for scripts. A user key acts with its user's roles; a project key only predicts on one project."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class BackgroundJobStatus(models.TextChoices):
    """The life of a background job (an import, a pre-annotation job, a learning curve): the row the page polls."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BackgroundJob(models.Model):
    """What every background job's row holds: its status, why it failed, when it was asked for, started and
    finished, and how often a worker started it (``projects.jobs`` recovers a job whose worker stopped)."""

    Status = BackgroundJobStatus
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class HeartbeatJob(BackgroundJob):
    """A project's background job whose worker writes a heartbeat while it works (``projects.jobs.job_heartbeat``),
    so that a stopped worker is told from a slow one; the project's page lists its jobs newest first."""

    # Last sign of life (sent, claimed, then while the work goes on): see projects.jobs.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["project", "-created_at", "-id"]

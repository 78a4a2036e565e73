"""Snapshots of the tagged data, training runs, the models they produce, and their evaluations.

A ``DatasetSnapshot`` freezes what a run trains and is evaluated on; its documents live in a JSONL file in Django's
storage (``projects/<pk>/snapshots/<id>.jsonl``) and nothing in it changes after it is written. A ``TrainingRun`` is
the row the UI and the API poll; the Celery task writes its progress there. A finished run leaves a
``TrainedModel`` (files under ``projects/<pk>/models/<id>/``), an ``Evaluation`` (``ner.metrics.EvaluationReport``
as JSON) and one ``Prediction`` per test document.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from ner import limits
from ner.names import check_model_name
from projects.models import HeartbeatJob, Project, name_check_as_validation_error


def validate_model_name(value: str) -> None:
    name_check_as_validation_error(check_model_name, value)


class DatasetSnapshot(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="snapshots")
    # sha256 over every document's content hash, spans and side (see ner.snapshot.snapshot_hash).
    content_hash = models.CharField(max_length=64)
    file = models.CharField(max_length=300, help_text="Path of the frozen JSONL in Django's storage.")
    document_count = models.PositiveIntegerField()
    train_document_ids = models.JSONField(default=list)
    test_document_ids = models.JSONField(default=list)
    # {"train": {"PERSON": 12, ...}, "test": {...}}: entity instances per type on each side.
    span_counts = models.JSONField(default=dict)
    language = models.CharField(max_length=35, help_text="What the model is trained for: a BCP-47 code or xx.")
    split_mode = models.CharField(max_length=8)
    test_percent = models.PositiveSmallIntegerField()
    split_seed = models.PositiveIntegerField()
    training_scope = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at", "-id"]
        indexes = [models.Index(fields=["project", "content_hash"])]

    def __str__(self) -> str:
        return f"snapshot {self.content_hash[:12]} of {self.project}"

    @property
    def train_count(self) -> int:
        return len(self.train_document_ids)

    @property
    def test_count(self) -> int:
        return len(self.test_document_ids)


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Phase(models.TextChoices):
        WAITING = "waiting", "Waiting"
        # A distilled run: the teacher model labels the project's untagged documents first (ner.distill).
        LABELLING = "labelling", "Teacher labelling untagged documents"
        TRAINING = "training", "Training"
        # Small dev sets: fold models train for the confidence calibration (ner.calibration, docs/calibration.md).
        CALIBRATING = "calibrating", "Calibrating confidence scores with fold models"
        EVALUATING = "evaluating", "Evaluating"
        SAVING = "saving", "Saving"
        DONE = "done", "Done"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    # RESTRICT: a snapshot goes only with its project (which takes its runs along in the same delete).
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.RESTRICT, related_name="runs")
    model_name = models.CharField(max_length=limits.MODEL_NAME_MAX, validators=[validate_model_name])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.WAITING)
    # Settings.
    seed = models.PositiveIntegerField(default=0)
    max_epochs = models.PositiveIntegerField(default=0)
    # The step limit (a time budget chooses at most this many) and patience: the user's, or from the corpus size.
    max_steps = models.PositiveIntegerField(default=2000)
    patience = models.PositiveIntegerField(default=400)
    # "At most N minutes": the worker measures the machine and chooses the step limit (recorded in ``budget``).
    time_budget_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(limits.TIME_BUDGET_MINUTES_MAX)]
    )
    # Dropout and the batch sizes' range in words (ner.sizing: from the training side's size; the config's values
    # before that rule, hence these defaults for older runs).
    dropout = models.FloatField(default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(0.9)])
    batch_size_start = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1)])
    batch_size_stop = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1)])
    # Steps between dev evaluations; null: from the step limit (ner.sizing). Set only by a retraining with the
    # settings of a model whose time budget chose the frequency (ner.budget), so that it evaluates as that one did.
    eval_frequency = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    # What the NER layer trains on: "cnn" (from scratch) or the name of an encoder in settings.NERLAB_ENCODERS.
    representation = models.CharField(max_length=60, default="cnn")
    # Why, when nerlab chose it (ner.representation; "" when the user did).
    representation_reason = models.TextField(blank=True)
    # Teacher → student (ner.distill): the model whose labels of the project's untagged documents the CNN also
    # trains on. SET_NULL, not PROTECT: deleting a model is a confirmed user action, and a student outlives its
    # teacher (teacher_name and the student's meta.json keep saying which it was); a model that a queued or running
    # run still needs as teacher is refused by evaluation.services.trained_model_delete instead.
    teacher = models.ForeignKey(
        "evaluation.TrainedModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="students"
    )
    teacher_name = models.CharField(max_length=limits.MODEL_NAME_MAX, blank=True)
    # Teacher entities below this confidence are not trained on as entities (their tokens are unknown).
    silver_threshold = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # The untagged documents the teacher labels (test and gold texts left out), how many it has labelled so far,
    # and the entities it found there that the student trains on.
    untagged_documents = models.PositiveIntegerField(default=0)
    labelled_documents = models.PositiveIntegerField(default=0)
    silver_spans = models.PositiveIntegerField(default=0)
    # The pretrained CNN weights the run started from (evaluation.pretraining). RESTRICT: a pretraining in use is not
    # deleted alone, but goes with its project.
    pretraining = models.ForeignKey(
        "PretrainingRun", null=True, blank=True, on_delete=models.RESTRICT, related_name="training_runs"
    )
    # Which rule chose the settings ("" when the user gave them all), and why, in the user's words.
    settings_rule = models.CharField(max_length=40, blank=True)
    settings_reason = models.TextField(blank=True)
    # What the time budget chose: ner.budget.BudgetPlan.to_dict() (max_steps, measured speed, estimate).
    budget = models.JSONField(default=dict, blank=True)
    # Progress, written by the worker about once a second.
    percent = models.FloatField(default=0.0)
    epoch = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    dev_f1 = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    # With patience on: the step by which the run ends unless the dev score improves, and the seconds left if it
    # does not (ner.train.Progress).
    stop_step = models.PositiveIntegerField(null=True, blank=True)
    eta_early_s = models.FloatField(null=True, blank=True)
    stopped_early = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percent__gte=0, percent__lte=100), name="training_run_percent_range"
            ),
            models.CheckConstraint(
                condition=models.Q(max_steps__gt=0) | models.Q(max_epochs__gt=0), name="training_run_has_a_limit"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status}) of {self.project}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def trained_steps(self) -> int:
        """The step limit the model was trained with: the one its time budget chose, or the run's own."""
        return int(self.budget.get("max_steps") or self.max_steps)

    @property
    def trained_batch_sizes(self) -> tuple[int, int]:
        """The batch sizes (first, largest) the model was trained with: full-size from the first step when its time
        budget chose so (ner.budget)."""
        return (
            int(self.budget.get("batch_size_start") or self.batch_size_start),
            int(self.budget.get("batch_size_stop") or self.batch_size_stop),
        )

    @property
    def trained_eval_frequency(self) -> int | None:
        """Steps between dev evaluations the model was trained with, when its time budget or settings fixed them."""
        frequency = self.budget.get("evaluation_frequency") or self.eval_frequency
        return int(frequency) if frequency else None

    @property
    def elapsed_s(self) -> float | None:
        """Seconds since the run started, or its whole duration once finished."""
        if self.started_at is None:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()


class TrainedModel(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="trained_models")
    run = models.OneToOneField(TrainingRun, on_delete=models.RESTRICT, related_name="trained_model")
    name = models.CharField(max_length=limits.MODEL_NAME_MAX, validators=[validate_model_name])
    storage_path = models.CharField(max_length=300, help_text="Folder of the spaCy pipeline in Django's storage.")
    labels = models.JSONField(default=list)
    duration_s = models.FloatField()
    snapshot_documents = models.PositiveIntegerField()
    micro_f1 = models.FloatField()
    size_bytes = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="trained_model_unique_name")]

    def __str__(self) -> str:
        return self.name


class Evaluation(models.Model):
    model = models.OneToOneField(TrainedModel, on_delete=models.CASCADE, related_name="evaluation")
    report = models.JSONField(help_text="ner.metrics.EvaluationReport.to_dict()")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"evaluation of {self.model}"


class Prediction(models.Model):
    """What the model found in one test document (``position`` indexes the snapshot's test documents)."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="predictions")
    # The live document, for the "fix a tag" link; the snapshot keeps the frozen text and gold spans.
    document = models.ForeignKey(
        "labeling.Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=500)
    content_hash = models.CharField(max_length=64)
    spans = models.JSONField(default=list, help_text="[{start, end, label, confidence}]")
    error_count = models.PositiveIntegerField(default=0)
    outcome_counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["evaluation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "position"], name="prediction_unique_position"),
        ]

    def __str__(self) -> str:
        return f"prediction for {self.name}"


class PreannotationJob(HeartbeatJob):
    """A chosen model run over chosen documents in the background; what it finds becomes ``Suggestion`` rows."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="preannotation_jobs")
    model = models.ForeignKey(TrainedModel, on_delete=models.CASCADE, related_name="preannotation_jobs")
    document_ids = models.JSONField(default=list)
    min_confidence = models.FloatField(default=0.0)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    suggestion_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(HeartbeatJob.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_confidence__gte=0, min_confidence__lte=1),
                name="preannotation_min_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"pre-annotation {self.pk} with {self.model} ({self.status})"

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0


class LearningCurve(HeartbeatJob):
    """Training on growing shares of one snapshot's training side, each scored on the same test side."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="learning_curves")
    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.RESTRICT, related_name="learning_curves")
    percents = models.JSONField(default=list, help_text="Shares of the training side, e.g. [25, 50, 75, 100].")
    seed = models.PositiveIntegerField(default=0)
    max_steps = models.PositiveIntegerField(default=1000)
    # [{"percent", "documents", "instances", "micro_f1", "per_type": {label: {"f1", "instances"}}}], in order.
    points = models.JSONField(default=list, blank=True)
    # What the fitted curve says about more data: see ner.learning_curve.Projection.to_dict().
    projection = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"learning curve {self.pk} of {self.project} ({self.status})"

    @property
    def percent_done(self) -> float:
        return 100.0 * len(self.points) / len(self.percents) if self.percents else 0.0


class PretrainingRun(HeartbeatJob):
    """The CNN's tok2vec pretrained on the project's own text (``ner.pretrain``), in the background; a finished run's
    weights (``storage_path``/tok2vec.bin) are what a training may start from (``TrainingRun.pretraining``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pretraining_runs")
    language = models.CharField(max_length=35, help_text="The tokenizer's language: a BCP-47 code or xx.")
    seed = models.PositiveIntegerField(default=0)
    max_steps = models.PositiveIntegerField(default=1000, validators=[MinValueValidator(1)])
    percent = models.FloatField(default=0.0)
    step = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    # What it read: the project's documents outside the test side, tagged or not.
    document_count = models.PositiveIntegerField(default=0)
    characters = models.PositiveBigIntegerField(default=0)
    words = models.PositiveBigIntegerField(default=0)
    storage_path = models.CharField(max_length=300, blank=True, help_text="Folder of tok2vec.bin in Django's storage.")
    weights_sha256 = models.CharField(max_length=64, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"pretraining {self.pk} of {self.project} ({self.status})"


class SpeedMeasurement(HeartbeatJob):
    """How fast a representation trains and predicts on this server (``ner.train.measure_representation_speed``),
    measured by a worker in the background on the demo corpus; the training page lists the figures. One row per
    representation and identity (its files and the software that runs them: ``evaluation.encoders``), so a changed
    encoder folder or a new runtime is measured afresh."""

    representation = models.CharField(max_length=60)
    identity = models.CharField(max_length=64, help_text="SHA-256 of what the figures depend on.")
    train_words_per_second = models.FloatField(null=True, blank=True)
    predict_words_per_second = models.FloatField(null=True, blank=True)
    predict_words = models.PositiveIntegerField(default=0)
    # The worker machine that measured it: machines of a cluster may differ.
    host = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["representation", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["representation", "identity"], name="speed_measurement_unique_identity")
        ]

    def __str__(self) -> str:
        return f"speed of {self.representation} ({self.status})"

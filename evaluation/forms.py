from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from evaluation.encoders import AUTO_REPRESENTATION, representation_choices, representation_label
from evaluation.models import PretrainingRun, TrainedModel
from ner import limits


class TrainingRunForm(forms.Form):
    model_name = forms.CharField(
        max_length=limits.MODEL_NAME_MAX,
        required=False,
        help_text="Letters, digits and _ . - only. Left empty, the next free model-N is used.",
    )
    seed = forms.IntegerField(
        min_value=0, max_value=limits.SEED_MAX, initial=0, help_text="The same data and seed train the same model."
    )
    time_budget_minutes = forms.IntegerField(
        label="Time budget (minutes)",
        min_value=1,
        max_value=limits.TIME_BUDGET_MINUTES_MAX,
        required=False,
        help_text=(
            "Train for at most this many minutes: nerlab measures this machine's speed and chooses the step limit "
            "(up to max steps). Empty: no budget."
        ),
    )
    max_steps = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        required=False,
        help_text="Stop after this many updates (0: no step limit). Empty: from the corpus size.",
    )
    max_epochs = forms.IntegerField(
        min_value=0, max_value=10_000, initial=0, help_text="Stop after this many passes over the data (0: no limit)."
    )
    patience = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        required=False,
        help_text=(
            "Stop when the dev score has not improved for this many steps (0: never stop early). "
            "Empty: from the corpus size."
        ),
    )

    representation = forms.ChoiceField(
        initial=AUTO_REPRESENTATION,
        required=False,
        help_text=(
            "What the model learns on: nerlab's CNN, trained from scratch, a pretrained encoder this server "
            "offers (frozen, with a trained layer on top), or for a French project a spaCy pipeline (its word "
            "features under a new NER). Automatic: nerlab chooses from the project's language and the training "
            "side's size, and says why."
        ),
    )

    teacher = forms.ModelChoiceField(
        queryset=TrainedModel.objects.none(),
        required=False,
        empty_label="None: learn from the tags alone",
        help_text=(
            "Teacher → student: a slower model of this project, trained on a pretrained encoder, labels the untagged "
            "documents first, and the fast CNN learns from your tags and its labels: the CNN's speed with more of the "
            "teacher's F1 (CoNLL-2003 at 50 mentions per type: CNN 43.8, MiniLM teacher 72.6, student 65.3 F1, "
            "predicting 17 times faster than its teacher). Test documents and tagged ones are never relabelled."
        ),
    )
    silver_threshold = forms.FloatField(
        label="Teacher confidence threshold",
        min_value=0.0,
        max_value=1.0,
        required=False,
        help_text=(
            "With a teacher: its entities below this confidence are neither learnt as entities nor as plain text. "
            "Empty: 0.5."
        ),
    )

    pretraining = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Start from pretrained weights",
        help_text=(
            "The CNN starts from weights pretrained on this project's text (Pretraining page) instead of random ones; "
            "CNN only. Chosen by default when the CNN is trained: +4.4 F1 on CoNLL-2003 at 50 mentions per type."
        ),
    )

    def __init__(
        self, *args: Any, teachers: Any = None, pretrainings: Sequence[PretrainingRun] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # The project's models trained on an encoder (evaluation.selectors.teacher_model_list).
        teacher_field = self.fields["teacher"]
        teacher_field.queryset = teachers if teachers is not None else TrainedModel.objects.none()  # type: ignore[attr-defined]
        teacher_field.label_from_instance = lambda model: f"{model.name} ({model.run.representation})"  # type: ignore[attr-defined]
        # Offered only when the project has a finished pretraining to start from.
        if pretrainings:
            self.fields["pretraining"].choices = [  # type: ignore[attr-defined]
                ("", "No: random weights"),
                *((run.pk, _pretraining_label(run)) for run in pretrainings),
            ]
        else:
            del self.fields["pretraining"]
        # Read at each request: the choices are the server's configuration (NERLAB_ENCODERS).
        self.fields["representation"].choices = [  # type: ignore[attr-defined]
            (AUTO_REPRESENTATION, "Automatic"),
            *((choice, representation_label(choice)) for choice in representation_choices()),
        ]

    def clean_representation(self) -> str:
        return self.cleaned_data.get("representation") or AUTO_REPRESENTATION

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("max_steps") == 0 and data.get("max_epochs") == 0:
            raise forms.ValidationError("Set a step limit or an epoch limit: with neither, training would never end.")
        if data.get("time_budget_minutes") is not None and data.get("max_steps") == 0:
            self.add_error(
                "max_steps", "A time budget chooses the step limit up to this one: leave it empty or set a limit."
            )
        return data


def _pretraining_label(run: PretrainingRun) -> str:
    when = run.finished_at or run.created_at
    return f"Pretraining {run.pk} ({run.step:,} steps, {when:%Y-%m-%d %H:%M})"


class ModelCompareForm(forms.Form):
    a = forms.TypedChoiceField(coerce=int, label="Model A (baseline)")
    b = forms.TypedChoiceField(coerce=int, label="Model B")

    def __init__(self, *args: object, models: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["a"].choices = models  # type: ignore[attr-defined]
        self.fields["b"].choices = models  # type: ignore[attr-defined]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("a") is not None and data.get("a") == data.get("b"):
            raise forms.ValidationError("Choose two different models.")
        return data

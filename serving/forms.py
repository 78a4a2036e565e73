"""Forms for the deployment and "Try it" pages (parsing only; the rules live in serving.services)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from ner import limits
from serving.azure_wire import STRING_INDEX_TYPES, UNICODE_CODE_POINT

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from evaluation.models import TrainedModel
    from serving.models import Deployment


class DeployForm(forms.Form):
    name = forms.CharField(
        max_length=limits.DEPLOYMENT_NAME_MAX,
        help_text="Letters, digits and _ . - (e.g. production, staging). An existing name is redeployed.",
        widget=forms.TextInput(attrs={"list": "deployment-names", "autocomplete": "off"}),
    )
    model = forms.ModelChoiceField(queryset=None, empty_label=None, help_text="The trained model to serve.")

    def __init__(self, *args: Any, models: QuerySet[TrainedModel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = models  # type: ignore[attr-defined]
        self.fields["model"].label_from_instance = lambda m: (
            f"{m.name} (micro-F1 {m.micro_f1:.1%}, {m.created_at:%Y-%m-%d})"
        )  # type: ignore[attr-defined]


class SwapForm(forms.Form):
    first = forms.ModelChoiceField(queryset=None, to_field_name="name", empty_label=None)
    second = forms.ModelChoiceField(queryset=None, to_field_name="name", empty_label=None)

    def __init__(self, *args: Any, deployments: QuerySet[Deployment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in ("first", "second"):
            self.fields[field].queryset = deployments  # type: ignore[attr-defined]
            self.fields[field].label_from_instance = lambda d: f"{d.name} ({d.model.name})"  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("first") is not None and data.get("first") == data.get("second"):
            raise forms.ValidationError("Choose two different deployments to swap.")
        return data


class TryItForm(forms.Form):
    deployment = forms.ModelChoiceField(queryset=None, to_field_name="name", empty_label=None)
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "placeholder": "Paste a document here…"}),
        strip=False,
        max_length=limits.PREDICT_CHARS_MAX,
    )
    string_index_type = forms.ChoiceField(
        choices=[(value, value) for value in STRING_INDEX_TYPES],
        initial=UNICODE_CODE_POINT,
        required=False,
        label="Offsets in",
    )

    def __init__(self, *args: Any, deployments: QuerySet[Deployment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["deployment"].queryset = deployments  # type: ignore[attr-defined]
        self.fields["deployment"].label_from_instance = lambda d: f"{d.name} ({d.model.name})"  # type: ignore[attr-defined]

    def clean_text(self) -> str:
        # Kept unstripped (offsets count every character), so a text of spaces gets past "required".
        text: str = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Paste some text: this one is only spaces.")
        return text

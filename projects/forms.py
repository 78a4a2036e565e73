"""Forms for the projects pages. They parse input; the rules live in the models and services, whose
ValidationErrors ``add_service_error`` turns into form errors on the right field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.forms import BaseUserCreationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from projects.models import EntityType, Project
from projects.roles import ROLE_CHOICES, Role
from projects.services import PROJECT_EDITABLE_FIELDS

if TYPE_CHECKING:
    from django.db.models import QuerySet

# Paths under /projects/ that a project name would shadow (projects/new/ is the create page).

# Common BCP-47 codes for the language datalist; any valid code is accepted.
COMMON_LANGUAGES = (
    ("en", "English"), ("en-US", "English (US)"), ("en-GB", "English (UK)"), ("de", "German"),
    ("fr", "French"), ("es", "Spanish"), ("it", "Italian"), ("nl", "Dutch"), ("pt", "Portuguese"),
    ("pt-BR", "Portuguese (Brazil)"), ("pl", "Polish"), ("sv", "Swedish"), ("da", "Danish"), ("nb", "Norwegian"),
    ("fi", "Finnish"), ("cs", "Czech"), ("ru", "Russian"), ("uk", "Ukrainian"), ("tr", "Turkish"),
    ("el", "Greek"), ("ar", "Arabic"), ("he", "Hebrew"), ("hi", "Hindi"), ("ja", "Japanese"), ("ko", "Korean"),
    ("zh-Hans", "Chinese (Simplified)"), ("zh-Hant", "Chinese (Traditional)"),
)  # fmt: skip


def _friendly_constraint_messages() -> dict[str, tuple[str, str]]:
    """Django's default constraint message ("Constraint “x” is violated.") -> (field, message a user understands).

    Keyed by the exact message each constraint produces, so a constraint that later gets its own
    ``violation_error_message`` simply passes through unchanged.
    """
    wanted = {
        "entity_type_unique_hotkey": ("hotkey", "Another entity type in this project already uses this hotkey."),
        "entity_type_color_hex": ("color", "Colour must be a hex colour such as #8ecae6."),
        "entity_type_unique_name": ("name", "This project already has an entity type with this name."),
    }
    messages: dict[str, tuple[str, str]] = {}
    for constraint in EntityType._meta.constraints:
        if constraint.name in wanted:
            messages[str(constraint.get_violation_error_message())] = wanted[constraint.name]
    return messages


_CONSTRAINT_MESSAGES = _friendly_constraint_messages()


def add_validation_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach a service's ValidationError to ``form`` as it is: each field's messages to that field when the form
    has it, the rest to the form (``add_service_error`` below also rewords the database's constraint messages)."""
    fields = error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]
    for field, messages in fields:
        form.add_error(field if field in form.fields else None, messages)


@contextmanager
def service_errors(form: forms.BaseForm) -> Iterator[None]:
    """Around a page's service call: a ValidationError it raises goes onto ``form`` (``add_service_error``), so
    that after the block ``form.errors`` says whether the call was refused."""
    try:
        yield
    except ValidationError as error:
        add_service_error(form, error)


def add_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach a service's ValidationError to ``form``: field errors to their field, the rest to the form."""
    error_dict: dict[str, list[ValidationError]] = (
        error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
    )
    for field, errors in error_dict.items():
        for item in errors:
            message = " ".join(item.messages)
            target = field if field in form.fields else None
            if message in _CONSTRAINT_MESSAGES:
                target, message = _CONSTRAINT_MESSAGES[message]
            elif item.code == "unique_together" and "name" in form.fields:
                # (project, name) is the only unique_together-style rule a form here can break.
                target, message = "name", "This project already has an entity type with this name."
            if target not in form.fields:
                target = None
                if field != NON_FIELD_ERRORS:  # a field the form does not show: say which one
                    message = f"{field.replace('_', ' ').capitalize()}: {message}"
            form.add_error(target, message)


class ProjectCreateForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description", "language", "multilingual"]
        widgets = {
            "name": forms.TextInput(attrs={"pattern": r"[A-Za-z0-9_.\-]+", "autofocus": True}),
            "language": forms.TextInput(attrs={"list": "language-codes", "autocomplete": "off"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }


class ProjectEditForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = list(PROJECT_EDITABLE_FIELDS)
        widgets = {
            "language": forms.TextInput(attrs={"list": "language-codes", "autocomplete": "off"}),
            "description": forms.Textarea(attrs={"rows": 3}),
            "test_percent": forms.NumberInput(attrs={"min": 1, "max": 99}),
        }
        help_texts = {
            "test_percent": "Share of documents held out for testing in random split mode (1 to 99).",
            "split_seed": "Changing the seed reshuffles which documents are test documents.",
            "training_scope": "Which documents a training run uses.",
        }

    def clean_test_percent(self) -> int:
        # The database enforces 1..99 with a CheckConstraint, whose own message names only the constraint.
        value: int = self.cleaned_data["test_percent"]
        if not 1 <= value <= 99:
            raise ValidationError("Test percent must be between 1 and 99.")
        return value


class EntityTypeForm(forms.Form):
    name = forms.CharField(max_length=50, strip=False)
    color = forms.RegexField(
        regex=r"^#[0-9a-fA-F]{6}$",
        required=False,
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": "Colour must be a hex colour such as #8ecae6."},
    )
    hotkey = forms.CharField(max_length=1, required=False, strip=False, widget=forms.TextInput(attrs={"size": 2}))
    description = forms.CharField(required=False, max_length=1000, widget=forms.TextInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].help_text = "Up to 50 characters; not : $ & % * ( ) + ~ # / ?"
        self.fields["hotkey"].help_text = "One key, unique in the project (case-insensitive)."


class EntityTypeMergeForm(forms.Form):
    source = forms.ModelChoiceField(queryset=EntityType.objects.none(), label="Merge")
    target = forms.ModelChoiceField(queryset=EntityType.objects.none(), label="into")

    def __init__(self, *args: Any, entity_types: QuerySet[EntityType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = entity_types
        self.fields["target"].queryset = entity_types

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("source") and cleaned.get("source") == cleaned.get("target"):
            raise ValidationError("Choose two different entity types to merge.")
        return cleaned


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class InvitationForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.ANNOTATOR.value)
    email = forms.EmailField(required=False, help_text="Optional, for your records; nothing is sent.")


class SignUpForm(BaseUserCreationForm):
    """Username and password twice, checked by AUTH_PASSWORD_VALIDATORS; only reachable through an invitation."""

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        user_model = self._meta.model
        if user_model._default_manager.filter(username__iexact=username).exists():
            raise ValidationError("That username is taken; choose another, or sign in if it is yours.")
        return username


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. 'nightly import script'.")
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        required=False,
        empty_label="User key: acts with my roles in all my projects",
        label="Scope",
        help_text="A project key can only call the prediction API of that one project.",
    )

    def __init__(self, *args: Any, projects: QuerySet[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        self.fields["project"].label_from_instance = lambda project: f"Project key: {project.name}"

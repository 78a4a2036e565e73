from __future__ import annotations

from django import forms

from ner import limits


class ProjectCloneForm(forms.Form):
    name = forms.CharField(max_length=limits.PROJECT_NAME_MAX, help_text="The new project's name.")
    include_models = forms.BooleanField(
        required=False, help_text="Copy the trained models too, with their evaluations (they can be deployed at once)."
    )


class ArchiveImportForm(forms.Form):
    archive = forms.FileField(help_text="A .nerlab.zip made by “Export everything”.")
    name = forms.CharField(
        max_length=limits.PROJECT_NAME_MAX, required=False, help_text="Leave empty to keep the archive's name."
    )
    include_models = forms.BooleanField(required=False, initial=True, help_text="Restore trained models too.")
    restore_members = forms.BooleanField(
        required=False,
        help_text="Give members listed in the archive their roles back (users that exist here). Only a superuser's "
        "import does; anyone else's lists them to invite.",
    )

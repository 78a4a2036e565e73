"""Forms for the document pages: input parsing only; the rules live in services and ``ner``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from labeling.imports import AUTO, ImportOptions
from labeling.models import Document
from labeling.selectors import SPLIT_AUTO
from ner.formats import FORMATS
from projects.models import EntityType

SPLIT_FILTER_CHOICES = [("", "Any split"), ("train", "Train"), ("test", "Test"), (SPLIT_AUTO, "Automatic")]
SPLIT_EDIT_CHOICES = [(SPLIT_AUTO, "Automatic (project rule)"), ("train", "Train"), ("test", "Test")]
# Offered in the language box; any BCP-47 code may be typed.
COMMON_LANGUAGES = ["en", "en-US", "en-GB", "de", "fr", "es", "it", "pt", "pt-BR", "nl", "pl", "sv", "da", "fi",
                    "nb", "cs", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"]  # fmt: skip


class DocumentFilterForm(forms.Form):
    search = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Document.Status.choices])
    entity_type = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Entity type")
    split = forms.ChoiceField(required=False, choices=SPLIT_FILTER_CHOICES)

    def __init__(self, *args: Any, entity_types: Iterable[EntityType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity_type"].choices = [("", "Any entity type")] + [(t.pk, t.name) for t in entity_types]  # type: ignore[attr-defined]

    def criteria(self) -> dict[str, Any]:
        """The selector's keyword arguments; a filter with a bad value (an old link) is simply not applied."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "search": data.get("search") or "",
            "status": data.get("status") or "",
            "entity_type_id": data.get("entity_type"),
            "split": data.get("split") or "",
        }


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".txt,.zip,text/plain,application/zip"}))
        # An empty file is refused by the upload service, with its name; Django's own message would not name it.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class DocumentUploadForm(forms.Form):
    files = MultipleFileField(
        label="Text files",
        help_text="One or more UTF-8 or UTF-16 .txt files, or .zip archives of them.",
        error_messages={"required": "Choose at least one .txt or .zip file to upload."},
    )


class IdListField(forms.Field):
    """A list of document ids from checkboxes or hidden inputs."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return sorted({int(item) for item in value})
        except (TypeError, ValueError):
            raise ValidationError("Document ids must be whole numbers.") from None


class DocumentBulkDeleteForm(forms.Form):
    ids = IdListField(required=True, error_messages={"required": "Select the documents to delete first."})


class DocumentUpdateForm(forms.Form):
    language = forms.CharField(
        required=False,
        max_length=35,
        help_text="BCP-47 code such as en, de or pt-BR; blank means the project's language.",
        widget=forms.TextInput(attrs={"list": "language-codes", "autocomplete": "off"}),
    )
    split = forms.ChoiceField(choices=SPLIT_EDIT_CHOICES, initial=SPLIT_AUTO)

    @classmethod
    def for_document(cls, document: Document) -> DocumentUpdateForm:
        return cls(initial={"language": document.language, "split": document.split or SPLIT_AUTO})

    def changes(self) -> dict[str, str]:
        split = self.cleaned_data["split"]
        return {"language": self.cleaned_data["language"], "split": "" if split == SPLIT_AUTO else split}


class DocumentBulkAssignForm(forms.Form):
    """The document list's checkboxes and the member to assign them to ("" unassigns them)."""

    ids = IdListField(required=True, error_messages={"required": "Select the documents to assign first."})
    assigned_to = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Assign to")

    def __init__(self, *args: Any, members: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = {member.pk: member for member in members}
        choices = [("", "Nobody (unassign)")] + [(pk, member.username) for pk, member in self.members.items()]
        self.fields["assigned_to"].choices = choices  # type: ignore[attr-defined]

    def assignee(self) -> Any:
        pk = self.cleaned_data.get("assigned_to")
        return None if pk is None else self.members[pk]


# --- import and export -----------------------------------------------------------------------------------------------

FORMAT_CHOICES = [(name, f"{name} — {spec.description}") for name, spec in FORMATS.items()]
SCHEME_CHOICES = [("", "Detect from the tags"), ("iob1", "IOB1"), ("iob2", "IOB2 (BIO)"), ("bioes", "BIOES / BILOU"),
                  ("io", "IO")]  # fmt: skip


class DocumentImportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[(AUTO, "auto — tell the format from the file's content"), *FORMAT_CHOICES],
        initial=AUTO,
        label="Format",
    )
    file = forms.FileField(
        label="File",
        allow_empty_file=True,  # the import explains an empty file itself, naming it
        error_messages={"required": "Choose the file to import."},
    )
    texts = forms.FileField(
        label="Texts (Azure labels JSON only)",
        required=False,
        allow_empty_file=True,
        help_text="When the labels JSON comes on its own: a .zip of the .txt files it names.",
    )
    scheme = forms.ChoiceField(choices=SCHEME_CHOICES, required=False, label="Tag scheme (CoNLL)")
    wikiann = forms.BooleanField(required=False, label="WikiANN: tokens carry a language prefix (en:Paris)")
    documents = forms.ChoiceField(
        choices=[
            ("auto", "One per -DOCSTART- block (one per sentence when there is none)"),
            ("sentence", "One per sentence (e.g. Label Studio's CoNLL export of several tasks)"),
            ("docstart", "One per -DOCSTART- block"),
        ],
        required=False,
        initial="auto",
        label="Documents (CoNLL)",
    )
    token_column = forms.IntegerField(
        required=False, min_value=1, max_value=50, label="Token column (CoNLL)", help_text="Counted from 1; blank: 1."
    )
    tag_column = forms.IntegerField(
        required=False, min_value=0, max_value=50, label="Tag column (CoNLL)", help_text="Counted from 1; blank: last."
    )
    header = forms.BooleanField(required=False, label="CoNLL: the first line names the columns")
    comments = forms.BooleanField(required=False, label="CoNLL: skip lines starting with # (GermEval)")
    text_key = forms.CharField(
        required=False, max_length=200, label="Text field (doccano, Label Studio)", help_text="Blank: text."
    )
    label_key = forms.CharField(
        required=False, max_length=200, label="Span field (doccano)", help_text="Blank: label, labels, entities."
    )
    skip_missing_text = forms.BooleanField(
        required=False, label="doccano: skip records without text (the report lists them) instead of refusing"
    )
    create_missing_types = forms.BooleanField(required=False, label="Create missing entity types")

    def options(self) -> ImportOptions:
        return import_options(self.cleaned_data)


def import_options(data: Mapping[str, Any]) -> ImportOptions:
    """The options of an import, from this page's form or the API's ``ImportInputSerializer`` (the same field
    names): a field left blank on the page means what the API's default means."""
    return ImportOptions(
        create_missing_types=data["create_missing_types"],
        scheme=data.get("scheme") or None,
        wikiann=data["wikiann"],
        documents=data["documents"] or "auto",
        token_column=data["token_column"] or 1,
        tag_column=data["tag_column"] or 0,
        header=data["header"],
        comments=data["comments"],
        text_key=data["text_key"],
        label_key=data["label_key"],
        skip_missing_text=data["skip_missing_text"],
    )


class DocumentExportForm(forms.Form):
    format = forms.ChoiceField(choices=FORMAT_CHOICES, label="Format")
    scheme = forms.ChoiceField(choices=SCHEME_CHOICES[1:], required=False, initial="iob2", label="Tag scheme (CoNLL)")
    tokenizer = forms.ChoiceField(
        choices=[
            ("spacy", "The project language's tokenizer (as training sees it)"),
            ("whitespace", "Whitespace: keep the words as they are"),
        ],
        required=False,
        initial="spacy",
        label="Tokens (CoNLL)",
    )

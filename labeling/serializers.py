"""Input and output serializers for the document and span API. Parsing and shaping only; rules live in services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.forms import import_options
from labeling.imports import AUTO, DOCUMENT_MODES, ImportOptions
from labeling.models import Document, ImportJob, Span
from labeling.selectors import SPLIT_AUTO
from ner.formats import FORMATS
from ner.formats.conll import SCHEMES
from projects.models import ROW_ID_MAX
from projects.serializer_fields import TextField, URLField

SPLIT_CHOICES = [("train", "Train"), ("test", "Test"), (SPLIT_AUTO, "Automatic (the project's split rule)")]


# A pattern, not an enum: drf-spectacular names every enum of a field called "split" SplitEnum, and the stored
# split (train, test) and this input (train, test, auto) would collide under that one name.
@extend_schema_field({"type": "string", "pattern": f"^(train|test|{SPLIT_AUTO})?$"})
class SplitChoiceField(serializers.ChoiceField):
    """train, test, or auto (no manual split: the project's split rule decides)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=SPLIT_CHOICES, allow_blank=True, required=False, **kwargs)


class DocumentFilterSerializer(serializers.Serializer):
    search = TextField(required=False, allow_blank=True, max_length=200)
    status = serializers.ChoiceField(required=False, allow_blank=True, choices=Document.Status.choices)
    entity_type = serializers.IntegerField(
        required=False, min_value=1, max_value=ROW_ID_MAX, help_text="Documents with a span of this type."
    )
    split = SplitChoiceField(help_text="'auto' keeps documents without a manual split.")

    def criteria(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "search": data.get("search", ""),
            "status": data.get("status", ""),
            "entity_type_id": data.get("entity_type"),
            "split": data.get("split", ""),
        }


class DocumentOutputSerializer(serializers.ModelSerializer):
    span_count = serializers.IntegerField(read_only=True)
    # Blank is stored and returned: no manual split, the project's rule decides (the schema's enum must say so).
    split = serializers.ChoiceField(choices=Document._meta.get_field("split").choices, allow_blank=True, read_only=True)
    effective_language = TextField(read_only=True, help_text="The document's language or the project's.")

    class Meta:
        model = Document
        fields = [
            "id",
            "name",
            "char_count",
            "language",
            "effective_language",
            "status",
            "split",
            "span_count",
            "assigned_to",
            "tagged_by",
            "tagged_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DocumentPageSerializer(serializers.Serializer):
    """A page of documents: how many there are in all, links to the next and previous pages, and this page's."""

    count = serializers.IntegerField()
    next = URLField(allow_null=True)
    previous = URLField(allow_null=True)
    results = DocumentOutputSerializer(many=True)


# The fields every span-like row (a gold span, a suggestion, an annotator's tag) answers with, in this order.
SPAN_FIELDS = ["id", "entity_type", "entity_type_name", "start", "end", "text"]


class CoveredTextMixin(serializers.Serializer):
    # text: what a span-like row (start, end) covers of its document's text. (A comment, not a docstring: the API
    # schema would show a docstring as the description of every serializer built on this one.)

    text = serializers.SerializerMethodField(help_text="The covered text.")

    def get_text(self, span: Any) -> str:
        text: str | None = self.context.get("text")  # passed in so that a document's spans read its text once
        if text is None:
            text = span.document.text
        return text[span.start : span.end]


class SpanOutputSerializer(CoveredTextMixin, serializers.ModelSerializer):
    entity_type_name = TextField(source="entity_type.name", read_only=True)

    class Meta:
        model = Span
        fields = [*SPAN_FIELDS, "created_by", "created_at"]
        read_only_fields = fields


class SnappedMixin(serializers.Serializer):
    """The response to creating a span says whether the stored bounds differ from the ones asked for, so that a
    client never has to compare offsets to learn that a token-mode project widened its selection."""

    snapped = serializers.SerializerMethodField(
        help_text="True when the stored start/end differ from the requested ones (widened to whole tokens)."
    )

    def get_snapped(self, span: Any) -> bool:
        requested: tuple[int, int] = self.context["requested"]
        return (span.start, span.end) != requested


class SpanCreateOutputSerializer(SnappedMixin, SpanOutputSerializer):
    class Meta(SpanOutputSerializer.Meta):
        fields = [*SpanOutputSerializer.Meta.fields, "snapped"]
        read_only_fields = fields


class DocumentDetailOutputSerializer(DocumentOutputSerializer):
    """A document with its text and spans."""

    # The view passes the spans in context["spans"].

    text = TextField(read_only=True)
    spans = serializers.SerializerMethodField()

    meta = serializers.DictField(
        child=TextField(),
        read_only=True,
        help_text="What the imported file said about the document besides text and spans (metadata).",
    )

    class Meta(DocumentOutputSerializer.Meta):
        fields = [*DocumentOutputSerializer.Meta.fields, "text", "spans", "meta"]
        read_only_fields = fields

    @extend_schema_field(SpanOutputSerializer(many=True))
    def get_spans(self, document: Document) -> list[dict[str, Any]]:
        return SpanOutputSerializer(self.context["spans"], many=True, context={"text": document.text}).data

    def to_representation(self, document: Document) -> dict[str, Any]:
        document.span_count = len(self.context["spans"])  # type: ignore[attr-defined]
        return super().to_representation(document)


class DocumentUploadInputSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text="One or more .txt files (UTF-8, or UTF-16 with a byte order mark) or .zip archives of them; "
        "repeat the multipart field for several files.",
    )


class CreatedDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = TextField()


class DocumentUploadOutputSerializer(serializers.Serializer):
    created = CreatedDocumentSerializer(many=True)
    duplicates = serializers.ListField(child=TextField(), help_text="Skipped: the text is already there.")


class UploadErrorSerializer(serializers.Serializer):
    errors = serializers.ListField(child=TextField(), help_text="Every problem; nothing was written.")
    duplicates = serializers.ListField(child=TextField())


class DocumentUpdateInputSerializer(serializers.Serializer):
    language = TextField(required=False, allow_blank=True, max_length=35)
    split = SplitChoiceField(help_text="'auto' (or blank) leaves the split to the project's rule.")
    status = serializers.ChoiceField(required=False, choices=Document.Status.choices)
    assigned_to = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="User id of a project member; null unassigns."
    )


class SpanCreateInputSerializer(serializers.Serializer):
    entity_type = serializers.IntegerField(min_value=1, help_text="Id of one of the project's entity types.")
    start = serializers.IntegerField(min_value=0, help_text="Offset in Unicode code points.")
    end = serializers.IntegerField(min_value=0, help_text="Offset in Unicode code points, exclusive.")


class ErrorSerializer(serializers.Serializer):
    detail = TextField()


class SpanUpdateInputSerializer(serializers.Serializer):
    entity_type = serializers.IntegerField(min_value=1, help_text="Id of one of the project's entity types.")
    expected_entity_type = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="Id of the type the span had when you read it: if someone changed it since, the change is "
        "refused (409) rather than overwriting theirs. Left out, the new type replaces whatever is stored.",
    )


# --- import and export ------------------------------------------------------------------------------------------------


class ImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="The file to import.")
    format = serializers.ChoiceField(
        choices=[AUTO, *FORMATS],
        required=False,
        default=AUTO,
        help_text="One of nerlab's formats, or auto (the default): told from the file's content.",
    )
    texts = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text="Azure only: a .zip of the .txt files, when `file` is the labels JSON on its own.",
    )
    create_missing_types = serializers.BooleanField(
        required=False, default=False, help_text="Create the entity types the file uses and the project lacks."
    )
    scheme = serializers.ChoiceField(
        choices=list(SCHEMES), required=False, allow_blank=True, help_text="CoNLL tag scheme; blank detects it."
    )
    wikiann = serializers.BooleanField(
        required=False, default=False, help_text="CoNLL: tokens carry WikiANN's language prefix (en:Paris)."
    )
    documents = serializers.ChoiceField(
        choices=list(DOCUMENT_MODES),
        required=False,
        default="auto",
        help_text="CoNLL: one document per -DOCSTART- block (auto, when there are any) or per sentence.",
    )
    token_column = serializers.IntegerField(
        required=False, default=1, min_value=1, max_value=50, help_text="CoNLL: the token's column, from 1."
    )
    tag_column = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=50, help_text="CoNLL: the tag's column from 1; 0: last."
    )
    header = serializers.BooleanField(required=False, default=False, help_text="CoNLL: skip a header row.")
    comments = serializers.BooleanField(required=False, default=False, help_text="CoNLL: skip lines starting #.")
    text_key = TextField(
        required=False, default="", allow_blank=True, max_length=200, help_text="doccano/Label Studio: text field."
    )
    label_key = TextField(
        required=False, default="", allow_blank=True, max_length=200, help_text="doccano: the spans' field."
    )
    skip_missing_text = serializers.BooleanField(
        required=False, default=False, help_text="doccano: skip records without text (listed in the report)."
    )

    def options(self) -> ImportOptions:
        return import_options(self.validated_data)


class ImportProblemSerializer(serializers.Serializer):
    file = TextField()
    where = TextField(help_text="The line or document, e.g. \"document 3 ('a.txt')\" or 'line 12'.")
    field = TextField(help_text="The field or span at fault.")
    message = TextField()


class ImportReportSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Documents in the file: accepted + rejected + duplicates.")
    accepted = serializers.IntegerField(help_text="Documents that passed every check (stored when `written`).")
    rejected = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Texts already in the project or repeated in the file.")
    written = serializers.BooleanField(help_text="Whether the documents were stored; false when any problem.")
    problem_count = serializers.IntegerField()
    problems = ImportProblemSerializer(many=True, help_text="The first 1,000 problems.")
    missing_types = serializers.ListField(child=TextField())
    created_types = serializers.ListField(child=TextField())
    already_present = ImportProblemSerializer(many=True, help_text="Duplicates whose spans differ from the stored.")
    format = TextField(help_text="The format the file was read in (the detected one for auto).")
    notes = serializers.ListField(child=TextField(), help_text="What was skipped, and how it was read.")


class ImportJobOutputSerializer(serializers.ModelSerializer):
    report = serializers.SerializerMethodField()
    created_by = serializers.StringRelatedField()
    # A plain string, not an enum: drf-spectacular would name it StatusEnum, colliding with the documents' status.
    status = TextField(help_text="queued, running, succeeded (imported) or failed (nothing written).")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "format",
            "file_name",
            "texts_file_name",
            "size_bytes",
            "options",
            "status",
            "progress",
            "total",
            "accepted",
            "rejected",
            "duplicates",
            "error",
            "report",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(ImportReportSerializer(allow_null=True))
    def get_report(self, job: ImportJob) -> dict[str, Any] | None:
        return job.report or None


class ExportQuerySerializer(DocumentFilterSerializer):
    format = serializers.ChoiceField(choices=list(FORMATS))
    scheme = serializers.ChoiceField(choices=list(SCHEMES), required=False, default="iob2")
    tokenizer = serializers.ChoiceField(
        choices=["spacy", "whitespace"],
        required=False,
        default="spacy",
        help_text="CoNLL tokens: the project language's tokenizer (as training sees it) or whitespace.",
    )

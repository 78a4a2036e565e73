from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from labeling.imports import AUTO, DOCUMENT_MODES, ImportOptions, project_import_file
from ner.formats import FORMATS
from portability.management.commands._common import ProjectCommand, acting_user, options_named
from projects.models import Project

# The ImportOptions this command has an option for (all but WikiANN's, which the upload page offers).
_IMPORT_OPTIONS = (
    "create_missing_types",
    "scheme",
    "documents",
    "token_column",
    "tag_column",
    "header",
    "comments",
    "text_key",
    "label_key",
    "skip_missing_text",
)


class Command(ProjectCommand):
    help = (
        "Import labelled documents from a file into a project, validated whole first (nothing is written when any "
        "document has a problem). Exit status 0 only when the import was written."
    )

    def add_project_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", default=AUTO, choices=[AUTO, *sorted(FORMATS)], help="Default auto: told from the content."
        )
        parser.add_argument("--texts", type=Path, help="Azure labels JSON: the .txt files as a zip (or one .txt).")
        parser.add_argument("--create-missing-types", action="store_true", help="Create entity types the file uses.")
        parser.add_argument("--scheme", help="CoNLL tag scheme (detected when not given).")
        parser.add_argument("--documents", choices=DOCUMENT_MODES, default="auto", help="CoNLL: documents by.")
        parser.add_argument("--token-column", type=int, default=1, help="CoNLL: the token's column from 1.")
        parser.add_argument("--tag-column", type=int, default=0, help="CoNLL: the tag's column from 1 (0: last).")
        parser.add_argument("--header", action="store_true", help="CoNLL: skip the first line (column names).")
        parser.add_argument("--comments", action="store_true", help="CoNLL: skip lines starting with #.")
        parser.add_argument("--text-key", default="", help="doccano/Label Studio: the text's field.")
        parser.add_argument("--label-key", default="", help="doccano: the spans' field.")
        parser.add_argument("--skip-missing-text", action="store_true", help="doccano: skip records without text.")
        parser.add_argument("--user", help="Username recorded as uploader.")

    def handle_project(self, project: Project, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        texts: Path | None = options["texts"]
        if texts is not None and not texts.is_file():
            raise CommandError(f"{texts} is not a file.")
        report = project_import_file(
            project=project,
            user=acting_user(options["user"]),
            format=options["format"],
            data=path.read_bytes(),
            file_name=path.name,
            options=ImportOptions(**options_named(options, *_IMPORT_OPTIONS)),
            texts_data=texts.read_bytes() if texts else None,
            texts_file_name=texts.name if texts else "",
        )
        for problem in report.problems[:50]:
            self.stderr.write(f"  {problem}")
        if report.problem_count > 50:
            self.stderr.write(f"  ... and {report.problem_count - 50} more problems")
        for note in report.notes:
            self.stdout.write(f"  {note}")
        if report.missing_types and not report.created_types:
            self.stderr.write(
                f"Unknown entity types: {', '.join(report.missing_types)} (add --create-missing-types to create them)."
            )
        if not report.written:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))

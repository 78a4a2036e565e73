from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from labeling.imports import ExportError, project_export_file
from ner.formats import FORMATS
from portability.archive import project_archive_write
from portability.management.commands._common import ProjectCommand, options_named
from projects.models import Project


class Command(ProjectCommand):
    help = "Export a project's labelled documents in one format (optionally filtered), or everything (--archive)."

    def add_project_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="The file to write.")
        parser.add_argument("--format", choices=sorted(FORMATS))
        parser.add_argument("--archive", action="store_true", help="The whole project as one zip (models included).")
        parser.add_argument("--no-models", action="store_true", help="With --archive: leave the models out.")
        parser.add_argument("--status", default="", choices=["", "untagged", "in_progress", "tagged"])
        parser.add_argument("--split", default="", choices=["", "train", "test"])
        parser.add_argument("--search", default="", help="Only documents whose name or text contains this.")
        parser.add_argument("--scheme", default="iob2", help="CoNLL: iob2, iob1, bioes or io.")
        parser.add_argument("--tokenizer", default="spacy", choices=["spacy", "whitespace"])

    def handle_project(self, project: Project, **options: Any) -> None:
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(f"The folder {out.parent} does not exist.")
        if options["archive"]:
            with out.open("wb") as handle:
                project_archive_write(project=project, output=handle, include_models=not options["no_models"])
            self.stdout.write(self.style.SUCCESS(f"Wrote {out} ({out.stat().st_size:,} bytes): the whole project."))
            return
        if not options["format"]:
            raise CommandError("Choose --format (one of " + ", ".join(sorted(FORMATS)) + ") or --archive.")
        try:
            exported = project_export_file(
                project=project, **options_named(options, "format", "status", "split", "search", "scheme", "tokenizer")
            )
        except ExportError as error:
            raise CommandError(f"These documents cannot be written as {options['format']}:\n{error}") from None
        out.write_bytes(exported.data)
        self.stdout.write(self.style.SUCCESS(f"Wrote {out} ({len(exported.data):,} bytes, {options['format']})."))

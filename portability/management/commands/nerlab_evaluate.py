from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from evaluation.models import Evaluation
from ner.metrics import EvaluationReport, azure_summary
from portability.management.commands._common import ProjectCommand, model_named
from projects.models import Project


class Command(ProjectCommand):
    help = (
        "Print a model's evaluation (micro/macro P/R/F1, per type, and per language when the test set has several). "
        "With --min-f1, exit non-zero when the micro F1 is below it: a quality gate for CI/CD. --json prints Azure's "
        "evaluation summary shape."
    )

    def add_project_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True)
        parser.add_argument("--json", action="store_true", help="Azure's customEntityRecognitionEvaluation JSON.")
        parser.add_argument("--min-f1", type=float, help="Fail (exit 1) when micro F1 is below this (0-1).")

    def handle_project(self, project: Project, **options: Any) -> None:
        model = model_named(project, options["model"])
        evaluation = Evaluation.objects.filter(model=model).first()
        if evaluation is None:
            raise CommandError(f"Model {model.name} has no evaluation.")
        threshold = options["min_f1"]
        if threshold is not None and not 0 <= threshold <= 1:
            raise CommandError("--min-f1 is a fraction between 0 and 1, e.g. 0.8.")
        report = EvaluationReport.from_dict(evaluation.report)
        if options["json"]:
            self.stdout.write(json.dumps(azure_summary(report), indent=2))
        else:
            self.stdout.write(
                f"{project.name}/{model.name}: micro P {report.micro.precision:.3f} R {report.micro.recall:.3f} "
                f"F1 {report.micro.f1:.3f} · macro F1 {report.macro.f1:.3f}"
            )
            for scores in report.types:
                exact = scores.exact
                self.stdout.write(
                    f"  {scores.label:<30} P {exact.precision:.3f} R {exact.recall:.3f} F1 {exact.f1:.3f} "
                    f"(tp {exact.tp}, fp {exact.fp}, fn {exact.fn})"
                )
            if report.languages:
                self.stdout.write("per language:")
            for language in report.languages:
                exact = language.exact
                self.stdout.write(
                    f"  {language.language:<30} P {exact.precision:.3f} R {exact.recall:.3f} F1 {exact.f1:.3f} "
                    f"(support {exact.gold}, {language.documents} documents)"
                )
        if threshold is not None and report.micro.f1 < threshold:
            raise CommandError(f"Micro F1 {report.micro.f1:.3f} is below the required {threshold:.3f}.")

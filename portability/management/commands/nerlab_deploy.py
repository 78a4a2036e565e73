from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from portability.management.commands._common import ProjectCommand, acting_user, model_named
from projects.models import Project
from serving.services import deployment_create_or_replace


class Command(ProjectCommand):
    help = "Deploy a trained model under a deployment name (created, or pointed at the new model)."

    def add_project_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--deployment", required=True)
        parser.add_argument("--model", required=True)
        parser.add_argument("--user", help="Username recorded as deployer.")

    def handle_project(self, project: Project, **options: Any) -> None:
        model = model_named(project, options["model"])
        try:
            deployment, created = deployment_create_or_replace(
                project=project, name=options["deployment"], model=model, user=acting_user(options["user"])
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        verb = "created" if created else "now serves"
        self.stdout.write(self.style.SUCCESS(f"Deployment {deployment.name} {verb} model {model.name}."))

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation import services
from evaluation.models import TrainingRun
from portability.management.commands._common import acting_user, project_named


class Command(BaseCommand):
    help = (
        "Train a model on the project's current documents. With --wait, print progress until it ends; the exit "
        "status is 0 only when the training succeeded. --inline trains in this process (no Celery worker needed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        parser.add_argument("--model", required=True, help="Name of the new model.")
        defaults = services.training_settings_defaults()
        parser.add_argument("--seed", type=int, default=defaults["seed"])
        parser.add_argument("--max-steps", type=int, default=defaults["max_steps"])
        parser.add_argument("--max-epochs", type=int, default=defaults["max_epochs"])
        parser.add_argument("--patience", type=int, default=defaults["patience"])
        parser.add_argument("--wait", action="store_true", help="Wait for the end and report it.")
        parser.add_argument("--inline", action="store_true", help="Train here instead of in a worker (implies --wait).")
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between progress lines.")
        parser.add_argument("--user", help="Username recorded as requester.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_named(options["project"])
        try:
            run = services.training_run_start(
                project=project,
                user=acting_user(options["user"]),
                model_name=options["model"],
                seed=options["seed"],
                max_steps=options["max_steps"],
                max_epochs=options["max_epochs"],
                patience=options["patience"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Training run {run.pk} for model {run.model_name} queued.")
        if options["inline"]:
            services.training_run_execute(run_id=run.pk)
        elif not options["wait"]:
            return
        last = ""
        while True:
            run.refresh_from_db()
            line = f"{run.status} · {run.phase} · {run.percent:.0f}% · step {run.step}"
            if run.loss is not None:
                line += f" · loss {run.loss:.3f}"
            if run.dev_f1 is not None:
                line += f" · dev F1 {run.dev_f1:.3f}"
            if line != last:
                self.stdout.write(line)
                last = line
            if run.status in TrainingRun.FINISHED:
                break
            time.sleep(options["poll"])
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training {run.status}: {run.error or 'no model was saved.'}")
        model = run.trained_model  # type: ignore[attr-defined]
        self.stdout.write(self.style.SUCCESS(f"Model {model.name} trained: micro F1 {model.micro_f1:.3f}."))

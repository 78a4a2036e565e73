"""``python manage.py create_api_key --user USERNAME [--project NAME] [--name N]``: an API key for scripts and CI.

Without --project the key is a *user key* (it acts with the user's roles on every project); with --project it is
a *project key* that can only call that project's prediction API, and the user must be allowed to deploy there.
The key is printed alone on the last line of the output (``| tail -n1``); only its hash is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from projects import selectors, services
from projects.roles import Permission


class Command(BaseCommand):
    help = "Create an API key and print it (alone, on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The username the key acts for.")
        parser.add_argument("--project", default="", help="Make a project key that can only predict on this project.")
        parser.add_argument("--name", default="", help="A name to recognise the key by in the key list.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model()._default_manager.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        if not user.is_active:
            raise CommandError(f"The user {user.get_username()!r} is inactive; their keys would not work.")
        project = None
        if options["project"]:
            try:
                project = selectors.project_get_for_user(
                    user=user, name=options["project"], permission=Permission.DEPLOY
                )
            except Http404:
                raise CommandError(
                    f"{user.get_username()} is not a member of a project named {options['project']!r}."
                ) from None
            except PermissionDenied as error:
                raise CommandError(f"{error} Project keys are handed out by the project's owners.") from None
        name = options["name"] or (f"{project.name} prediction key" if project else "command-line key")
        try:
            api_key, raw = services.api_key_create(user=user, name=name, project=project)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        scope = f"project key for {project.name} (prediction only)" if project else "user key (acts with your roles)"
        self.stdout.write(f"Created API key {api_key.name!r} ({api_key.prefix}…), a {scope}.")
        self.stdout.write("It is shown only this once; store it now. Revoke it at /account/api-keys/.")
        self.stdout.write(raw)

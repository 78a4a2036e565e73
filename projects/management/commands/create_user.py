"""``python manage.py create_user USERNAME``: accounts for a nerlab without open sign-up.

Without --password a random password is generated and printed once. An existing user is an error unless
--update-password is given, which sets a new password (and the other given options) on it.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = "Create a user account (or, with --update-password, set a new password on an existing one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="Email address (optional).")
        parser.add_argument(
            "--password", default=None, help="Password; when omitted a random one is generated and printed."
        )
        parser.add_argument("--superuser", action="store_true", help="Make the user a superuser (admin site access).")
        parser.add_argument(
            "--update-password",
            action="store_true",
            help="If the user exists, set the new password instead of failing.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username: str = options["username"].strip()
        if not username:
            raise CommandError("The username must not be empty.")
        existing = user_model._default_manager.filter(username__iexact=username).first()
        if existing is not None and not options["update_password"]:
            raise CommandError(
                f"A user named {existing.get_username()!r} already exists. "
                "Use --update-password to set a new password for it."
            )
        generated = options["password"] is None
        password: str = secrets.token_urlsafe(12) if generated else options["password"]

        user = existing or user_model(username=username)
        if options["email"]:
            user.email = options["email"]
        if options["superuser"]:
            user.is_staff = True
            user.is_superuser = True
        try:
            user.full_clean(exclude=["password"])
            if not generated:
                validate_password(password, user)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        user.set_password(password)
        user.save()

        action = "Updated" if existing else "Created"
        kind = "superuser" if user.is_superuser else "user"
        self.stdout.write(self.style.SUCCESS(f"{action} {kind} {user.get_username()}."))
        if generated:
            self.stdout.write(f"Password: {password}")
            self.stdout.write("It is shown only this once; the user can change it in the admin or with this command.")

"""Create the demo project (once) and a demo user, and print how to sign in.

The demo data ships in demo/ (licence-clean; see demo/ATTRIBUTION.md). Running the command again leaves an
existing demo project as it is, so `make run` can call it every time.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labeling.services import documents_create
from ner.formats import FormatError
from ner.formats.jsonl import read_jsonl
from projects.models import Project
from projects.services import entity_type_create, project_create

DEMO_FILE = Path(settings.BASE_DIR) / "demo" / "loan-agreements.jsonl"
ENTITY_TYPES = [
    ("Person", "p", "#f4a3a8", "A person, or a party acting as one (the corpus tags 'Borrower' so)."),
    ("Organization", "o", "#8ecae6", "Companies, banks and other organisations."),
    ("Location", "l", "#90be6d", "Addresses, cities, states and countries."),
]


class Command(BaseCommand):
    help = "Create the demo project 'LoanAgreements' with a demo user (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="", help="Default: a random one, printed (only when created).")
        parser.add_argument("--project", default="LoanAgreements")

    def handle(self, *args: Any, username: str, password: str, project: str, **options: Any) -> None:
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = password or secrets.token_urlsafe(9)
            user = User.objects.create_user(username=username, password=password)
            login = f"username {username!r}, password {password!r}"
        else:
            login = (
                f"username {username!r} (its password was printed when it was created; set a new one with "
                f"`python manage.py create_user {username} --update-password`)"
            )
        if Project.objects.filter(name=project).exists():
            self.stdout.write(f"Demo project {project!r} already exists.")
        else:
            self._create_project(user, project)
        self.stdout.write(self.style.SUCCESS(f"Sign in with {login}."))

    @transaction.atomic
    def _create_project(self, user: Any, name: str) -> None:
        try:
            docs = read_jsonl(DEMO_FILE.read_bytes(), file_name=DEMO_FILE.name)
        except FormatError as error:
            raise CommandError(f"The demo data is damaged: {error}") from None
        project = project_create(
            user=user,
            name=name,
            language="en",
            description=(
                "Demo: excerpts of loan agreements filed with the SEC, tagged with persons, organisations and "
                "locations (CC BY 3.0, Salinas Alvarado et al. 2015; see demo/ATTRIBUTION.md)."
            ),
            split_mode=Project.SplitMode.MANUAL,
        )
        for type_name, hotkey, color, description in ENTITY_TYPES:
            entity_type_create(project=project, name=type_name, hotkey=hotkey, color=color, description=description)
        result = documents_create(project=project, user=user, docs=docs)
        if result.errors:
            raise CommandError("The demo data could not be loaded:\n" + "\n".join(result.errors))
        spans = sum(len(doc.spans) for doc in docs)
        self.stdout.write(f"Created demo project {name!r}: {len(result.created)} documents, {spans} tagged entities.")

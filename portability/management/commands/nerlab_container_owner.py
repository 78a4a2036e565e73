"""``python manage.py nerlab_container_owner NAME USERNAME``: give a container an owner.

A folder copied into ``NERLAB_CONTAINERS_ROOT`` by hand (and every folder that was there before containers had
owners) belongs to no one: only superusers may use it until an operator assigns it. ``--list`` shows every
container and its owner.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portability import selectors, services
from portability.management.commands._common import acting_user


class Command(BaseCommand):
    help = "Assign a container (a folder under NERLAB_CONTAINERS_ROOT) to the user who may use it; --list shows all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="The container: a folder under NERLAB_CONTAINERS_ROOT.")
        parser.add_argument("username", nargs="?", help="Its new owner.")
        parser.add_argument("--list", action="store_true", help="List every container with its owner.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for item in selectors.container_list_all():
                owner = item.owner or "(unowned: superusers only)"
                self.stdout.write(f"{item.name}\t{owner}{'' if item.on_disk else '\t(no folder yet)'}")
            return
        if not options["name"] or not options["username"]:
            raise CommandError("Give the container's name and its owner's username (or --list).")
        owner = acting_user(options["username"])
        try:
            container, previous = services.container_owner_set(name=options["name"], owner=owner)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        was = f" (it belonged to {previous})" if previous else " (it had no owner)"
        self.stdout.write(self.style.SUCCESS(f"Container {container.name} now belongs to {owner.get_username()}{was}."))

"""The project's own part of the whole-project archive (its settings, entity types and members), and what every
app's part shares: the error an import raises, and the reader that checks the archive's rows field by field.

Each app dumps and restores its own rows (``labeling.archive``, ``evaluation.archive``); ``portability.archive``
holds the zip, its manifest and versions, and puts the parts together in order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Model
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ner.formats.common import check_offsets, is_int, parse_jsonl, type_name
from ner.formats.errors import Problem, Problems
from ner.json_input import JsonInputError, load_json
from ner.names import InvalidName, check_project_name
from ner.types import LabeledDoc
from projects.chunks import chunks
from projects.models import Membership, Project
from projects.roles import Role
from projects.services import PROJECT_EDITABLE_FIELDS, entity_type_create, project_create

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# The archive's manifest, which names every other entry (the problems found in it are reported under this name).
PROJECT_FILE: Final = "project.json"
# Usernames are looked up, never stored, so any plausible length is accepted (Django's own limit is 150).
USERNAME_MAX: Final = 255


# The largest value of the integer columns the new rows have (PositiveIntegerField on PostgreSQL).
COLUMN_INT_MAX: Final = 2**31 - 1


BULK_BATCH: Final = 500


PROBLEMS_SHOWN: Final = 50


class ArchiveReader(Protocol):
    """The opened archive, as the apps' parts read it: each entry checked before it is read."""

    names: set[str]

    def read(self, name: object) -> bytes: ...

    def under(self, folder: object) -> list[str]: ...


class ArchiveError(ValidationError):
    """The archive cannot be imported; the messages say what to fix. Nothing was written."""


def iso_time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def username_of(user: AbstractBaseUser | None) -> str | None:
    return user.get_username() if user is not None else None


def max_length_of(model: type[Model], name: str) -> int:
    return int(model._meta.get_field(name).max_length or 0)  # type: ignore[union-attr]


def describe(value: object) -> str:
    if value is None:
        return "missing"
    shown = repr(value)
    return f"{type_name(value)} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Lines:
    """Reads one JSONL entry line by line, keeping every problem with the entry's name, the line and the field.

    The checks return a harmless value after recording a problem; a line with any problem is left out, and the
    import stops when any line had one.
    """

    def __init__(self, name: str) -> None:
        self.problems = Problems(name)
        self.where = ""

    def rows(self, data: bytes) -> Iterator[dict[str, Any]]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            self.problems.add(f"the file is not UTF-8 text ({error.reason} at byte {error.start})")
            return
        for number, value in parse_jsonl(text, self.problems):
            self.where = f"line {number}"
            if isinstance(value, dict):
                yield value
            else:
                self.bad("", f"each line must be a JSON object, not {type_name(value)}")

    def bad(self, key: str, message: str) -> None:
        self.bad_at(f"'{key}'" if key else "", message)

    def bad_at(self, field_name: str, message: str) -> None:
        """A problem in a nested field, named as the documents' readers name them: 'spans'[2].'label'."""
        self.problems.add(message, where=self.where, field=field_name)

    def first_of_its_key(self, problems_before: int, key: Hashable, seen: dict[Any, str], what: str) -> bool:
        """Whether the line read without problems since ``problems_before`` and its key is new (then recorded in
        ``seen``); a repeated key is a problem naming ``what`` and the line that had it first."""
        if len(self.problems) != problems_before:
            return False
        if key in seen:
            self.bad("", f"repeats {what} on {seen[key]}")
            return False
        seen[key] = self.where
        return True

    def integer(self, row: Mapping[str, Any], key: str, *, minimum: int = 0, maximum: int | None = None) -> int:
        value = row.get(key)
        if is_int(value) and value >= minimum and (maximum is None or value <= maximum):
            return int(value)
        limits = f"from {minimum}" + (f" to {maximum}" if maximum is not None else "")
        self.bad(key, f"must be a whole number {limits}, not {describe(value)}")
        return minimum

    def optional_integer(self, row: Mapping[str, Any], key: str) -> int | None:
        return None if row.get(key) is None else self.integer(row, key)

    def string(self, row: Mapping[str, Any], key: str, *, max_length: int, required: bool = True) -> str:
        """A string of at most ``max_length`` characters; a required one must not be empty, others may be absent."""
        value = row.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.bad(key, f"must be {'a non-empty' if required else 'a'} string, not {describe(value)}")
            return ""
        if len(value) > max_length:
            self.bad(key, f"is {len(value):,} characters long; at most {max_length:,} are allowed")
            return ""
        return value

    def username(self, row: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
        if row.get(key) is None and not required:
            return None
        return self.string(row, key, max_length=USERNAME_MAX) or None

    def choice(self, row: Mapping[str, Any], key: str, choices: Iterable[str]) -> str:
        value, allowed = row.get(key), list(choices)
        if value in allowed:
            return str(value)
        self.bad(key, f"must be one of {', '.join(allowed)}, not {describe(value)}")
        return allowed[0]

    def moment(self, row: Mapping[str, Any], key: str, *, required: bool = False) -> datetime | None:
        value = row.get(key)
        if value is None and not required:
            return None
        try:
            moment = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.bad(key, f"must be a date and time such as 2026-01-31T09:30:00+00:00, not {describe(value)}")
            return None
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)

    def number(self, row: Mapping[str, Any], key: str, low: float, high: float) -> float:
        value = row.get(key)
        if is_number(value) and low <= value <= high:
            return float(value)
        self.bad(key, f"must be a number from {low:g} to {high:g}, not {describe(value)}")
        return low

    def document(self, row: Mapping[str, Any], key: str, documents: Mapping[str, LabeledDoc]) -> str:
        """An archive document id (the ``id`` in documents.jsonl's meta), as the string that meta holds."""
        value = row.get(key)
        if (is_int(value) or isinstance(value, str)) and str(value) in documents:
            return str(value)
        shown = repr(value) if is_int(value) or isinstance(value, str) else describe(value)
        self.bad(key, f"names document {shown}, which documents.jsonl does not hold")
        return ""

    def entity_type(self, value: object, types: set[str], *, field_name: str) -> str:
        if isinstance(value, str) and value in types:
            return value
        shown = repr(value) if isinstance(value, str) else describe(value)
        self.bad_at(field_name, f"names entity type {shown}, which the archive does not define")
        return ""

    def region(self, start: object, end: object, doc: LabeledDoc | None, *, field_name: str = "") -> tuple[int, int]:
        """[start, end) inside the document's text (not checked when the document itself is the problem)."""
        if doc is not None and check_offsets(
            start, end, len(doc.text), self.problems, where=self.where, field=field_name
        ):
            assert isinstance(start, int) and isinstance(end, int)
            return start, end
        return 0, 0


def archive_error(found: list[Problem]) -> ArchiveError:
    messages = [str(problem) for problem in found[:PROBLEMS_SHOWN]]
    if len(found) > PROBLEMS_SHOWN:
        messages.append(f"... and {len(found) - PROBLEMS_SHOWN:,} more problems")
    return ArchiveError(["The archive could not be imported:", *messages])


def json_entry(archive: ArchiveReader, name: str) -> Any:
    try:
        return load_json(archive.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, JsonInputError) as error:
        raise ArchiveError(f"{name} in the archive is not valid JSON ({error}).") from None


def keep_times(model: type[Model], rows: list[Any], times: list[datetime | None]) -> None:
    """Put the archive's creation times back: ``auto_now_add`` stamped the bulk-created rows with the import's."""
    changed = []
    for row, moment in zip(rows, times, strict=True):
        if moment is not None:
            row.created_at = moment
            changed.append(row)
    model.objects.bulk_update(changed, ["created_at"], batch_size=BULK_BATCH)  # type: ignore[attr-defined]


def users_by_name(names: set[str]) -> dict[str, AbstractBaseUser]:
    users = get_user_model()
    wanted = sorted(names)
    found: dict[str, AbstractBaseUser] = {}
    for chunk in chunks(wanted, BULK_BATCH):
        for user in users.objects.filter(**{f"{users.USERNAME_FIELD}__in": chunk}):
            found[user.get_username()] = user
    return found


def listed(names: Iterable[str], limit: int = 10) -> str:
    ordered = sorted(set(names))
    shown = ", ".join(ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def whole(lines: Lines, row: Mapping[str, Any], key: str, default: int = 0, maximum: int = COLUMN_INT_MAX) -> int:
    """An optional whole number of a project.json entry; ``default`` when absent or 0 (as the old code read it)."""
    if row.get(key) is None:
        return default
    return lines.integer(row, key, maximum=maximum) or default


def optional_text(lines: Lines, row: Mapping[str, Any], key: str, model: type[Model], default: str) -> str:
    return lines.string(row, key, max_length=max_length_of(model, key), required=False) or default


def of_kind(lines: Lines, row: Mapping[str, Any], key: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
    """An optional list or object of a project.json entry; an empty one when absent."""
    value = row.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        lines.bad(key, f"must be {'a list' if kind is list else 'an object'}, not {describe(value)}")
        return kind()
    return value


def optional_number(lines: Lines, row: Mapping[str, Any], key: str, high: float = math.inf) -> float | None:
    return None if row.get(key) is None else lines.number(row, key, 0.0, high)


def any_text(lines: Lines, row: Mapping[str, Any], key: str) -> str:
    """An optional text of any length (a TextField's)."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        lines.bad(key, f"must be a string, not {describe(value)}")
        return ""
    return value


def strings(lines: Lines, row: Mapping[str, Any], key: str) -> list[str]:
    values = of_kind(lines, row, key, list)
    if not all(isinstance(value, str) for value in values):
        lines.bad(key, "must be a list of strings")
        return []
    return list(values)


@dataclass
class Restore:
    """Bookkeeping while restoring: old ids -> new rows, and every file written (to undo on failure)."""

    project: Project
    document_ids: dict[str, int] = field(default_factory=dict)  # archive document id -> new pk
    written: list[str] = field(default_factory=list)

    def save(self, path: str, data: bytes) -> str:
        stored = default_storage.save(path, ContentFile(data))
        self.written.append(stored)
        return stored


def project_name_check(name: str) -> None:
    try:
        check_project_name(name)
    except InvalidName as error:
        raise ArchiveError({"name": str(error)}) from None
    if Project.objects.filter(name__iexact=name).exists():
        raise ArchiveError(
            {
                "name": f"A project named {name} already exists (names are compared without regard to case); "
                "choose another name for the imported project."
            }
        )


def project_dump(project: Project) -> dict[str, Any]:
    """The manifest's ``project``: the name and every setting a project can be created with."""
    return {"name": project.name, **{name: getattr(project, name) for name in PROJECT_EDITABLE_FIELDS}}


def entity_types_dump(project: Project) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "color": t.color, "hotkey": t.hotkey, "description": t.description}
        for t in project.entity_types.order_by("name")
    ]


def members_dump(project: Project) -> list[dict[str, Any]]:
    return [
        {"username": m.user.get_username(), "role": m.role}
        for m in project.memberships.select_related("user").order_by("user__username")
    ]


def project_restore(*, user: AbstractBaseUser, name: str, settings: Mapping[str, Any]) -> Project:
    """A new project named ``name`` with the manifest's settings, ``user`` its owner."""
    fields = {key: settings[key] for key in PROJECT_EDITABLE_FIELDS if key in settings}
    language = str(settings.get("language") or "en")
    fields.pop("language", None)
    try:
        return project_create(user=user, name=name, language=language, **fields)
    except ValidationError as error:
        raise ArchiveError(error.messages) from None


def entity_types_restore(project: Project, entries: list[Any]) -> None:
    for entry in entries:
        if not isinstance(entry, dict):
            raise ArchiveError("project.json: each entity type must be an object.")
        try:
            entity_type_create(
                project=project,
                name=str(entry.get("name", "")),
                color=str(entry.get("color") or ""),
                hotkey=str(entry.get("hotkey") or ""),
                description=str(entry.get("description") or ""),
            )
        except ValidationError as error:
            raise ArchiveError([f"Entity type {entry.get('name')!r}: {m}" for m in error.messages]) from None


def members_restore(project: Project, members: object, user: AbstractBaseUser) -> tuple[list[str], list[str]]:
    """The archive's members back in the new project, when a superuser imports it (an operator restoring a backup,
    who may give anyone any role anyway); returns the usernames this server lacks, and notes for the user.

    Anyone else's import adds no one: an archive is a file its importer may have written, and joining a project
    takes the person's consent (an invitation link). The note lists the archive's members to invite, without
    saying which of them have accounts here."""
    entries = [
        entry
        for entry in (members if isinstance(members, list) else [])
        if isinstance(entry, dict) and entry.get("role") in {role.value for role in Role}
    ]
    others = [entry for entry in entries if entry.get("username") != user.get_username()]
    if not others:
        return [], []
    if not user.is_superuser:  # type: ignore[attr-defined]
        listed = ", ".join(f"{entry.get('username')} ({entry['role']})" for entry in others[:20])
        return [], [
            f"Members are not restored: only a superuser's import adds people to a project. Invite the archive's "
            f"members from the Members page: {listed}{' and more' if len(others) > 20 else ''}."
        ]
    missing = []
    users = get_user_model()
    for entry in others:
        member = users.objects.filter(**{users.USERNAME_FIELD: entry.get("username")}).first()
        if member is None:
            missing.append(str(entry.get("username")))
        elif member.pk != user.pk:
            Membership.objects.update_or_create(project=project, user=member, defaults={"role": entry["role"]})
    return missing, []

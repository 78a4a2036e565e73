"""Problems found while reading a file, and the one error every reader raises.

A reader collects every problem it finds (not just the first) so that a user can fix a file in one go; it then
either returns all documents or raises :class:`FormatError` with the whole list — never half a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ner.types import LabeledDoc

# A FormatError's message lists this many problems; the rest stay available on ``.problems``.
MESSAGE_PROBLEMS_MAX = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where it is (file, line or document, field) and what is wrong."""

    message: str
    file: str = ""
    where: str = ""  # "line 12", "document 3 ('a.txt')", "task 7"
    field: str = ""  # "'label'[2]", "'assets.documents'[0].'language'"

    def __str__(self) -> str:
        parts = [part for part in (self.file, self.where) if part]
        if self.field:
            parts.append(f"field {self.field}")
        parts.append(self.message)
        return ": ".join(parts)


class FormatError(ValueError):
    """A file cannot be read; ``problems`` lists everything wrong with it, each with its location.

    When the file itself could be read but some of its records could not, ``records`` says how many records it
    holds and ``readable`` holds the documents of the good ones, so that an import can count the file's documents
    (imported + rejected + already present) and name each bad record instead of calling the whole file unreadable.
    ``records`` is 0 when the file as a whole could not be read.
    """

    def __init__(self, problems: Iterable[Problem], *, records: int = 0, readable: Sequence[LabeledDoc] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        self.records = records
        self.readable: list[LabeledDoc] = list(readable)
        lines = [str(problem) for problem in self.problems[:MESSAGE_PROBLEMS_MAX]]
        hidden = len(self.problems) - len(lines)
        if hidden > 0:
            lines.append(f"... and {hidden} more problem{'s' if hidden != 1 else ''}")
        super().__init__("\n".join(lines) if lines else "the file cannot be read")

    @property
    def messages(self) -> list[str]:
        return [str(problem) for problem in self.problems]


class Problems:
    """Collects the problems of one file; ``raise_if_any`` ends a reader that found some."""

    def __init__(self, file: str = "") -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, message: str, *, where: str = "", field: str = "") -> None:
        self.items.append(Problem(message=message, file=self.file, where=where, field=field))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, *, records: int = 0, readable: Sequence[LabeledDoc] = ()) -> None:
        """Stop when anything was found; ``records``/``readable`` as on FormatError when records were counted."""
        if self.items:
            raise FormatError(self.items, records=records, readable=readable)

    def fail(self, message: str, *, where: str = "", field: str = "") -> FormatError:
        """Add a problem that stops reading at once and return the error to raise."""
        self.add(message, where=where, field=field)
        return FormatError(self.items)

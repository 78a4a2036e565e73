"""Problems found while reading a file, and the one error every reader raises.

A reader collects every problem it finds (not just the first) so that a user can fix a file in one go; it then
either returns all documents or raises :class:`FormatError` with the whole list — never half a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
    """A file cannot be read; ``problems`` lists everything wrong with it, each with its location."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
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

    def raise_if_any(self) -> None:
        if self.items:
            raise FormatError(self.items)

    def fail(self, message: str, *, where: str = "", field: str = "") -> FormatError:
        """Add a problem that stops reading at once and return the error to raise."""
        self.add(message, where=where, field=field)
        return FormatError(self.items)

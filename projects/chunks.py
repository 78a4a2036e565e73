"""Long lists of ids or keys taken a slice at a time: for ``field__in=`` filters (a bounded number of query
parameters) and for batches of work."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

# Values per IN (...) query: SQLite allows 32,766 variables per statement and PostgreSQL 65,535; stay far below both.
IN_CHUNK: Final = 900


def chunks[T](items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``, in order."""
    for first in range(0, len(items), size):
        yield items[first : first + size]

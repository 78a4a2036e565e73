"""Where a training's short-lived folders go (the speed probe's model, the calibration's fold models).

By default in the system's temporary folder. A caller that owns a folder for the whole of a job sets it as the
scratch root for the job's length (``scratch_root``): then every folder ``scratch_folder`` makes lands inside it, and
whoever removes the job's folder removes them too, even when the process that made them was killed before its own
clean-up ran. A context variable, not a module global, so two jobs in two threads of one process keep their own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_root: ContextVar[Path | None] = ContextVar("nerlab_scratch_root", default=None)


@contextmanager
def scratch_root(folder: Path) -> Iterator[Path]:
    """Make ``scratch_folder`` create its folders inside ``folder`` until the block ends."""
    token = _root.set(folder)
    try:
        yield folder
    finally:
        _root.reset(token)


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new empty folder, removed at the end of the block: inside the scratch root if one is set."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=_root.get()) as folder:
        yield Path(folder)

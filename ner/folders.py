"""A run's output folder appears whole or not at all (a training's model, a pretraining's weights).

The run writes into a hidden partial folder beside ``output_dir``, which is renamed into place only when the run
finishes: a previous folder there is replaced, never half-overwritten, and a failed or cancelled run leaves the
previous folder as it was and no partial folder behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _beside(output_dir: Path, kind: str) -> Path:
    # Hidden and unique, in the same folder as output_dir, so os.replace is a rename on one file system.
    return output_dir.with_name(f".{output_dir.name}.{kind}-{uuid.uuid4().hex[:8]}")


@contextmanager
def folder_written_whole(output_dir: Path) -> Iterator[Path]:
    """The partial folder's path (not created yet) to write into; on a clean exit it becomes ``output_dir``."""
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = _beside(output_dir, "partial")
    try:
        yield partial
        if output_dir.exists():
            retired = _beside(output_dir, "old")
            os.replace(output_dir, retired)
            os.replace(partial, output_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(partial, output_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)

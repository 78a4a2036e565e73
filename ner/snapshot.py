"""The identity of a frozen training set: two snapshots with the same texts, tags and split hash alike."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from ner.text import content_hash
from ner.types import LabeledDoc


def snapshot_hash(docs: Iterable[LabeledDoc]) -> str:
    """sha256 over each document's content hash, sorted spans and side, in content-hash order.

    Names, ids and upload order do not count: two snapshots with the same texts, tags and split hash alike.
    """
    rows = sorted(
        (
            content_hash(doc.text),
            doc.split or "",
            doc.language or "",
            [[span.start, span.end, span.label] for span in doc.sorted_spans()],
        )
        for doc in docs
    )
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()

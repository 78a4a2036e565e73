"""The train/test split rule, and the dev set carved from the training side for early stopping.

A document's side depends only on the project's seed and the document's content hash, never on which other
documents exist or in which order they arrive: uploading more documents never moves an existing one between
train and test, so evaluations of successive models stay comparable (Azure re-draws its random split on every
training run, which makes runs incomparable — reference §5.3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ner.text import content_hash as text_content_hash
from ner.types import SPLITS, LabeledDoc, Split

SplitMode = Literal["random", "manual"]
SPLIT_MODES: tuple[SplitMode, ...] = ("random", "manual")

# The hash is read as an integer modulo BUCKETS, so test_percent=20 puts buckets 0..1999 in the test set.
BUCKETS = 10_000


class SplitError(ValueError):
    """A split setting or a manual assignment is invalid; the message says which, in the user's words."""


def _bucket(salt: str, seed: int, key: str) -> int:
    digest = hashlib.sha256(f"{salt}{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def check_test_percent(test_percent: int) -> None:
    if isinstance(test_percent, bool) or not isinstance(test_percent, int) or not 0 <= test_percent <= 100:
        raise SplitError(f"the test set percentage must be a whole number from 0 to 100, not {test_percent!r}")


def assign_split(content_hash: str, seed: int, test_percent: int) -> Split:
    """The side of one document under the random rule: a pure function of (seed, content hash).

    ``sha256(f"{seed}:{content_hash}")`` read as an integer, modulo 10,000, is below ``test_percent * 100``
    for test documents. About ``test_percent`` % of documents land in the test set; 0 puts everything in
    train and 100 everything in test.
    """
    check_test_percent(test_percent)
    if not content_hash:
        raise SplitError("a document needs a content hash to be assigned to a split")
    return "test" if _bucket("", seed, content_hash) < test_percent * 100 else "train"


def manual_split(value: str | None) -> Split | None:
    """A stored manual assignment: "train", "test", or unassigned (None or the empty string)."""
    if value is None or value == "":
        return None
    if value not in SPLITS:
        raise SplitError(f"unknown split {value!r}: a document goes to 'train' or 'test' (or is left unassigned)")
    return "train" if value == "train" else "test"


def split_documents(
    documents: Iterable[tuple[str, str | None]],
    *,
    mode: SplitMode,
    seed: int,
    test_percent: int,
) -> list[Split]:
    """The side of each ``(content_hash, manual assignment)`` pair, in input order.

    - ``random`` mode: a manual assignment, when a document has one, wins (someone decided on purpose);
      every other document follows :func:`assign_split`.
    - ``manual`` mode: only the manual assignment decides; unassigned documents go to train, as in Azure,
      whose manual split trains on everything not explicitly put in the test set.
    """
    if mode not in SPLIT_MODES:
        raise SplitError(f"unknown split mode {mode!r}: use 'random' or 'manual'")
    check_test_percent(test_percent)
    sides: list[Split] = []
    for content_hash, manual in documents:
        chosen = manual_split(manual)
        if chosen is not None:
            sides.append(chosen)
        elif mode == "manual":
            sides.append("train")
        else:
            sides.append(assign_split(content_hash, seed, test_percent))
    return sides


@dataclass(frozen=True, slots=True)
class DevCarve[T]:
    """The training documents divided into what the model learns from and what early stopping watches."""

    train: tuple[T, ...]
    dev: tuple[T, ...]


def _default_key(item: object) -> str:
    if isinstance(item, LabeledDoc):
        if item.split == "test":
            raise SplitError(
                f"document {item.name or '(unnamed)'} is in the test set; "
                "the dev set is carved from training documents only"
            )
        return text_content_hash(item.text)
    if isinstance(item, str):
        return item
    raise SplitError(f"carve_dev needs content hashes, LabeledDocs or a key function, not {type(item).__name__}")


def carve_dev[T](
    items: Sequence[T],
    fraction: float,
    seed: int,
    *,
    key: Callable[[T], str] | None = None,
) -> DevCarve[T]:
    """Set aside ``fraction`` of the TRAINING documents as a dev set, deterministically.

    ``items`` are training documents only: content hashes, ``LabeledDoc``s (a LabeledDoc marked "test" is
    refused, so a test document can never leak into early stopping), or anything with a ``key`` giving its
    content hash. Documents are ranked by ``sha256("dev:{seed}:{hash}")`` — a different salt from the
    train/test rule, so the dev set is not the documents that only just missed the test set — and the
    lowest ``round(fraction * n)`` form the dev set. With ``0 < fraction < 1`` and at least two documents,
    both sides keep at least one document. Input order is kept on both sides.
    """
    if not 0.0 <= fraction < 1.0:
        raise SplitError(f"the dev fraction must be at least 0 and below 1, not {fraction!r}")
    key_of: Callable[[T], str] = key if key is not None else _default_key
    # Every key is computed up front, so a test document is refused even when the dev set would be empty.
    keys = [key_of(item) for item in items]
    n = len(items)
    size = round(fraction * n)
    if fraction > 0 and n >= 2:
        size = min(max(size, 1), n - 1)
    if size == 0:
        return DevCarve(train=tuple(items), dev=())
    ranked = sorted(range(n), key=lambda i: (_bucket_full("dev:", seed, keys[i]), i))
    chosen = set(ranked[:size])
    return DevCarve(
        train=tuple(item for i, item in enumerate(items) if i not in chosen),
        dev=tuple(item for i, item in enumerate(items) if i in chosen),
    )


def _bucket_full(salt: str, seed: int, key: str) -> bytes:
    # Ranking uses the whole digest, so ties (and the bias of a modulo) never decide membership.
    return hashlib.sha256(f"{salt}{seed}:{key}".encode()).digest()

"""Teacher → student: an accurate (slow) model labels untagged text, and the fast CNN trains on gold + these labels.

A model trained on a pretrained encoder scores better on little data but predicts several times slower than the
CNN (``docs/encoders.md``). Distillation keeps the CNN's speed with more of the encoder's F1: the teacher predicts
the project's untagged documents, its entities become *silver* spans, and ``ner.train.train(..., silver=...)``
trains the CNN on the gold documents plus these (``docs/distillation.md`` has the measured trade-off).

The rules, each with its reason:

- **Gold is never overwritten.** An untagged text that is also a gold document (same content hash, ``ner.text``)
  is left out of the silver set: its gold spans are the truth, the teacher's are a guess.
- **Test documents never become silver.** An untagged document marked ``split="test"`` (the caller gives each its
  effective side, ``ner.splits``), or whose text is a test document's, is left out: training on the teacher's
  guesses about the test set would leak it into the student, and into every later evaluation of it.
- **Silver is training data only.** The dev set that picks the student's checkpoint and the test set stay gold, so
  the student's scores say how well it matches people, not how well it matches the teacher.
- **Unsure entities are "unknown", not "outside".** A teacher entity whose confidence (calibrated, ``ner.predict``)
  is below ``threshold`` is not trained on as an entity; its tokens are marked *missing* in the student's example,
  so the student learns neither "entity" nor "nothing here" from them. Dropping them instead would teach it that
  the words are not entities, which is worse than saying nothing. Threshold 0 keeps every entity.
- **Reproducible.** Silver documents keep the caller's order; the teacher's predictions are deterministic
  (``ner.predict``), so the same teacher, texts, threshold, gold and settings give a byte-identical student.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ner.predict import Predictor, ScoredSpan
from ner.text import content_hash
from ner.train import TrainCancelled
from ner.types import LabeledDoc, Span

# The default confidence a teacher entity needs to be trained on as an entity; below it, its tokens are unknown.
# bench/distill.py --quick (CoNLL-2003, 50 mentions per type, MiniLM teacher; one sample): student F1 64.6 at 0,
# 65.3 at 0.5, 62.7 at 0.8 (docs/distillation.md).
DEFAULT_THRESHOLD = 0.5
# Untagged documents predicted per teacher call; the progress callback runs after each batch.
TEACHER_BATCH_DOCUMENTS = 64
RULE = "distill-v1"


class DistillError(ValueError):
    """A silver set cannot be built; the message says why in the user's words."""


@dataclass(frozen=True, slots=True)
class SilverDoc:
    """An untagged document labelled by the teacher: ``spans`` are trained on as entities, ``unknown`` spans'
    tokens as missing (neither entity nor outside)."""

    text: str
    spans: tuple[Span, ...]
    unknown: tuple[Span, ...] = ()
    name: str = ""

    def as_labeled(self) -> LabeledDoc:
        return LabeledDoc(text=self.text, spans=self.spans, name=self.name, split="train")


@dataclass(frozen=True, slots=True)
class SilverSet:
    """The teacher's labels for a set of untagged documents, and where they came from."""

    docs: tuple[SilverDoc, ...]
    teacher: str
    teacher_fingerprint: str
    threshold: float
    # Untagged documents offered, and those left out (a test document, or a gold document's text).
    offered: int = 0
    excluded_test: int = 0
    excluded_gold: int = 0
    # Teacher entities of a label the gold documents do not have (left out: the student learns the gold labels).
    unknown_labels: int = 0
    labels: tuple[str, ...] = field(default=())

    @property
    def span_count(self) -> int:
        return sum(len(doc.spans) for doc in self.docs)

    @property
    def unknown_count(self) -> int:
        return sum(len(doc.unknown) for doc in self.docs)

    @property
    def content_hash(self) -> str:
        """sha256 over each silver document's content hash, spans and unknown spans, in order: the silver data a
        student learnt from, which no snapshot freezes (the untagged documents are read when the run starts)."""
        rows = [
            [
                content_hash(doc.text),
                [[s.start, s.end, s.label] for s in doc.spans],
                [[u.start, u.end] for u in doc.unknown],
            ]
            for doc in self.docs
        ]
        return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()

    def to_meta(self) -> dict[str, Any]:
        """What the student's meta.json records of its silver data."""
        return {
            "rule": RULE,
            "teacher": self.teacher,
            "teacher_fingerprint": self.teacher_fingerprint,
            "content_hash": self.content_hash,
            "threshold": self.threshold,
            "documents": len(self.docs),
            "spans": self.span_count,
            "unknown_spans": self.unknown_count,
            "offered": self.offered,
            "excluded_test": self.excluded_test,
            "excluded_gold": self.excluded_gold,
            "unknown_labels": self.unknown_labels,
        }


def model_fingerprint(model_dir: Path | str) -> str:
    """SHA-256 over a model folder's files (relative paths and contents, in path order): which teacher exactly.

    Of ``meta.json`` only what nerlab records counts (``nerlab``: data, settings, representation): spaCy's part
    holds the speed it measured while training, which differs between two runs that make the same model."""
    root = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        content = path.read_bytes()
        if relative == "meta.json":
            try:
                recorded = json.loads(content).get("nerlab")
            except (ValueError, AttributeError):
                recorded = None
            content = json.dumps(recorded, sort_keys=True).encode() if recorded is not None else content
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Pool:
    docs: list[LabeledDoc]
    excluded_test: int
    excluded_gold: int


def _pool(untagged: Sequence[LabeledDoc], gold: Sequence[LabeledDoc]) -> _Pool:
    """The untagged documents the teacher may label: not a test document, not a gold document's text; a text given
    twice is labelled once."""
    gold_hashes = {content_hash(doc.text): doc.split for doc in gold}
    test_hashes = {digest for digest, split in gold_hashes.items() if split == "test"}
    kept: list[LabeledDoc] = []
    seen: set[str] = set()
    excluded_test = excluded_gold = 0
    for doc in untagged:
        digest = content_hash(doc.text)
        if doc.split == "test" or digest in test_hashes:
            excluded_test += 1
        elif digest in gold_hashes:
            excluded_gold += 1
        elif digest not in seen and doc.text.strip():
            seen.add(digest)
            kept.append(doc)
    return _Pool(kept, excluded_test, excluded_gold)


def silver_doc(
    doc: LabeledDoc, found: Sequence[ScoredSpan], *, threshold: float, labels: frozenset[str]
) -> tuple[SilverDoc, int]:
    """One untagged document with the teacher's entities: confident ones as spans, the rest as unknown; entities of a
    label outside ``labels`` are left out (counted in the second value)."""
    spans: list[Span] = []
    unknown: list[Span] = []
    foreign = 0
    for scored in found:
        if scored.label not in labels:
            foreign += 1
            unknown.append(Span(scored.start, scored.end, scored.label))
        elif scored.confidence is None or scored.confidence >= threshold:
            spans.append(scored.as_span())
        else:
            unknown.append(scored.as_span())
    return SilverDoc(text=doc.text, spans=tuple(spans), unknown=tuple(unknown), name=doc.name), foreign


def silver_set_build(
    *,
    teacher: Predictor,
    teacher_name: str,
    untagged: Sequence[LabeledDoc],
    gold: Sequence[LabeledDoc],
    threshold: float = DEFAULT_THRESHOLD,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SilverSet:
    """The teacher's labels for ``untagged`` (their spans, if any, are ignored), minus test documents and gold texts.

    ``gold`` is every gold document, training and test sides (``split`` set), so that neither is relabelled.
    ``on_progress(done, total)`` runs after each batch of ``TEACHER_BATCH_DOCUMENTS``; ``should_stop`` is asked
    before each, and a yes raises ``TrainCancelled``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise DistillError(f"The confidence threshold must be from 0 to 1 (got {threshold})")
    labels = frozenset(span.label for doc in gold if doc.split != "test" for span in doc.spans)
    if set(teacher.labels).isdisjoint(labels):
        raise DistillError(
            f"The teacher {teacher_name} knows none of the gold documents' labels "
            f"(it knows {', '.join(sorted(teacher.labels)) or 'none'})"
        )
    pool = _pool(untagged, gold)
    docs: list[SilverDoc] = []
    foreign = 0
    total = len(pool.docs)
    for first in range(0, total, TEACHER_BATCH_DOCUMENTS):
        if should_stop is not None and should_stop():
            raise TrainCancelled("Training was cancelled")
        batch = pool.docs[first : first + TEACHER_BATCH_DOCUMENTS]
        found = teacher.predict([doc.text for doc in batch], with_confidence=True)
        for doc, spans in zip(batch, found, strict=True):
            silver, dropped = silver_doc(doc, spans, threshold=threshold, labels=labels)
            docs.append(silver)
            foreign += dropped
        if on_progress is not None:
            on_progress(first + len(batch), total)
    return SilverSet(
        docs=tuple(docs),
        teacher=teacher_name,
        teacher_fingerprint=model_fingerprint(teacher.model_dir),
        threshold=threshold,
        offered=len(untagged),
        excluded_test=pool.excluded_test,
        excluded_gold=pool.excluded_gold,
        unknown_labels=foreign,
        labels=tuple(sorted(labels)),
    )

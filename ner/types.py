"""Value types shared by every part of the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")


class Region(Protocol):
    """Anything with a labelled region of a text (a ``Span``, a model's ``ScoredSpan``, a database row): offsets in
    code points, ``end`` exclusive."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def label(self) -> str: ...


class ScoredRegion(Region, Protocol):
    """A region a model found, with its confidence (``None`` when the model gives none): ``ner.predict.ScoredSpan``."""

    @property
    def confidence(self) -> float | None: ...


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A labelled region of a text; offsets are Unicode code points, ``end`` exclusive."""

    start: int
    end: int
    label: str

    @property
    def length(self) -> int:
        return self.end - self.start

    def text_in(self, text: str) -> str:
        return text[self.start : self.end]

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class LabeledDoc:
    """One document with its spans, as every format reader produces and every writer consumes."""

    text: str
    spans: tuple[Span, ...] = ()
    name: str = ""
    language: str | None = None
    split: Split | None = None
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def sorted_spans(self) -> tuple[Span, ...]:
        return tuple(sorted(self.spans))

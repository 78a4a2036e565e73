"""Evaluation maths: per-type and model-level scores, confusion matrices, error analysis, confidence intervals.

Every function takes a sequence of ``(gold, predicted)`` pairs, one per test document, where ``gold`` is a
``LabeledDoc`` (its text is needed for the character-weighted confusion matrix) or a bare sequence of spans,
and ``predicted`` is a sequence of spans.

Definitions, matching Azure custom NER where Azure defines something (reference §5):

* Matching is EXACT on ``(start, end, label)``. A prediction with the right span and the wrong type counts
  twice — a false positive for the predicted type and a false negative for the gold type; a prediction of
  the right type with different boundaries also counts FP + FN. Identical spans are counted once (spans are
  treated as sets).
* ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``, ``F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN)``.
  A zero denominator gives 0.0, never an error or NaN: a type the model never predicts has precision 0.0,
  and a test set with no gold entities and no predictions scores 0.0 across the board.
* Micro averages pool the counts of all types. Macro averages are the unweighted mean over entity types of
  the per-type precision, recall and F1 (so macro-F1 is the mean of per-type F1s, NOT the harmonic mean of
  macro-P and macro-R). The types that count are exactly those present in the gold spans or the predictions
  of the evaluated documents — Azure: "Entities that aren't labeled or predicted in the test set aren't part
  of the displayed results". A type in the project schema with no test-set gold and no prediction is left
  out of every average, instead of dragging macro scores down with a 0.0.
* The weighted confusion matrix reproduces Azure's fractional values; see :func:`weighted_confusion`.
* Per-language scores (:func:`score_languages`) pool the same per-document counts as the micro scores, grouped by
  each gold document's language, so the languages' TP/FP/FN add up to the micro ones.

Beyond Azure: boundary errors and wrong-type errors per type, a partial-match (overlap) score, a count-based
confusion matrix, a per-document comparison for reviewing errors, and a bootstrap confidence interval.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from typing import Any, Literal

import numpy as np

from ner.types import LabeledDoc, Span

NONE = "$none"  # Azure's pseudo-entity: text with no gold label (row), or gold with no prediction (column)

Outcome = Literal["tp", "fp", "fn", "wrong_type", "wrong_boundary"]
OUTCOMES: tuple[Outcome, ...] = ("tp", "fp", "fn", "wrong_type", "wrong_boundary")
MatrixFilter = Literal["all", "errors", "matches"]
MATRIX_FILTERS: tuple[MatrixFilter, ...] = ("all", "errors", "matches")

Gold = LabeledDoc | Sequence[Span]
Pair = tuple[Gold, Sequence[Span]]


class MetricsError(ValueError):
    """The input cannot be evaluated; the message says why."""


# --------------------------------------------------------------------------------------------- value types


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True, slots=True)
class Counts:
    """True positives, false positives and false negatives, with the scores they give (0.0 when undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        # Equal to 2PR/(P+R) whenever that is defined, and 0.0 when TP is 0.
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def gold(self) -> int:
        """How many gold entities were scored (the "support")."""
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        return self.tp + self.fp

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Counts:
        return cls(tp=int(data["tp"]), fp=int(data["fp"]), fn=int(data["fn"]))


@dataclass(frozen=True, slots=True)
class Averages:
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Averages:
        return cls(precision=float(data["precision"]), recall=float(data["recall"]), f1=float(data["f1"]))


@dataclass(frozen=True, slots=True)
class TypeScores:
    """One entity type's results.

    ``exact`` is Azure's scoring. ``boundary_errors`` counts gold entities of this type met by a prediction of
    the same type whose span overlaps but differs; ``wrong_type_errors`` counts gold entities of this type
    predicted on exactly the same span with another type. Both are already inside ``exact.fn`` (and the
    predictions inside some type's ``exact.fp``); they say *why*. ``partial`` scores a prediction as correct
    when it overlaps a gold entity of the same type (one prediction per gold entity).
    """

    label: str
    exact: Counts
    partial: Counts
    boundary_errors: int = 0
    wrong_type_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "exact": self.exact.to_dict(),
            "partial": self.partial.to_dict(),
            "boundary_errors": self.boundary_errors,
            "wrong_type_errors": self.wrong_type_errors,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TypeScores:
        return cls(
            label=str(data["label"]),
            exact=Counts.from_dict(data["exact"]),
            partial=Counts.from_dict(data["partial"]),
            boundary_errors=int(data["boundary_errors"]),
            wrong_type_errors=int(data["wrong_type_errors"]),
        )


UNDETERMINED = "und"  # BCP-47's code for "language not known": a gold document that carries none


def language_key(language: str | None) -> str:
    """The language a document is scored under: its primary subtag in lower case (``en-US`` -> ``en``), as spaCy
    knows languages and as a multilingual model treats them; ``und`` when the document has no language."""
    primary = (language or "").strip().replace("_", "-").split("-")[0].lower()
    return primary or UNDETERMINED


@dataclass(frozen=True, slots=True)
class LanguageScores:
    """The exact-match scores of the test documents in one language (``language_key``), and how many there are.

    ``exact.gold`` is the support: the gold entities in those documents."""

    language: str
    documents: int
    exact: Counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "documents": self.documents,
            "support": self.exact.gold,
            **self.exact.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LanguageScores:
        return cls(language=str(data["language"]), documents=int(data["documents"]), exact=Counts.from_dict(data))


@dataclass(frozen=True, slots=True)
class Interval:
    """A bootstrap percentile confidence interval."""

    low: float
    high: float
    confidence: float
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interval:
        return cls(
            low=float(data["low"]),
            high=float(data["high"]),
            confidence=float(data["confidence"]),
            resamples=int(data["resamples"]),
            seed=int(data["seed"]),
        )


@dataclass(frozen=True, slots=True)
class MatrixCell:
    gold: str
    predicted: str
    raw: float
    normalized: float  # percent of the gold row's total


@dataclass(frozen=True, slots=True)
class ConfusionMatrix:
    """Rows are gold types, columns predicted types, both with ``$none``; ``raw`` is sparse and read-only.

    ``labels`` lists the entity types in display order with ``$none`` last.
    """

    labels: tuple[str, ...]
    raw: Mapping[str, Mapping[str, float]]

    def value(self, gold: str, predicted: str) -> float:
        return self.raw.get(gold, {}).get(predicted, 0.0)

    def row_total(self, gold: str) -> float:
        return sum(self.raw.get(gold, {}).values())

    def normalized(self, gold: str, predicted: str) -> float:
        """The cell as a percentage of its row: of what was labelled ``gold``, how much was predicted so."""
        return 100.0 * _ratio(self.value(gold, predicted), self.row_total(gold))

    def cells(self, which: MatrixFilter = "all") -> list[MatrixCell]:
        """Non-zero cells in label order; "errors" are off-diagonal cells, "matches" the diagonal.

        ``$none``→``$none`` (unlabelled text left unpredicted) sits on the diagonal, so it is a match.
        """
        if which not in MATRIX_FILTERS:
            raise MetricsError(f"unknown matrix filter {which!r}: use 'all', 'errors' or 'matches'")
        found: list[MatrixCell] = []
        for gold in self.labels:
            for predicted in self.labels:
                raw = self.value(gold, predicted)
                if not raw:
                    continue
                if (which == "errors" and gold == predicted) or (which == "matches" and gold != predicted):
                    continue
                found.append(MatrixCell(gold, predicted, raw, self.normalized(gold, predicted)))
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "raw": {gold: dict(row) for gold, row in self.raw.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfusionMatrix:
        return cls(
            labels=tuple(str(label) for label in data["labels"]),
            raw={str(g): {str(p): float(v) for p, v in row.items()} for g, row in data["raw"].items()},
        )


@dataclass(frozen=True, slots=True)
class ComparedSpan:
    """One line of a document review: a gold span, a predicted span, or a pair, and what happened.

    ``tp`` exact match; ``fn`` gold not found; ``fp`` prediction matching nothing; ``wrong_type`` same span,
    other type; ``wrong_boundary`` same type, overlapping but different span.
    """

    outcome: Outcome
    gold: Span | None = None
    predicted: Span | None = None

    @property
    def start(self) -> int:
        return min(span.start for span in (self.gold, self.predicted) if span is not None)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "gold": _span_dict(self.gold), "predicted": _span_dict(self.predicted)}


@dataclass(frozen=True, slots=True)
class DocumentComparison:
    """Gold against predicted for one document, in reading order, for a review page."""

    index: int  # position in the evaluated sequence
    name: str
    rows: tuple[ComparedSpan, ...]

    @property
    def error_count(self) -> int:
        """Lines that are not exact matches: the sort key for "worst documents first"."""
        return sum(row.outcome != "tp" for row in self.rows)

    def outcome_counts(self) -> dict[Outcome, int]:
        counts = Counter(row.outcome for row in self.rows)
        return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}

    def gold_marks(self) -> list[tuple[Span, Outcome]]:
        return [(row.gold, row.outcome) for row in self.rows if row.gold is not None]

    def predicted_marks(self) -> list[tuple[Span, Outcome]]:
        return [(row.predicted, row.outcome) for row in self.rows if row.predicted is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "error_count": self.error_count,
            "rows": [row.to_dict() for row in self.rows],
        }


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Everything :func:`evaluate` computes; ``to_dict``/``from_dict`` round-trip through JSON."""

    documents: int
    types: tuple[TypeScores, ...]  # sorted by label; only types in the gold or the predictions
    micro: Counts
    macro: Averages
    partial_micro: Counts
    partial_macro: Averages
    weighted_matrix: ConfusionMatrix | None  # None when the gold came without texts
    count_matrix: ConfusionMatrix
    micro_f1_interval: Interval | None  # None when resampling was switched off
    # Per language, when the test set holds at least two (gold documents' languages); empty otherwise, and in
    # reports stored before languages were scored.
    languages: tuple[LanguageScores, ...] = ()

    def type_scores(self, label: str) -> TypeScores:
        for scores in self.types:
            if scores.label == label:
                return scores
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "types": [scores.to_dict() for scores in self.types],
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "partial_micro": self.partial_micro.to_dict(),
            "partial_macro": self.partial_macro.to_dict(),
            "weighted_matrix": None if self.weighted_matrix is None else self.weighted_matrix.to_dict(),
            "count_matrix": self.count_matrix.to_dict(),
            "micro_f1_interval": None if self.micro_f1_interval is None else self.micro_f1_interval.to_dict(),
            "languages": [scores.to_dict() for scores in self.languages],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        weighted = data.get("weighted_matrix")
        interval = data.get("micro_f1_interval")
        return cls(
            documents=int(data["documents"]),
            types=tuple(TypeScores.from_dict(item) for item in data["types"]),
            micro=Counts.from_dict(data["micro"]),
            macro=Averages.from_dict(data["macro"]),
            partial_micro=Counts.from_dict(data["partial_micro"]),
            partial_macro=Averages.from_dict(data["partial_macro"]),
            weighted_matrix=None if weighted is None else ConfusionMatrix.from_dict(weighted),
            count_matrix=ConfusionMatrix.from_dict(data["count_matrix"]),
            micro_f1_interval=None if interval is None else Interval.from_dict(interval),
            languages=tuple(LanguageScores.from_dict(item) for item in data.get("languages") or ()),
        )


def _span_dict(span: Span | None) -> dict[str, Any] | None:
    return None if span is None else {"start": span.start, "end": span.end, "label": span.label}


# ------------------------------------------------------------------------------------------ preparing input

# Inside the computations a span is a plain (start, end, label) tuple: hashing, sorting and comparing tuples
# runs in C, while the Span dataclass's generated methods run in Python — several times slower on 10k docs.
_S = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class _Doc:
    text: str | None
    name: str
    gold: tuple[_S, ...]  # sorted, deduplicated
    predicted: tuple[_S, ...]
    language: str | None = None  # the gold document's, when the gold is a LabeledDoc


def _tuples(spans: Iterable[Span]) -> tuple[_S, ...]:
    return tuple(sorted({(span.start, span.end, span.label) for span in spans}))


def _prepare(pairs: Iterable[Pair]) -> list[_Doc]:
    docs: list[_Doc] = []
    for index, pair in enumerate(pairs):
        try:
            gold, predicted = pair
        except (TypeError, ValueError):
            raise MetricsError(f"item {index} is not a (gold, predicted) pair") from None
        if isinstance(gold, LabeledDoc):
            text: str | None = gold.text
            name = gold.name
            gold_spans: Iterable[Span] = gold.spans
            language = gold.language
        else:
            text, name, gold_spans, language = None, "", gold, None
        doc = _Doc(text, name or f"document {index + 1}", _tuples(gold_spans), _tuples(predicted), language)
        if text is not None:
            size = len(text)
            for start, end, label in (*doc.gold, *doc.predicted):
                if start < 0 or end > size or end <= start:
                    raise MetricsError(
                        f"{doc.name}: span {label} {start}-{end} is outside the text (0-{size} characters) or empty"
                    )
        docs.append(doc)
    return docs


def _span(span: _S | None) -> Span | None:
    return None if span is None else Span(*span)


def _overlaps(a: _S, b: _S) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class _Index:
    """The spans overlapping a range, found by bisection instead of a scan (spans sorted by start)."""

    __slots__ = ("ends", "spans", "starts")

    def __init__(self, spans: Sequence[_S]) -> None:
        self.spans = spans
        self.starts = [span[0] for span in spans]
        # Running maximum of the ends: non-decreasing even when spans overlap or nest.
        self.ends = list(accumulate((span[1] for span in spans), max))

    def covering(self, start: int, end: int) -> list[_S]:
        low = bisect_right(self.ends, start)  # every span before this one ends at or before ``start``
        high = bisect_left(self.starts, end)  # every span from here on starts at or after ``end``
        return [span for span in self.spans[low:high] if span[1] > start]


# ------------------------------------------------------------------------------------- per-document alignment

_Row = tuple[Outcome, _S | None, _S | None]


def _align(gold: Sequence[_S], predicted: Sequence[_S]) -> list[_Row]:
    """Pair each gold span with at most one prediction: exact, then same span, then same type overlapping."""
    predicted_set = set(predicted)
    gold_set = set(gold)
    rows: list[_Row] = [("tp", span, span) for span in gold if span in predicted_set]
    gold_left = [span for span in gold if span not in predicted_set]
    pred_left = [span for span in predicted if span not in gold_set]

    if gold_left and pred_left:
        # Same region, other type.
        by_region: dict[tuple[int, int], list[_S]] = defaultdict(list)
        for span in pred_left:
            by_region[(span[0], span[1])].append(span)
        still: list[_S] = []
        used: set[_S] = set()
        for span in gold_left:
            candidates = by_region.get((span[0], span[1]))
            if candidates:
                match = candidates.pop(0)
                used.add(match)
                rows.append(("wrong_type", span, match))
            else:
                still.append(span)
        gold_left = still
        pred_left = [span for span in pred_left if span not in used]

    if gold_left and pred_left:
        # Same type, overlapping, different boundaries: pair the largest overlaps first, one-to-one.
        options = sorted(
            (
                (min(g[1], p[1]) - max(g[0], p[0]), g, p)
                for g in gold_left
                for p in pred_left
                if g[2] == p[2] and _overlaps(g, p)
            ),
            key=lambda option: (-option[0], option[1], option[2]),
        )
        taken_gold: set[_S] = set()
        taken_pred: set[_S] = set()
        for _, g, p in options:
            if g in taken_gold or p in taken_pred:
                continue
            taken_gold.add(g)
            taken_pred.add(p)
            rows.append(("wrong_boundary", g, p))
        gold_left = [span for span in gold_left if span not in taken_gold]
        pred_left = [span for span in pred_left if span not in taken_pred]

    rows.extend(("fn", span, None) for span in gold_left)
    rows.extend(("fp", None, span) for span in pred_left)
    return rows


def _row_key(row: _Row) -> tuple[int, int, _S]:
    outcome, gold, predicted = row
    first = gold if gold is not None and (predicted is None or gold[0] <= predicted[0]) else predicted
    assert first is not None
    return (first[0], OUTCOMES.index(outcome), first)


def _matching_size(gold: Sequence[_S], predicted: Sequence[_S]) -> int:
    """The size of a maximum one-to-one matching between overlapping gold and predicted spans.

    Exact matches seed the matching; augmenting paths (Kuhn's algorithm) then make it maximum, so the
    score never depends on the order of the spans.
    """
    index = _Index(predicted)
    position = {span: j for j, span in enumerate(predicted)}
    neighbours = [[position[p] for p in index.covering(g[0], g[1])] for g in gold]
    owner: dict[int, int] = {}  # prediction -> gold
    for i, g in enumerate(gold):
        j = position.get(g)
        if j is not None:
            owner[j] = i
    matched = set(owner.values())
    for i in range(len(gold)):
        if i not in matched and neighbours[i]:
            _augment(i, neighbours, owner)
    return len(owner)


def _augment(root: int, neighbours: Sequence[Sequence[int]], owner: dict[int, int]) -> bool:
    """Find an augmenting path from gold ``root`` and flip it (iterative, so long documents cannot overflow
    the recursion limit). ``owner`` maps a matched prediction to its gold."""
    seen: set[int] = set()
    stack = [root]
    iterators = [iter(neighbours[root])]
    via = [-1]  # via[k]: the prediction through which stack[k] was reached
    while stack:
        gold = stack[-1]
        for j in iterators[-1]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner:
                owner[j] = gold
                for k in range(len(stack) - 1, 0, -1):
                    owner[via[k]] = stack[k - 1]
                return True
            stack.append(owner[j])
            iterators.append(iter(neighbours[owner[j]]))
            via.append(j)
            break
        else:
            stack.pop()
            iterators.pop()
            via.pop()
    return False


# ------------------------------------------------------------------------------------------------- scoring


@dataclass(slots=True)
class _Tally:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    partial_extra: Counter[str] = field(default_factory=Counter)  # overlap matches beyond the exact ones
    boundary: Counter[str] = field(default_factory=Counter)
    wrong_type: Counter[str] = field(default_factory=Counter)
    per_doc: list[tuple[int, int, int]] = field(default_factory=list)


def _tally(docs: Sequence[_Doc]) -> _Tally:
    tally = _Tally()
    for doc in docs:
        gold_set = set(doc.gold)
        pred_set = set(doc.predicted)
        hits = gold_set & pred_set
        misses = [span for span in doc.gold if span not in pred_set]
        spurious = [span for span in doc.predicted if span not in gold_set]
        tally.tp.update(span[2] for span in hits)
        tally.fn.update(span[2] for span in misses)
        tally.fp.update(span[2] for span in spurious)
        tally.per_doc.append((len(hits), len(spurious), len(misses)))
        if not (misses and spurious):
            continue  # no errors on one side: no boundary or type errors, and overlap matches = exact ones
        for outcome, missed, _ in _align(doc.gold, doc.predicted):
            if outcome == "wrong_boundary" and missed is not None:
                tally.boundary[missed[2]] += 1
            elif outcome == "wrong_type" and missed is not None:
                tally.wrong_type[missed[2]] += 1
        # Only a type with both a miss and a spurious prediction in this document can gain overlap matches.
        for label in {span[2] for span in misses} & {span[2] for span in spurious}:
            gold = [span for span in doc.gold if span[2] == label]
            predicted = [span for span in doc.predicted if span[2] == label]
            exact = sum(span in pred_set for span in gold)
            tally.partial_extra[label] += _matching_size(gold, predicted) - exact
    return tally


def _macro(counts: Sequence[Counts]) -> Averages:
    if not counts:
        return Averages(0.0, 0.0, 0.0)
    n = len(counts)
    return Averages(
        precision=sum(c.precision for c in counts) / n,
        recall=sum(c.recall for c in counts) / n,
        f1=sum(c.f1 for c in counts) / n,
    )


def _type_scores(tally: _Tally) -> tuple[TypeScores, ...]:
    scores: list[TypeScores] = []
    for label in sorted(set(tally.tp) | set(tally.fp) | set(tally.fn)):
        tp, fp, fn, extra = tally.tp[label], tally.fp[label], tally.fn[label], tally.partial_extra[label]
        scores.append(
            TypeScores(
                label=label,
                exact=Counts(tp, fp, fn),
                partial=Counts(tp + extra, fp - extra, fn - extra),
                boundary_errors=tally.boundary[label],
                wrong_type_errors=tally.wrong_type[label],
            )
        )
    return tuple(scores)


def score_types(pairs: Iterable[Pair]) -> tuple[TypeScores, ...]:
    """Per-type exact and partial scores, for the types present in the gold or the predictions."""
    return _type_scores(_tally(_prepare(pairs)))


def _language_scores(docs: Sequence[_Doc], tally: _Tally) -> tuple[LanguageScores, ...]:
    counts: dict[str, Counts] = {}
    documents: Counter[str] = Counter()
    for doc, (tp, fp, fn) in zip(docs, tally.per_doc, strict=True):
        key = language_key(doc.language)
        counts[key] = counts.get(key, Counts()) + Counts(tp, fp, fn)
        documents[key] += 1
    return tuple(LanguageScores(key, documents[key], counts[key]) for key in sorted(counts))


def score_languages(pairs: Iterable[Pair]) -> tuple[LanguageScores, ...]:
    """Exact-match P/R/F1 and support per test-document language, sorted by language code.

    The counts are the micro scores' own per-document counts (one matching rule), grouped by ``language_key`` of
    each gold document's language; bare-span gold has no language and scores under ``und``. Every language of the
    test set is listed, even a single one; :func:`evaluate` keeps them only when there are at least two.
    """
    docs = _prepare(pairs)
    return _language_scores(docs, _tally(docs))


# ------------------------------------------------------------------------------------- confusion matrices


def _solid(text: str, start: int, end: int) -> int:
    """Non-whitespace characters in text[start:end] (str.split drops exactly the str.isspace characters)."""
    return len("".join(text[start:end].split()))


def _plain(text: str, start: int, end: int) -> int:
    return end - start


def _spread(
    text: str,
    start: int,
    end: int,
    covering: Sequence[_S],
    measure: Callable[[str, int, int], int] = _solid,
) -> dict[str, float] | None:
    """How [start, end) splits across predicted types, as fractions summing to 1; None if it is all whitespace.

    ``covering`` are the predictions overlapping the range. Each non-whitespace character counts once:
    towards the predicted type covering it, shared equally when overlapping predictions of several types
    cover it, or towards ``$none`` when no prediction does.
    """
    if end <= start or (measure is _solid and text[start:end].isspace()):
        return None
    if not covering:
        return {NONE: 1.0}
    if len(covering) == 1 and covering[0][0] <= start and covering[0][1] >= end:
        return {covering[0][2]: 1.0}
    total = measure(text, start, end)
    cuts = sorted({start, end, *(max(s[0], start) for s in covering), *(min(s[1], end) for s in covering)})
    shares: dict[str, float] = defaultdict(float)
    for a, b in pairwise(cuts):
        weight = measure(text, a, b)
        if not weight:
            continue
        labels = {s[2] for s in covering if s[0] < b and a < s[1]}
        if not labels:
            shares[NONE] += weight
            continue
        for label in labels:
            shares[label] += weight / len(labels)
    return {label: value / total for label, value in shares.items()}


def _gaps(length: int, gold: Sequence[_S]) -> list[tuple[int, int]]:
    """The stretches of text outside every gold span: before the first, between each, after the last."""
    gaps: list[tuple[int, int]] = []
    position = 0
    for start, end, _ in gold:  # sorted by start
        if start > position:
            gaps.append((position, start))
        position = max(position, end)
    gaps.append((position, length))
    return gaps


def _labels(raw: Mapping[str, Mapping[str, float]]) -> tuple[str, ...]:
    found = set(raw) | {label for row in raw.values() for label in row}
    found.discard(NONE)
    return (*sorted(found), NONE)


def _freeze(raw: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    frozen = {gold: {pred: value for pred, value in row.items() if value} for gold, row in raw.items()}
    return {gold: row for gold, row in frozen.items() if row}


def _weighted(docs: Sequence[_Doc]) -> ConfusionMatrix:
    raw: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for doc in docs:
        if doc.text is None:
            raise MetricsError(
                f"{doc.name}: the character-weighted confusion matrix needs the document text; "
                "pass the gold side as a LabeledDoc"
            )
        text = doc.text
        index = _Index(doc.predicted)
        for start, end, label in doc.gold:
            covering = index.covering(start, end)
            shares = _spread(text, start, end, covering)
            if shares is None:
                # An all-whitespace gold span cannot be saved through ner.spans; count plain characters.
                shares = _spread(text, start, end, covering, _plain) or {NONE: 1.0}
            row = raw[label]
            for predicted, value in shares.items():
                row[predicted] += value
        none_row = raw[NONE]
        for start, end in _gaps(len(text), doc.gold):
            shares = _spread(text, start, end, index.covering(start, end))
            if shares is None:
                continue  # nothing but whitespace between two entities: no $none unit there
            for predicted, value in shares.items():
                none_row[predicted] += value
    frozen = _freeze(raw)
    return ConfusionMatrix(_labels(frozen), frozen)


def weighted_confusion(pairs: Iterable[Pair]) -> ConfusionMatrix:
    """Azure's character-overlap confusion matrix (reference §5.2 point 5); gold must be LabeledDocs.

    Units and weights, as reconstructed from Microsoft's LoanAgreements evaluation:

    * Each gold entity is one unit of weight 1.0, split across predicted types in proportion to how many of
      its NON-WHITESPACE characters each predicted type covers; the uncovered rest goes to the ``$none``
      column. `mailing address of 2948 Ben Street` (29 non-whitespace characters) predicted as
      `2948 Ben Street` (13) gives 13/29 to BorrowerAddress and 16/29 to ``$none``.
    * The ``$none`` row is built the same way from the stretches of text between gold entities: each
      stretch before the first entity, between two consecutive entities, and after the last is one unit of
      weight 1.0, split by the predictions spilling into it. Microsoft's example fits exactly: 4 test
      documents with 12 entities each give 4 x 13 = 52 stretches (the ``$none`` row sums to 52.0000), and
      its tiny spurious cells are 2/21 (0.0952381: two non-whitespace characters of a 21-character stretch
      predicted BorrowerAddress) and 1/959 (0.0010427529: one character of the 959-character tail after
      the last entity predicted Interest, the longer Interest prediction that also shows up as FP + FN).
      Stretches with no non-whitespace characters are not units.

    So every row sums to the number of units in it, and ``normalized`` gives Azure's row percentages.
    """
    return _weighted(_prepare(pairs))


def _counted(docs: Sequence[_Doc]) -> ConfusionMatrix:
    raw: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for doc in docs:
        text = doc.text
        predictions = _Index(doc.predicted)
        for start, end, label in doc.gold:
            # Largest overlap wins; on a tie the gold's own type, then the alphabetically first.
            candidates: list[tuple[int, bool, str]] = []
            for p_start, p_end, p_label in predictions.covering(start, end):
                a, b = max(start, p_start), min(end, p_end)
                size = _solid(text, a, b) if text is not None else b - a
                candidates.append((-size, p_label != label, p_label))
            raw[label][min(candidates)[2] if candidates else NONE] += 1
        golds = _Index(doc.gold)
        for start, end, label in doc.predicted:
            if not golds.covering(start, end):
                raw[NONE][label] += 1
    frozen = _freeze(raw)
    return ConfusionMatrix(_labels(frozen), frozen)


def count_confusion(pairs: Iterable[Pair]) -> ConfusionMatrix:
    """Entity counts: each gold entity once, under the predicted type overlapping it most (by non-whitespace
    characters when the text is known), or ``$none``; each prediction overlapping no gold entity once in the
    ``$none`` row. ``$none``→``$none`` is always empty: untagged, unpredicted text is not countable."""
    return _counted(_prepare(pairs))


# ---------------------------------------------------------------------------------------------- bootstrap


def _bootstrap(per_doc: Sequence[tuple[int, int, int]], resamples: int, seed: int, confidence: float) -> Interval:
    if resamples < 1:
        raise MetricsError(f"the bootstrap needs at least one resample, not {resamples}")
    if not 0.0 < confidence < 1.0:
        raise MetricsError(f"the confidence level must be between 0 and 1, not {confidence}")
    n = len(per_doc)
    if n == 0:
        return Interval(0.0, 0.0, confidence, resamples, seed)
    counts = np.asarray(per_doc, dtype=np.int64).reshape(n, 3)
    rng = np.random.default_rng(seed)
    scores = np.empty(resamples, dtype=np.float64)
    # Resample in chunks of at most ~2 million document draws to keep memory flat on large test sets.
    chunk = max(1, 2_000_000 // n)
    for first in range(0, resamples, chunk):
        size = min(chunk, resamples - first)
        picks = rng.integers(0, n, size=(size, n))
        tp = counts[:, 0][picks].sum(axis=1)
        errors = counts[:, 1][picks].sum(axis=1) + counts[:, 2][picks].sum(axis=1)
        denominator = 2 * tp + errors
        scores[first : first + size] = np.divide(
            2 * tp, denominator, out=np.zeros(size, dtype=np.float64), where=denominator > 0
        )
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(scores, [tail, 1.0 - tail])
    return Interval(float(low), float(high), confidence, resamples, seed)


def bootstrap_micro_f1(
    pairs: Iterable[Pair], *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> Interval:
    """Percentile bootstrap interval for micro-F1, resampling whole DOCUMENTS with replacement.

    Documents, not entities, are resampled because errors cluster by document. The same seed gives the
    same interval. Per-document TP/FP/FN are counted once, so 1,000 resamples of 10,000 documents take
    well under a second.
    """
    docs = _prepare(pairs)
    return _bootstrap(_tally(docs).per_doc, resamples, seed, confidence)


# ---------------------------------------------------------------------------------------------- front door


def evaluate(
    pairs: Iterable[Pair],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> EvaluationReport:
    """Score a test set. ``resamples=0`` skips the confidence interval; bare-span gold skips the
    character-weighted matrix (it needs the texts)."""
    docs = _prepare(pairs)
    tally = _tally(docs)
    types = _type_scores(tally)
    micro = sum((t.exact for t in types), Counts())
    partial_micro = sum((t.partial for t in types), Counts())
    have_texts = all(doc.text is not None for doc in docs)
    languages = _language_scores(docs, tally)
    return EvaluationReport(
        documents=len(docs),
        types=types,
        micro=micro,
        macro=_macro([t.exact for t in types]),
        partial_micro=partial_micro,
        partial_macro=_macro([t.partial for t in types]),
        weighted_matrix=_weighted(docs) if have_texts else None,
        count_matrix=_counted(docs),
        micro_f1_interval=_bootstrap(tally.per_doc, resamples, seed, confidence) if resamples else None,
        languages=languages if len(languages) >= 2 else (),
    )


def compare_documents(pairs: Iterable[Pair]) -> list[DocumentComparison]:
    """Per document, every gold and predicted span marked tp / fp / fn / wrong_type / wrong_boundary.

    A wrong-type or wrong-boundary pair is one line (it is an FP and an FN in the scores). Sort with
    ``sorted(result, key=lambda d: -d.error_count)`` for a "worst first" review.
    """
    comparisons: list[DocumentComparison] = []
    for index, doc in enumerate(_prepare(pairs)):
        rows = sorted(_align(doc.gold, doc.predicted), key=_row_key)
        compared = tuple(ComparedSpan(outcome, _span(gold), _span(pred)) for outcome, gold, pred in rows)
        comparisons.append(DocumentComparison(index, doc.name, compared))
    return comparisons


def azure_summary(report: EvaluationReport) -> dict[str, Any]:
    """The report in the shape of Azure's ``customEntityRecognitionEvaluation`` (reference §4.3).

    ``confusionMatrix[gold][predicted] = {normalizedValue (percent of the row), rawValue}``, sparse like
    Azure's; it uses the character-weighted matrix, or the count matrix when the texts were not available.
    """
    matrix = report.weighted_matrix if report.weighted_matrix is not None else report.count_matrix
    confusion: dict[str, dict[str, dict[str, float]]] = {}
    for cell in matrix.cells("all"):
        confusion.setdefault(cell.gold, {})[cell.predicted] = {
            "normalizedValue": cell.normalized,
            "rawValue": cell.raw,
        }
    entities = {
        t.label: {
            "f1": t.exact.f1,
            "precision": t.exact.precision,
            "recall": t.exact.recall,
            "truePositiveCount": t.exact.tp,
            "trueNegativeCount": 0,  # not meaningful for NER; Azure always reports 0
            "falsePositiveCount": t.exact.fp,
            "falseNegativeCount": t.exact.fn,
        }
        for t in report.types
    }
    return {
        "confusionMatrix": confusion,
        "entities": entities,
        "microF1": report.micro.f1,
        "microPrecision": report.micro.precision,
        "microRecall": report.micro.recall,
        "macroF1": report.macro.f1,
        "macroPrecision": report.macro.precision,
        "macroRecall": report.macro.recall,
    }

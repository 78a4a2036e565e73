"""Inter-annotator agreement: how alike two or more annotators tagged the same documents.

Each document comes as its *layers*: annotator -> the spans that annotator tagged. Between two annotators:

* Span-level F1 of exact matches on ``(start, end, label)``, one annotator taken as the reference and the other
  as the prediction. Swapping them swaps false positives and false negatives, so F1 (``2TP / (2TP + FP + FN)``)
  is the same either way: the measure is symmetric. The counting is ``ner.metrics``'s exact matching
  (``score_types``); only the reading differs.
* Unlike an evaluation, two annotators who both tagged nothing agree perfectly, so "no spans on either side"
  scores 1.0 here where ``ner.metrics`` gives 0.0 (see :func:`agreement_f1`).
* Token-level Cohen's kappa, when the token bounds are given: each token gets the label of the spans covering it
  (or "O"), and kappa corrects the share of tokens labelled alike for the agreement expected by chance.

Beyond the numbers, :func:`span_votes` lists every distinct span with who tagged it, :func:`conflict_groups`
clusters the overlapping ones, for an adjudicator to choose from.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from ner.metrics import Counts, score_types
from ner.types import Span

OUTSIDE = "O"  # the token label for "in no span"

Layers = Mapping[str, Sequence[Span]]
TokenBounds = Sequence[tuple[int, int]]


class AgreementError(ValueError):
    """The input cannot be compared; the message says why."""


def agreement_f1(counts: Counts) -> float:
    """F1 of ``counts`` read as agreement: 1.0 when neither annotator tagged anything (they agree)."""
    if counts.tp + counts.fp + counts.fn == 0:
        return 1.0
    return counts.f1


@dataclass(frozen=True, slots=True)
class AnnotatedDoc:
    """One document as several annotators tagged it; ``tokens`` (sorted code point bounds) enable kappa."""

    name: str
    layers: Layers
    tokens: TokenBounds | None = None

    @property
    def annotators(self) -> tuple[str, ...]:
        return tuple(sorted(self.layers))


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Agreement between two annotators over the documents both tagged.

    ``overall`` counts ``first`` as the reference: ``tp`` spans both tagged, ``fn`` spans only ``first`` tagged,
    ``fp`` spans only ``second`` tagged. ``kappa`` is None when no token bounds were given.
    """

    first: str
    second: str
    documents: int
    overall: Counts
    per_type: Mapping[str, Counts] = field(default_factory=dict)
    kappa: float | None = None

    @property
    def f1(self) -> float:
        return agreement_f1(self.overall)

    def type_f1(self, label: str) -> float | None:
        """F1 on one entity type, or None when neither annotator used it on their shared documents."""
        counts = self.per_type.get(label)
        return None if counts is None else agreement_f1(counts)


@dataclass(frozen=True, slots=True)
class DocumentAgreement:
    """One document's pairwise agreement; ``lowest_f1`` is the sort key for "most disagreement first"."""

    name: str
    annotators: tuple[str, ...]
    pairs: tuple[PairAgreement, ...]

    @property
    def lowest_f1(self) -> float:
        return min((pair.f1 for pair in self.pairs), default=1.0)

    @property
    def mean_f1(self) -> float:
        return sum(pair.f1 for pair in self.pairs) / len(self.pairs) if self.pairs else 1.0


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Everything :func:`agreement_report` computes.

    ``pairs`` has one entry per pair of annotators who share at least one document, sorted by name; ``per_type``
    and ``overall`` pool every pair's counts; ``documents`` lists the compared documents lowest agreement first.
    """

    annotators: tuple[str, ...]
    pairs: tuple[PairAgreement, ...]
    per_type: Mapping[str, Counts]
    overall: Counts
    documents: tuple[DocumentAgreement, ...]
    kappa: float | None

    @property
    def f1(self) -> float:
        return agreement_f1(self.overall)

    def pair(self, first: str, second: str) -> PairAgreement | None:
        """The agreement of two annotators in either order (symmetric), or None when they share no document."""
        a, b = sorted((first, second))
        for pair in self.pairs:
            if (pair.first, pair.second) == (a, b):
                return pair
        return None

    def type_f1(self, label: str) -> float | None:
        counts = self.per_type.get(label)
        return None if counts is None else agreement_f1(counts)


# ------------------------------------------------------------------------------------------------ counting


def _pair_counts(pairs: Sequence[tuple[Sequence[Span], Sequence[Span]]]) -> tuple[Counts, dict[str, Counts]]:
    # One home for exact matching: ner.metrics counts the reference (gold) side against the other (predicted).
    per_type = {scores.label: scores.exact for scores in score_types(pairs)}
    return sum(per_type.values(), Counts()), per_type


def _token_labels(tokens: TokenBounds, spans: Iterable[Span]) -> list[str]:
    """Each token's label: the labels of the spans overlapping it, joined; "O" for a token in no span."""
    labels: list[set[str]] = [set() for _ in tokens]
    starts = [start for start, _ in tokens]
    for span in spans:
        # Tokens are sorted and do not overlap, so those touching the span form one run.
        low = max(bisect_right(starts, span.start) - 1, 0)
        high = bisect_left(starts, span.end)
        for index in range(low, high):
            start, end = tokens[index]
            if start < span.end and span.start < end:
                labels[index].add(span.label)
    return ["|".join(sorted(names)) if names else OUTSIDE for names in labels]


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa of two label sequences of equal length; None when empty.

    When chance agreement is certain (both used one and the same label throughout) they agree perfectly: 1.0.
    """
    if len(first) != len(second):
        raise AgreementError(f"cannot compare {len(first)} labels with {len(second)}")
    total = len(first)
    if total == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / total
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (total * total)
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def _kappa(docs: Sequence[AnnotatedDoc], first: str, second: str) -> float | None:
    if any(doc.tokens is None for doc in docs):
        return None
    labels_a: list[str] = []
    labels_b: list[str] = []
    for doc in docs:
        assert doc.tokens is not None
        labels_a += _token_labels(doc.tokens, doc.layers[first])
        labels_b += _token_labels(doc.tokens, doc.layers[second])
    return cohen_kappa(labels_a, labels_b)


def pair_agreement(docs: Sequence[AnnotatedDoc], first: str, second: str) -> PairAgreement:
    """Agreement of two annotators over the documents among ``docs`` that both tagged (names sorted)."""
    if first == second:
        raise AgreementError(f"{first} cannot be compared with themself")
    first, second = sorted((first, second))
    shared = [doc for doc in docs if first in doc.layers and second in doc.layers]
    overall, per_type = _pair_counts([(doc.layers[first], doc.layers[second]) for doc in shared])
    return PairAgreement(
        first=first,
        second=second,
        documents=len(shared),
        overall=overall,
        per_type=per_type,
        kappa=_kappa(shared, first, second) if shared else None,
    )


def document_agreement(doc: AnnotatedDoc) -> DocumentAgreement:
    names = doc.annotators
    return DocumentAgreement(
        name=doc.name, annotators=names, pairs=tuple(pair_agreement([doc], a, b) for a, b in combinations(names, 2))
    )


def agreement_report(docs: Sequence[AnnotatedDoc]) -> AgreementReport:
    """Pairwise, per-type and per-document agreement over ``docs``; documents with fewer than two layers are
    left out (there is nobody to agree with)."""
    compared = [doc for doc in docs if len(doc.layers) >= 2]
    annotators = tuple(sorted({name for doc in compared for name in doc.layers}))
    pairs = tuple(
        pair
        for a, b in combinations(annotators, 2)
        if (pair := pair_agreement(compared, a, b)).documents  # pairs who never shared a document say nothing
    )
    per_type: dict[str, Counts] = {}
    for pair in pairs:
        for label, counts in pair.per_type.items():
            per_type[label] = per_type.get(label, Counts()) + counts
    documents = sorted(
        (document_agreement(doc) for doc in compared), key=lambda item: (item.lowest_f1, item.mean_f1, item.name)
    )
    kappas = [pair.kappa for pair in pairs]
    return AgreementReport(
        annotators=annotators,
        pairs=pairs,
        per_type=dict(sorted(per_type.items())),
        overall=sum((pair.overall for pair in pairs), Counts()),
        documents=tuple(documents),
        # The mean over pairs (Light's kappa): kappa has no pooled form across pairs with different documents.
        kappa=None if not kappas or None in kappas else sum(k for k in kappas if k is not None) / len(kappas),
    )


# ---------------------------------------------------------------------------------------------- adjudication


@dataclass(frozen=True, slots=True)
class SpanVote:
    """One distinct span of a document and who tagged it."""

    span: Span
    annotators: frozenset[str]

    def unanimous(self, everyone: Iterable[str]) -> bool:
        return self.annotators >= frozenset(everyone)


def span_votes(layers: Layers) -> list[SpanVote]:
    """Every distinct span across the layers, in reading order, with the annotators who tagged it."""
    voters: dict[Span, set[str]] = {}
    for annotator, spans in layers.items():
        for span in spans:
            voters.setdefault(span, set()).add(annotator)
    return [SpanVote(span, frozenset(names)) for span, names in sorted(voters.items())]


def only_tagged_by(layers: Layers) -> dict[str, list[Span]]:
    """For each annotator, the spans nobody else tagged (exact match), in reading order."""
    alone: dict[str, list[Span]] = {name: [] for name in layers}
    for vote in span_votes(layers):
        if len(vote.annotators) == 1:
            alone[next(iter(vote.annotators))].append(vote.span)
    return alone


def conflict_groups(votes: Sequence[SpanVote]) -> list[list[SpanVote]]:
    """``votes`` clustered by overlap (transitively), in reading order: each cluster is one decision to make."""
    groups: list[list[SpanVote]] = []
    reach = -1  # the furthest end in the current cluster
    for vote in sorted(votes, key=lambda item: (item.span.start, item.span.end, item.span.label)):
        if groups and vote.span.start < reach:
            groups[-1].append(vote)
            reach = max(reach, vote.span.end)
        else:
            groups.append([vote])
            reach = vote.span.end
    return groups

"""Active learning: how unsure a trained model is about each untagged document, and which ones to tag next.

The uncertainty of a document is the model's doubt at the single most doubtful place in it, a number in [0, 1]:

    uncertainty = max(1 - min(confidence of the entities it found), near_miss)

* ``1 - confidence`` of an entity is the probability that the entity is not exactly right (wrong type or wrong
  boundaries, or not an entity at all): ``ner.predict``'s greedy confidence, calibrated when the model folder has
  a calibration map. The least confident entity decides.
* ``near_miss`` covers what the model did *not* tag: at every token outside the entities it found, the greedy
  parser chose "outside" (O) over opening an entity there; ``1 - P(O)`` there is the probability it gives to an
  entity starting at that token, from the same softmax over valid moves that ``ner.predict`` uses for confidence.
  The largest such value is the document's near miss. It is the model's raw probability (no calibration map is
  fitted for it), which is over-confident, so near misses are if anything understated.

A document where the model finds nothing and hesitates nowhere scores close to 0; one with a shaky entity or a
token it almost tagged scores high. Taking the worst place rather than an average means long documents, which
have more places to go wrong, tend to score higher: that is deliberate (a long document with one doubtful entity
still teaches the model that entity) but it also means uncertainty sampling tends to choose longer, denser
documents; ``bench/active_learning.py`` reports documents and entity instances separately because of it.

Scoring is one pass of the pipeline per chunk (``ner.tokens.chunk_bounds``, as in ``ner.predict``) plus one
batched call of the parser's layers for the states of the tokens involved (``ner.predict._GreedyScorer``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from ner.predict import GREEDY_SCORE, Predictor, ScoredSpan, _GreedyScorer
from ner.tokens import chunk_bounds


@dataclass(frozen=True, slots=True)
class DocumentUncertainty:
    """How unsure a model is about one document; every value is in [0, 1].

    ``min_confidence`` is None when the model found no entity; ``near_miss`` is 0.0 when every token outside the
    entities is one where it could only say "outside" (spaces)."""

    uncertainty: float
    entities: int
    min_confidence: float | None
    near_miss: float


def uncertainty_from_spans(spans: Sequence[ScoredSpan], near_miss: float = 0.0) -> float:
    """The uncertainty of a document from the entities found in it (with confidence) and its near miss."""
    confidences = []
    for span in spans:
        if span.confidence is None:
            raise ValueError("an entity has no confidence: predict with with_confidence=True")
        confidences.append(span.confidence)
    return _uncertainty(confidences, near_miss)


def _uncertainty(confidences: Sequence[float], near_miss: float) -> float:
    if not 0.0 <= near_miss <= 1.0:  # also refuses NaN
        raise ValueError(f"near_miss must lie in [0, 1], got {near_miss}")
    doubt = max((1.0 - confidence for confidence in confidences), default=0.0)
    return min(1.0, max(0.0, doubt, near_miss))


def most_uncertain(scores: Sequence[tuple[int, float]], k: int) -> list[int]:
    """The keys (document ids, positions) of the ``k`` most uncertain of ``(key, uncertainty)`` pairs, most
    uncertain first.

    Ties are broken by the key, ascending, so the same scores always give the same choice (document ids in the
    product, positions in the benchmark). NaN scores are refused rather than sorted arbitrarily."""
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    for key, score in scores:
        if math.isnan(score):
            raise ValueError(f"document {key!r} has no uncertainty (NaN)")
    ordered = sorted(scores, key=lambda pair: (-pair[1], pair[0]))
    return [key for key, _ in ordered[:k]]


def score_documents(predictor: Predictor, texts: Sequence[str], batch_size: int = 32) -> list[DocumentUncertainty]:
    """The uncertainty of each text under ``predictor``'s model (see the module doc), in the order given."""
    scorer = _NearMissScorer(predictor)
    pieces = [(index, text[start:end]) for index, text in enumerate(texts) for start, end in chunk_bounds(text)]
    found: list[list[float]] = [[] for _ in texts]
    near: list[float] = [0.0] * len(texts)
    size = max(1, batch_size)
    for first in range(0, len(pieces), size):
        batch = pieces[first : first + size]
        docs = list(predictor.nlp.pipe([text for _, text in batch], batch_size=size))
        for (index, _), doc_confidences, miss in zip(
            batch, scorer.entity_confidences(docs), scorer.near_misses(docs), strict=True
        ):
            found[index].extend(doc_confidences)
            near[index] = max(near[index], miss)
    return [
        DocumentUncertainty(
            uncertainty=_uncertainty(doc_confidences, miss),
            entities=len(doc_confidences),
            min_confidence=min(doc_confidences) if doc_confidences else None,
            near_miss=miss,
        )
        for doc_confidences, miss in zip(found, near, strict=True)
    ]


class _NearMissScorer:
    """Entity confidences exactly as ``Predictor.predict(with_confidence=True)`` gives them, and near misses.

    Uses ``ner.predict``'s greedy scorer (same package, same assumptions about spaCy's NER): the state at a token
    outside any entity is described by the token alone, so the probabilities of all the "outside" decisions are
    one more batch of rows for the same layers."""

    def __init__(self, predictor: Predictor) -> None:
        self._predictor = predictor
        self._scorer = _GreedyScorer(predictor.nlp.get_pipe("ner"))

    def entity_confidences(self, docs: Sequence[Any]) -> list[list[float]]:
        raw = self._scorer.entity_scores(docs)
        calibration = self._predictor.calibration
        if calibration is not None and calibration.score == GREEDY_SCORE:
            raw = [[calibration.apply(score) for score in scores] for scores in raw]
        # Summed float32 probabilities can land a hair outside [0, 1], as in Predictor.predict.
        return [[min(1.0, max(0.0, score)) for score in scores] for scores in raw]

    def near_misses(self, docs: Sequence[Any]) -> list[float]:
        """Per doc, the largest probability of opening an entity at a token where the model chose "outside"."""
        scorer = self._scorer
        rows: list[int] = []
        owners: list[int] = []
        valid: list[Any] = []
        offset = 0
        for position, doc in enumerate(docs):
            length = len(doc)
            inside = numpy.zeros(length, dtype=bool)
            for entity in doc.ents:
                inside[entity.start : entity.end] = True
            for token in range(length):
                # A space token can only be "outside": no doubt there.
                if inside[token] or doc[token].is_space:
                    continue
                rows.append(token + offset)
                owners.append(position)
                valid.append(scorer._outside_last if token == length - 1 else scorer._outside)
            offset += length
        result = [0.0] * len(docs)
        if not rows:
            return result
        features = numpy.full((len(rows), 3), -1, dtype="i")
        features[:, 0] = rows
        scores = scorer._state_scores(docs, features)
        masked = numpy.where(numpy.stack(valid), scores, -numpy.inf)
        top = masked.max(axis=1)
        log_norm = top + numpy.log(numpy.exp(masked - top[:, None]).sum(axis=1))
        outside = numpy.exp(scores[:, scorer._index["O"]] - log_norm)
        doubt = numpy.clip(1.0 - outside, 0.0, 1.0).tolist()
        for owner, value in zip(owners, doubt, strict=True):
            result[owner] = max(result[owner], float(value))
        return result

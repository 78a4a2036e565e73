"""Running a trained model over texts, with an optional confidence for every entity found.

Texts are cut into chunks exactly as training cut its documents (``ner.tokens.chunk_bounds``), so a
128,000-character document is processed piece by piece; offsets are mapped back and are Unicode code points into
the caller's text.

Confidence (``with_confidence=True``): "the probability that this entity is exactly right" (same start, end and
label), as Azure's ``confidenceScore``. Two steps:

1. A raw score from the greedy parse itself (``GREEDY_SCORE``). spaCy's NER decides token by token: at each token
   the model scores every transition (O, B-X, I-X, L-X, U-X) and takes the best valid one; it is trained with a
   softmax over the valid transitions, so that softmax is the model's own probability of each decision. The C
   decoding loop keeps none of it, so after ``nlp.pipe`` we recompute the decisions that made each entity: the
   parser's state at a token is fully described by three feature tokens (the token, the open entity's first
   token, the previous token), which follow from the entities found, so all the states we need are scored in one
   batched call of the parser's own layers (``_GreedyScorer``), with no second decoding. The raw score of an
   entity is the product of the probabilities of the decisions from the token before it (which could have opened
   an entity running into it) to its last token. It costs about 5 % on top of ``nlp.pipe``, and the entities are
   the very ones ``nlp.pipe`` found.
2. The raw probabilities are over-confident, so training fits an isotonic map from the raw score to "exactly right"
   on the dev set and saves it as ``calibration.json`` beside the model (``ner.calibration``); ``Predictor``
   applies it when the folder has one. A model without one gives raw scores. On CoNLL-2003 (trained on eng.train
   for 2,500 steps, map fitted on eng.testa, bench/predict.py) the expected calibration error on eng.testb is
   0.131 raw and 0.042 calibrated (beam marginals, width 16: 0.174).

``method="beam"`` keeps the older alternative: the beam-search marginal of each greedy entity (the share of
``beam_width`` beam parses that contain it). It costs 1.5-2 times the greedy time, and on CoNLL-2003 its scores
separate right from wrong entities less well (AUROC 0.76 against 0.86 for the greedy score), so it is not the
default; no map is fitted for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy
import spacy
from spacy.language import Language

from ner.calibration import CalibrationError, CalibrationMap, calibration_map_load
from ner.compute import model_ops
from ner.encoders import EncoderFileError, load_encoder
from ner.encoders.bert import weights_file
from ner.encoders.layer import FROZEN_ENCODER  # importing the module registers the encoder architectures
from ner.tokens import chunk_bounds
from ner.types import Span

BEAM_WIDTH = 16
# Names the raw score a calibration map was fitted on; change it whenever the raw score's definition changes, so
# that old maps are not applied to a new score.
GREEDY_SCORE = "greedy-decision-product-v1"
ConfidenceMethod = Literal["greedy", "beam"]


class ModelLoadError(ValueError):
    """A folder does not hold a usable model; the message says what is wrong."""


@dataclass(frozen=True, slots=True, order=True)
class ScoredSpan:
    """An entity the model found; offsets are code points, ``end`` exclusive; confidence in [0, 1] or None."""

    start: int
    end: int
    label: str
    confidence: float | None = None

    def as_span(self) -> Span:
        return Span(self.start, self.end, self.label)


class _GreedyScorer:
    """The probability of each greedy decision behind an entity, from the NER's own layers (see the module doc).

    Relies on spaCy 3.x's transition-based NER: moves named ``B-X I-X L-X U-X O``, three context tokens per state
    (``StateC.set_context_tokens``: the buffer's first token; the open entity's first token; the token before the
    buffer when an entity is open) and the parser's step model (``state2vec`` then ``vec2scores``). Which moves are
    valid mirrors ``spacy/pipeline/_parser_internals/ner.pyx`` for documents without preset entities or sentence
    starts, which is how ``nlp.pipe`` runs here. The tests check that the move taken is always the best valid
    one under these scores, i.e. that the states are reconstructed exactly.
    """

    def __init__(self, ner: Any) -> None:
        self._ner = ner
        moves = ner.moves
        names = [moves.get_class_name(index) for index in range(moves.n_moves)]
        self._index = {name: index for index, name in enumerate(names)}
        labels = [name[2:] for name in names if name.startswith("U-") and len(name) > 2]
        size = len(names)

        def mask(*moves_: str) -> Any:
            row = numpy.zeros(size, dtype=bool)
            row[[self._index[name] for name in moves_]] = True
            return row

        # Outside an entity: O, or open one (B, not on the last token) or take one token (U); neither on a space.
        self._outside = mask("O", *(f"B-{label}" for label in labels), *(f"U-{label}" for label in labels))
        self._outside_last = mask("O", *(f"U-{label}" for label in labels))
        self._outside_space = mask("O")
        # Inside an entity of label X: continue (I-X, not on the last token) or close it (L-X).
        self._inside = {label: mask(f"I-{label}", f"L-{label}") for label in labels}
        self._inside_last = {label: mask(f"L-{label}") for label in labels}

    def entity_scores(self, docs: Sequence[Any]) -> list[list[float]]:
        """For every doc, the raw score of each of its ``doc.ents`` in order."""
        index = self._index
        outside = index["O"]
        feature_rows: list[tuple[int, int, int]] = []
        taken: list[int] = []
        valid: list[Any] = []
        spans: list[list[tuple[int, int]]] = []  # per doc: each entity's rows [first, last)
        offset = 0
        for doc in docs:
            length = len(doc)
            move = [outside] * length
            open_start = [-1] * length  # the open entity's first token when the state at a token has one
            open_label: list[str] = [""] * length
            for entity in doc.ents:
                first, end, label = entity.start, entity.end, entity.label_
                if end - first == 1:
                    move[first] = index[f"U-{label}"]
                    continue
                move[first] = index[f"B-{label}"]
                for token in range(first + 1, end):
                    move[token] = index[f"I-{label}"]
                    open_start[token] = first
                    open_label[token] = label
                move[end - 1] = index[f"L-{label}"]
            rows = []
            for entity in doc.ents:
                first_row = len(feature_rows)
                for token in range(max(entity.start - 1, 0), entity.end):
                    last = token == length - 1
                    if open_start[token] >= 0:
                        label = open_label[token]
                        feature_rows.append((token + offset, open_start[token] + offset, token - 1 + offset))
                        valid.append(self._inside_last[label] if last else self._inside[label])
                    else:
                        feature_rows.append((token + offset, -1, -1))
                        if doc[token].is_space:
                            valid.append(self._outside_space)
                        else:
                            valid.append(self._outside_last if last else self._outside)
                    taken.append(move[token])
                rows.append((first_row, len(feature_rows)))
            spans.append(rows)
            offset += length
        if not feature_rows:
            return [[] for _ in docs]
        scores = self._state_scores(docs, numpy.asarray(feature_rows, dtype="i"))
        masked = numpy.where(numpy.stack(valid), scores, -numpy.inf)
        top = masked.max(axis=1)
        log_norm = top + numpy.log(numpy.exp(masked - top[:, None]).sum(axis=1))
        log_probability = scores[numpy.arange(len(taken)), taken] - log_norm
        # Each entity's rows are consecutive: the sum over rows [first, last) is a difference of running sums.
        running = numpy.concatenate(([0.0], numpy.cumsum(log_probability))).tolist()
        return [[math.exp(running[last] - running[first]) for first, last in rows] for rows in spans]

    def _state_scores(self, docs: Sequence[Any], features: Any) -> Any:
        """The parser's move scores for the states described by ``features`` (rows of batch-wide token indices,
        -1 for none), as ``ParserStepModel.predict`` would compute them.

        The step model precomputes the first hidden layer for every token of the batch; only the tokens in and
        just before entities are needed here (about a fifth), so for the usual architecture (maxout hidden layer
        plus an output layer) we project just those, which halves the cost. Anything else uses the step model.
        """
        model = self._ner.model
        lower = model.get_ref("lower")
        if not model.attrs.get("has_upper") or lower.get_dim("nP") < 2:
            step_model = model.predict(list(docs))
            try:
                return numpy.asarray(step_model.vec2scores.predict(step_model.state2vec.predict(features)), "f8")
            finally:
                step_model.clear_memory()
        tokvecs = model.get_ref("tok2vec").predict(list(docs))
        needed, positions = numpy.unique(features[features >= 0], return_inverse=True)
        # Row 0 of the projection is the padding vector, used for absent features (-1).
        projected = lower.predict(tokvecs[needed])
        pieces = lower.get_dim("nP")
        flat = projected.reshape(projected.shape[0], features.shape[1], -1)  # (tokens + 1, features, nO * nP)
        rows = numpy.zeros(features.shape, dtype="i")
        rows[features >= 0] = positions.reshape(-1) + 1
        summed = sum(flat[rows[:, column], column] for column in range(features.shape[1]))
        summed = summed.reshape(len(features), -1, pieces) + lower.get_param("b")
        # Maxout; numpy.maximum over the pieces is ~20 times faster than .max(axis=-1) on an axis of 2.
        hidden = summed[..., 0]
        for piece in range(1, pieces):
            hidden = numpy.maximum(hidden, summed[..., piece])
        scores = numpy.asarray(model.get_ref("upper").predict(numpy.ascontiguousarray(hidden)), dtype="f8")
        unseen = sorted(model.attrs.get("unseen_classes") or ())
        if unseen:  # as ParserStepModel: moves never seen in training score the minimum
            scores[:, unseen] = numpy.nanmin(scores)
        return scores


class Predictor:
    """A loaded model. Loading takes a second or so: callers keep one per model (``load`` does not cache)."""

    def __init__(self, nlp: Language, model_dir: Path, calibration: CalibrationMap | None = None) -> None:
        if "ner" not in nlp.pipe_names:
            raise ModelLoadError(f"{model_dir}: the pipeline has no 'ner' component (it has {nlp.pipe_names})")
        self.nlp = nlp
        self.model_dir = model_dir
        self.calibration = calibration
        self._ner: Any = nlp.get_pipe("ner")
        self._scorer: _GreedyScorer | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._ner.labels)

    @property
    def language(self) -> str:
        """spaCy's language code for the model's tokenizer (``xx`` for multilingual)."""
        return str(self.nlp.lang)

    def predict(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        *,
        with_confidence: bool = False,
        method: ConfidenceMethod = "greedy",
        beam_width: int = BEAM_WIDTH,
        calibrated: bool = True,
    ) -> list[list[ScoredSpan]]:
        """The entities in each text, in text order; confidence is None unless ``with_confidence``.

        ``calibrated=False`` returns the raw scores even when the model has a calibration map (training fits the
        map on them)."""
        if method not in ("greedy", "beam"):
            raise ValueError(f"unknown confidence method {method!r}; use 'greedy' or 'beam'")
        pieces = [
            (index, start, text[start:end]) for index, text in enumerate(texts) for start, end in chunk_bounds(text)
        ]
        results: list[list[ScoredSpan]] = [[] for _ in texts]
        size = max(1, batch_size)
        calibration = self.calibration if calibrated else None
        for first in range(0, len(pieces), size):
            batch = pieces[first : first + size]
            chunk_texts = [text for _, _, text in batch]
            confidences: list[list[float]] | None = None
            if with_confidence and method == "beam":
                docs, confidences = self._parse_with_beam(chunk_texts, beam_width)
            else:
                docs = list(self.nlp.pipe(chunk_texts, batch_size=size))
                if with_confidence:
                    confidences = self._greedy_scores(docs, calibration)
            for position, ((index, offset, _), doc) in enumerate(zip(batch, docs, strict=True)):
                for number, entity in enumerate(doc.ents):
                    confidence = None
                    if confidences is not None:
                        # Summed float32 probabilities can land a hair outside [0, 1].
                        confidence = min(1.0, max(0.0, confidences[position][number]))
                    results[index].append(
                        ScoredSpan(offset + entity.start_char, offset + entity.end_char, entity.label_, confidence)
                    )
        return results

    def _greedy_scores(self, docs: list[Any], calibration: CalibrationMap | None) -> list[list[float]]:
        if self._scorer is None:
            self._scorer = _GreedyScorer(self._ner)
        raw = self._scorer.entity_scores(docs)
        if calibration is None or calibration.score != GREEDY_SCORE:
            return raw
        return [[calibration.apply(score) for score in scores] for scores in raw]

    def _parse_with_beam(self, texts: list[str], beam_width: int) -> tuple[list[Any], list[list[float]]]:
        # Run everything before the NER (tok2vec sets doc.tensor, which the NER's listener reads), then decode the
        # same docs twice. The beam must run before the greedy pass sets entities: spaCy's NER treats entities
        # already on a doc as fixed, which would make every beam parse agree with the greedy one.
        docs = list(self.nlp.pipe(texts, batch_size=len(texts), disable=["ner"]))
        beams = self._ner.beam_parse(docs, beam_width=beam_width)
        marginals = [dict(scores) for scores in self._ner.scored_ents(beams)]
        states = self._ner.predict(docs)
        self._ner.set_annotations(docs, states)
        # An entity no kept parse contains gets 0.0; when the beam produced no parse at all, every entity gets 1.0.
        return docs, [
            [
                float(scores.get((entity.start, entity.end, entity.label_), 0.0)) if scores else 1.0
                for entity in doc.ents
            ]
            for doc, scores in zip(docs, marginals, strict=True)
        ]


def _check_encoder(path: Path) -> None:
    """A model trained on a pretrained encoder runs only on the very weights it was trained on (same SHA-256)."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path / 'meta.json'}: cannot be read: {error}") from error
    representation = (meta.get("nerlab") or {}).get("representation") or {}
    if representation.get("kind") != "encoder":
        return
    name, folder = representation.get("name", ""), representation.get("folder", "")
    try:
        encoder = load_encoder(folder)
    except EncoderFileError as error:
        raise ModelLoadError(
            f"{path}: the model was trained on the encoder {name!r} ({FROZEN_ENCODER}), which cannot be loaded: {error}"
        ) from error
    if encoder.weights_sha256 != representation.get("weights_sha256"):
        raise ModelLoadError(
            f"{path}: the model was trained on the encoder {name!r}, but {weights_file(folder)} has "
            f"changed since (SHA-256 {encoder.weights_sha256}, trained on {representation.get('weights_sha256')}); "
            "put the original weights back or train the model again"
        )


def load(model_dir: Path | str) -> Predictor:
    """Load a model saved by ``ner.train.train`` (with its calibration map, if any); raises ModelLoadError when the
    folder holds none."""
    path = Path(model_dir)
    if not (path / "config.cfg").is_file() or not (path / "meta.json").is_file():
        raise ModelLoadError(f"{path}: no trained model here (config.cfg or meta.json is missing)")
    _check_encoder(path)
    try:
        with model_ops():
            nlp = spacy.load(path)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: the model could not be loaded: {error}") from error
    try:
        calibration = calibration_map_load(path)
    except CalibrationError as error:
        raise ModelLoadError(f"{path}: the confidence calibration could not be loaded: {error}") from error
    return Predictor(nlp, path, calibration)

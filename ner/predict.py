"""Running a trained model over texts, with an optional confidence for every entity found.

Texts are cut into chunks exactly as training cut its documents (``ner.tokens.chunk_bounds``), so a
128,000-character document is processed piece by piece; offsets are mapped back and are Unicode code points into
the caller's text.

Confidence. spaCy's NER decodes greedily: at each token it takes the best-scoring transition, and the result
carries no probability. When ``with_confidence=True`` the same trained model is also decoded with a beam search
(``EntityRecognizer.beam_parse``, ``beam_width`` hypotheses kept at each step). The beam's finished parses
carry probabilities that sum to one (a softmax over their total transition scores); the marginal probability of
an entity is the sum of the probabilities of the parses that contain exactly that entity, same start, end and
label (``EntityRecognizer.scored_ents``). The entities returned are always the greedy ones (the same answer as
without confidence); each gets the beam marginal of that exact entity. So 1.0 means every parse the beam kept
agrees on it; an entity no kept parse contains gets 0.0 (the model's own search finds it unlikely); when the
beam produces no parse at all (nothing to compare against) every entity gets 1.0. Beam decoding costs several
times the greedy time, which is why it only runs when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from ner.tokens import chunk_bounds
from ner.types import Span

BEAM_WIDTH = 16


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


class Predictor:
    """A loaded model. Loading takes a second or so: callers keep one per model (``load`` does not cache)."""

    def __init__(self, nlp: Language, model_dir: Path) -> None:
        if "ner" not in nlp.pipe_names:
            raise ModelLoadError(f"{model_dir}: the pipeline has no 'ner' component (it has {nlp.pipe_names})")
        self.nlp = nlp
        self.model_dir = model_dir
        self._ner: Any = nlp.get_pipe("ner")

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
        beam_width: int = BEAM_WIDTH,
    ) -> list[list[ScoredSpan]]:
        """The entities in each text, in text order; confidence is None unless ``with_confidence``."""
        pieces = [
            (index, start, text[start:end]) for index, text in enumerate(texts) for start, end in chunk_bounds(text)
        ]
        results: list[list[ScoredSpan]] = [[] for _ in texts]
        for first in range(0, len(pieces), max(1, batch_size)):
            batch = pieces[first : first + max(1, batch_size)]
            chunk_texts = [text for _, _, text in batch]
            if with_confidence:
                docs, marginals = self._parse_with_beam(chunk_texts, beam_width)
            else:
                docs, marginals = list(self.nlp.pipe(chunk_texts, batch_size=batch_size)), None
            for position, ((index, offset, _), doc) in enumerate(zip(batch, docs, strict=True)):
                scores = marginals[position] if marginals is not None else None
                for entity in doc.ents:
                    confidence = None
                    if scores is not None:
                        # Summed float32 probabilities can land a hair outside [0, 1].
                        confidence = min(
                            1.0, max(0.0, float(scores.get((entity.start, entity.end, entity.label_), 0.0)))
                        )
                        if not scores:
                            confidence = 1.0
                    results[index].append(
                        ScoredSpan(offset + entity.start_char, offset + entity.end_char, entity.label_, confidence)
                    )
        return results

    def _parse_with_beam(self, texts: list[str], beam_width: int) -> tuple[list[Any], list[dict[Any, float]]]:
        # Run everything before the NER (tok2vec sets doc.tensor, which the NER's listener reads), then decode the
        # same docs twice. The beam must run before the greedy pass sets entities: spaCy's NER treats entities
        # already on a doc as fixed, which would make every beam parse agree with the greedy one.
        docs = list(self.nlp.pipe(texts, batch_size=len(texts), disable=["ner"]))
        beams = self._ner.beam_parse(docs, beam_width=beam_width)
        marginals: list[dict[Any, float]] = [dict(scores) for scores in self._ner.scored_ents(beams)]
        states = self._ner.predict(docs)
        self._ner.set_annotations(docs, states)
        return docs, marginals


def load(model_dir: Path | str) -> Predictor:
    """Load a model saved by ``ner.train.train``; raises ModelLoadError when the folder holds none."""
    path = Path(model_dir)
    if not (path / "config.cfg").is_file() or not (path / "meta.json").is_file():
        raise ModelLoadError(f"{path}: no trained model here (config.cfg or meta.json is missing)")
    try:
        nlp = spacy.load(path)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: the model could not be loaded: {error}") from error
    return Predictor(nlp, path)

"""Document uncertainty for active learning (ner.active): the score, the choice of documents, and a real model."""

from __future__ import annotations

import math

import numpy
import pytest

from ner.active import _NearMissScorer, most_uncertain, score_documents, uncertainty_from_spans
from ner.predict import Predictor, ScoredSpan, load
from ner.tokens import CHUNK_CHARS_MAX
from tests.ner.synthetic_docs import labeled_docs, sentence, train_quick


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return load(train_quick(tmp_path_factory.mktemp("active") / "model").model_path)


def spans(*confidences: float | None) -> list[ScoredSpan]:
    return [ScoredSpan(index, index + 1, "X", confidence) for index, confidence in enumerate(confidences)]


# --- the score ----------------------------------------------------------------------------------------------------


def test_uncertainty_is_the_doubt_about_the_least_confident_entity():
    assert uncertainty_from_spans(spans(0.99, 0.6, 0.95)) == pytest.approx(0.4)
    assert uncertainty_from_spans(spans(1.0)) == 0.0


def test_a_near_miss_counts_when_it_is_the_biggest_doubt():
    assert uncertainty_from_spans(spans(0.9), near_miss=0.7) == pytest.approx(0.7)
    assert uncertainty_from_spans(spans(0.2), near_miss=0.7) == pytest.approx(0.8)
    # Nothing found: only the near miss says anything.
    assert uncertainty_from_spans([], near_miss=0.35) == pytest.approx(0.35)
    assert uncertainty_from_spans([]) == 0.0


def test_uncertainty_refuses_spans_without_confidence_and_bad_near_misses():
    with pytest.raises(ValueError, match="with_confidence=True"):
        uncertainty_from_spans(spans(0.9, None))
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match=r"near_miss must lie in \[0, 1\]"):
            uncertainty_from_spans([], near_miss=bad)


# --- choosing documents -------------------------------------------------------------------------------------------


def test_most_uncertain_first_with_ties_broken_by_key():
    scores = [(7, 0.2), (3, 0.9), (5, 0.5), (1, 0.5), (9, 0.9)]
    assert most_uncertain(scores, 3) == [3, 9, 1]
    assert most_uncertain(list(reversed(scores)), 3) == [3, 9, 1]  # the input order never matters
    assert most_uncertain(scores, 10) == [3, 9, 1, 5, 7]
    assert most_uncertain(scores, 0) == []


def test_most_uncertain_refuses_nan_and_negative_k():
    with pytest.raises(ValueError, match="document 4 has no uncertainty"):
        most_uncertain([(2, 0.1), (4, math.nan)], 1)
    with pytest.raises(ValueError, match="must not be negative"):
        most_uncertain([(2, 0.1)], -1)


# --- with a trained model -----------------------------------------------------------------------------------------


def test_scores_agree_with_the_predictors_confidences(predictor):
    texts = [doc.text for doc in labeled_docs(8)] + ["nothing to see here.", "Gamma Delta visited Omega Town."]
    scores = score_documents(predictor, texts, batch_size=3)
    predicted = predictor.predict(texts, with_confidence=True)
    assert len(scores) == len(texts)
    for score, found in zip(scores, predicted, strict=True):
        assert 0.0 <= score.uncertainty <= 1.0 and 0.0 <= score.near_miss <= 1.0
        assert score.entities == len(found)
        confidences = [span.confidence for span in found]
        assert score.min_confidence == (pytest.approx(min(confidences)) if confidences else None)
        # The documented formula, from the predictor's own output. The two calls batch the texts differently, and
        # OpenBLAS's last bits depend on a product's shape (ner.compute): equal to 1e-5, not to the bit.
        assert score.uncertainty == pytest.approx(uncertainty_from_spans(found, score.near_miss), rel=1e-5)


def test_unfamiliar_text_is_more_uncertain_than_what_the_model_was_trained_on(predictor):
    familiar, _ = sentence(3)
    scores = score_documents(predictor, [familiar, "Gamma Delta visited Omega Town.", "nothing to see here."])
    assert scores[0].uncertainty < 0.01
    assert scores[1].uncertainty > 10 * scores[0].uncertainty
    assert scores[2].entities == 0 and scores[2].min_confidence is None
    # A document with nothing found still gets a score, from the tokens the model hesitated over.
    assert scores[2].uncertainty == scores[2].near_miss > 0.0


def test_the_model_chose_outside_at_every_near_miss_token(predictor):
    """The near-miss states are the parser's real ones: at each, "O" is the best valid move."""
    texts = [doc.text for doc in labeled_docs(6)] + ["Gamma Delta visited Omega Town.", "nothing to see here."]
    docs = list(predictor.nlp.pipe(texts))
    greedy = _NearMissScorer(predictor)._scorer
    rows, valid, offset = [], [], 0
    for doc in docs:
        inside = numpy.zeros(len(doc), dtype=bool)
        for entity in doc.ents:
            inside[entity.start : entity.end] = True
        for token in range(len(doc)):
            if not inside[token] and not doc[token].is_space:
                rows.append(token + offset)
                valid.append(greedy._outside_last if token == len(doc) - 1 else greedy._outside)
        offset += len(doc)
    features = numpy.full((len(rows), 3), -1, dtype="i")
    features[:, 0] = rows
    masked = numpy.where(numpy.stack(valid), greedy._state_scores(docs, features), -numpy.inf)
    assert len(rows) > 50
    assert (masked.argmax(axis=1) == greedy._index["O"]).all()


def test_long_documents_are_scored_chunk_by_chunk(predictor):
    long_text = "\n\n".join(sentence(index)[0] for index in range(80))
    assert len(long_text) > 2 * CHUNK_CHARS_MAX
    [score] = score_documents(predictor, [long_text])
    assert score.entities == len(predictor.predict([long_text])[0]) >= 80
    assert 0.0 <= score.uncertainty <= 1.0


def test_no_texts_no_scores(predictor):
    assert score_documents(predictor, []) == []
    [empty] = score_documents(predictor, [""])
    assert empty.uncertainty == 0.0 and empty.entities == 0

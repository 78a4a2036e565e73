"""Prediction: code point offsets, confidence in [0, 1], long texts, clear errors for a missing model."""

from __future__ import annotations

import dataclasses
import math
import shutil

import pytest

from ner.calibration import CalibrationMap, calibration_map_save
from ner.predict import GREEDY_SCORE, ModelLoadError, Predictor, ScoredSpan, load
from tests.ner.synthetic_docs import sentence, train_quick

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    result = train_quick(tmp_path_factory.mktemp("run") / "model")
    return load(result.model_path)


def _found(text: str, spans: list[ScoredSpan]) -> set[tuple[str, str]]:
    return {(text[span.start : span.end], span.label) for span in spans}


def test_predict_finds_entities_in_training_like_text(predictor):
    texts = [sentence(index)[0] for index in (200, 201, 202)]
    results = predictor.predict(texts)
    for index, (text, spans) in zip((200, 201, 202), zip(texts, results, strict=True), strict=True):
        expected = {(span.text_in(text), span.label) for span in sentence(index)[1]}
        assert _found(text, spans) == expected
        assert all(span.confidence is None for span in spans)
    assert predictor.labels == ("CITY", "PERSON")


def test_predict_offsets_are_code_points_around_emoji(predictor):
    text = "😀😀 Yesterday Alice Smith flew to Berlin for meeting number 5. 🇩🇪"
    assert len(text.encode("utf-16-le")) // 2 > len(text)  # UTF-16 offsets would differ
    (spans,) = predictor.predict([text])
    found = _found(text, spans)
    assert ("Alice Smith", "PERSON") in found
    assert ("Berlin", "CITY") in found
    berlin = next(span for span in spans if span.label == "CITY")
    assert (berlin.start, berlin.end) == (text.index("Berlin"), text.index("Berlin") + 6)


def test_predict_with_confidence_keeps_the_same_entities_and_scores_them(predictor):
    texts = [sentence(index)[0] for index in range(300, 310)] + ["😀😀 Yesterday Bob Jones flew to Paris for lunch."]
    plain = predictor.predict(texts)
    scored = predictor.predict(texts, with_confidence=True)
    assert [[span.as_span() for span in spans] for spans in scored] == [
        [span.as_span() for span in spans] for spans in plain
    ]
    confidences = [span.confidence for spans in scored for span in spans]
    assert confidences and all(c is not None and 0.0 <= c <= 1.0 for c in confidences)
    # The pattern it was trained on is certain.
    assert all(c is not None and c > 0.9 for spans in scored[:10] for c in [s.confidence for s in spans])


def test_predict_handles_empty_whitespace_and_many_texts(predictor):
    texts = ["", "   \n", "nothing to see", *(sentence(index)[0] for index in range(40))]
    results = predictor.predict(texts, batch_size=4)
    assert len(results) == len(texts)
    assert results[:3] == [[], [], []]
    assert all(len(spans) >= 1 for spans in results[3:])


def test_predict_a_128k_character_text_maps_offsets_from_every_chunk(predictor):
    paragraphs = [sentence(index)[0] for index in range(2500)]
    text = "\n\n".join(paragraphs)[:128_000]
    (spans,) = predictor.predict([text], with_confidence=True)
    assert spans == sorted(spans)
    assert spans[-1].start > 120_000  # entities found in the last chunk, at offsets into the whole text
    assert {text[span.start : span.end] for span in spans if span.label == "CITY"} <= {
        "Paris",
        "Berlin",
        "Madrid",
        "Lisbon",
        "Vienna",
        "Oslo",
    }


def test_load_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="no trained model here"):
        load(tmp_path)
    with pytest.raises(ModelLoadError, match="no trained model here"):
        load(tmp_path / "missing")


def _reference_decision_probabilities(predictor: Predictor, texts: list[str]) -> list[list[float]]:
    """Decode greedily step by step with spaCy's own step model and validity rules (slow, exact): for every doc,
    the softmax probability (over the valid moves) of the move taken at each token."""
    ner = predictor.nlp.get_pipe("ner")
    docs = list(predictor.nlp.pipe(texts, disable=["ner"]))
    moves = ner.moves
    names = [moves.get_class_name(index) for index in range(moves.n_moves)]
    step_model = ner.model.predict(docs)
    states = moves.init_batch(docs)
    probabilities: list[list[float]] = [[] for _ in docs]
    owner = {id(state): number for number, state in enumerate(states)}
    todo = [state for state in states if not state.is_final()]
    while todo:
        scores = step_model.predict(todo)
        for row, state in enumerate(todo):
            valid = [index for index, name in enumerate(names) if moves.is_valid(state, name)]
            best = max(valid, key=lambda index: scores[row, index])
            norm = sum(math.exp(scores[row, index] - scores[row, best]) for index in valid)
            probabilities[owner[id(state)]].append(1.0 / norm)
        todo = ner.transition_states(todo, scores)
    return probabilities


def test_greedy_confidence_is_the_product_of_the_parsers_own_decision_probabilities(predictor):
    texts = [sentence(index)[0] for index in range(400, 412)] + [
        "Alice Smith met Bob Jones and  Carol White in Oslo\n\nand Paris.",
        "Oslo",
        "Paris Berlin Madrid",
    ]
    reference = _reference_decision_probabilities(predictor, texts)
    scored = predictor.predict(texts, with_confidence=True, calibrated=False)
    docs = list(predictor.nlp.pipe(texts))
    checked = 0
    for doc, spans, decisions in zip(docs, scored, reference, strict=True):
        assert len(decisions) == len(doc)  # one decision per token
        for entity, span in zip(doc.ents, spans, strict=True):
            expected = math.prod(decisions[max(entity.start - 1, 0) : entity.end])
            assert span.confidence == pytest.approx(expected, rel=1e-4, abs=1e-6)
            checked += 1
    assert checked >= 20


def test_a_calibration_map_in_the_model_folder_maps_the_raw_scores(predictor, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(predictor.model_dir, folder)
    assert load(folder).calibration is None  # too few dev entities in the quick run: raw scores
    halving = CalibrationMap(
        score=GREEDY_SCORE,
        raw=(0.0, 1.0),
        calibrated=(0.0, 0.5),
        entity_count=100,
        correct_count=50,
        ece_before=0.5,
        ece_after=0.0,
    )
    calibration_map_save(halving, folder)
    calibrated = load(folder)
    texts = [sentence(index)[0] for index in range(500, 505)]
    raw = calibrated.predict(texts, with_confidence=True, calibrated=False)
    mapped = calibrated.predict(texts, with_confidence=True)
    assert [[s.as_span() for s in spans] for spans in raw] == [[s.as_span() for s in spans] for spans in mapped]
    for raw_spans, mapped_spans in zip(raw, mapped, strict=True):
        for raw_span, mapped_span in zip(raw_spans, mapped_spans, strict=True):
            assert mapped_span.confidence == pytest.approx(raw_span.confidence / 2)
    # A map fitted on another score is never applied to this one.
    calibration_map_save(dataclasses.replace(halving, score="beam"), folder)
    assert load(folder).predict(texts, with_confidence=True) == raw


def test_a_broken_calibration_file_is_a_clear_load_error(predictor, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(predictor.model_dir, folder)
    (folder / "calibration.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="confidence calibration could not be loaded"):
        load(folder)


def test_beam_confidence_is_still_available_and_finds_the_same_entities(predictor):
    texts = [sentence(index)[0] for index in range(600, 606)]
    greedy = predictor.predict(texts, with_confidence=True)
    beam = predictor.predict(texts, with_confidence=True, method="beam", beam_width=4)
    assert [[s.as_span() for s in spans] for spans in beam] == [[s.as_span() for s in spans] for spans in greedy]
    assert all(s.confidence is not None and 0.0 <= s.confidence <= 1.0 for spans in beam for s in spans)
    with pytest.raises(ValueError, match="unknown confidence method"):
        predictor.predict(texts, with_confidence=True, method="guess")  # type: ignore[arg-type]

"""Prediction: code point offsets, confidence in [0, 1], long texts, clear errors for a missing model."""

from __future__ import annotations

import pytest

from ner.predict import ModelLoadError, Predictor, ScoredSpan, load
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

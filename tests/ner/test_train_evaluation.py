"""Training's dev evaluations predict in batches of a bounded number of words, and building a corpus's examples runs
without the cyclic garbage collector (both for speed on large projects; neither changes what is computed)."""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest
import spacy
from spacy.language import Language

import ner.train
from ner.train import EVALUATION_BATCH_WORDS, evaluation_batch_size, measure_speed
from tests.ner.synthetic_docs import QUICK, labeled_docs


class _Words:
    """Stands for an Example: ``len`` is its number of words."""

    def __init__(self, words: int) -> None:
        self.words = words

    def __len__(self) -> int:
        return self.words


class _Pipeline:
    def __init__(self, scores: dict[str, object]) -> None:
        self.scores = scores
        self.batch_sizes: list[int | None] = []

    def evaluate(self, examples, batch_size=None):
        self.batch_sizes.append(batch_size)
        return dict(self.scores)


def test_an_evaluation_batch_holds_about_the_configured_words_whatever_the_documents_length():
    sentences = [_Words(17)] * 3_000  # CoNLL-2003-like sentences
    assert evaluation_batch_size(sentences) == round(EVALUATION_BATCH_WORDS / 17)
    articles = [_Words(435)] * 57  # the 12.8 M benchmark's ~2,000-character dev documents
    assert evaluation_batch_size(articles) == round(EVALUATION_BATCH_WORDS / 435)
    # A document longer than a batch is a batch of its own; documents without words count as one word each.
    assert evaluation_batch_size([_Words(3 * EVALUATION_BATCH_WORDS)] * 2) == 1
    assert evaluation_batch_size([_Words(0)] * 5) == EVALUATION_BATCH_WORDS * 5


def test_the_dev_evaluation_weighs_the_scores_as_spacys_callback_and_predicts_in_bounded_batches():
    dev = [_Words(400)] * 30
    nlp = _Pipeline({"ents_f": 0.8, "ents_p": 0.9, "ents_r": 0.7, "ents_per_type": {"PER": {}}, "speed": None})
    weights = {"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None, "absent": 2.0}
    evaluate = ner.train._evaluation(nlp, {"score_weights": weights}, dev)  # type: ignore[arg-type]
    score, scores = evaluate()
    assert score == pytest.approx(0.8)
    assert "speed" not in scores and scores["ents_per_type"] == {"PER": {}}
    assert nlp.batch_sizes == [10]
    # A weighted score that is not a number is refused, as spaCy refuses it.
    refused = ner.train._evaluation(nlp, {"score_weights": {"ents_per_type": 1.0}}, dev)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ents_per_type"):
        refused()
    assert ner.train._evaluation(nlp, {"score_weights": weights}, [])() == (0.0, {})  # type: ignore[arg-type]


def test_the_speed_probe_times_the_dev_evaluation_in_the_same_batches_as_the_run(monkeypatch):
    docs = labeled_docs(120)
    asked: list[tuple[int, int | None]] = []
    evaluate = Language.evaluate

    def spy(self, examples, *, batch_size=None, **kwargs):
        examples = list(examples)
        asked.append((evaluation_batch_size(examples), batch_size))
        return evaluate(self, examples, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(Language, "evaluate", spy)
    measure_speed(docs[:100], docs[100:], language="en", settings=replace(QUICK, batch_size_start=10))
    assert len(asked) == 1 and asked[0][0] == asked[0][1]


@pytest.mark.parametrize("enabled_before", [True, False])
def test_building_examples_runs_without_the_cyclic_collector_and_leaves_it_as_it_was(monkeypatch, enabled_before):
    nlp = spacy.blank("en")
    during: list[bool] = []
    make_doc = nlp.make_doc

    def spy(text):
        during.append(gc.isenabled())
        return make_doc(text)

    monkeypatch.setattr(nlp, "make_doc", spy)
    was = gc.isenabled()
    try:
        gc.enable() if enabled_before else gc.disable()
        examples = ner.train._examples(nlp, labeled_docs(5), ner.train._SpanReport())
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable() if was else gc.disable()
    assert len(examples) == 5 and during == [False] * 5


def test_the_collector_comes_back_when_building_examples_fails(monkeypatch):
    nlp = spacy.blank("en")

    def broken(text):
        raise RuntimeError("tokenizer failed")

    monkeypatch.setattr(nlp, "make_doc", broken)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="tokenizer failed"):
        ner.train._examples(nlp, labeled_docs(2), ner.train._SpanReport())
    assert gc.isenabled()

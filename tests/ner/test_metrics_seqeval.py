"""Independent cross-check: exact-match scores equal seqeval's on the same entities written as BIO tags."""

from __future__ import annotations

import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report

from ner.metrics import evaluate
from ner.types import LabeledDoc, Span

LABELS = ("PER", "LOC", "ORG", "MISC")


def random_entities(rng: random.Random, n_tokens: int, density: float) -> list[tuple[int, int, str]]:
    """Non-overlapping (first token, last token exclusive, label) triples."""
    entities: list[tuple[int, int, str]] = []
    position = 0
    while position < n_tokens:
        if rng.random() < density:
            length = min(rng.randint(1, 3), n_tokens - position)
            entities.append((position, position + length, rng.choice(LABELS)))
            position += length
        else:
            position += 1
    return entities


def perturb(rng: random.Random, gold: list[tuple[int, int, str]], n_tokens: int) -> list[tuple[int, int, str]]:
    """A plausible model output: mostly right, some wrong types, shifted boundaries, misses and extras."""
    predicted: list[tuple[int, int, str]] = []
    for first, last, label in gold:
        roll = rng.random()
        if roll < 0.55:
            predicted.append((first, last, label))
        elif roll < 0.7:
            predicted.append((first, last, rng.choice([x for x in LABELS if x != label])))
        elif roll < 0.85:
            predicted.append((first, max(first + 1, last - 1) if last - first > 1 else last, label))
    predicted += random_entities(rng, n_tokens, 0.05)
    # Keep the output non-overlapping (BIO cannot express overlaps): drop any entity touching an earlier one.
    taken: set[int] = set()
    kept: list[tuple[int, int, str]] = []
    for first, last, label in sorted(predicted):
        if taken.isdisjoint(range(first, last)):
            kept.append((first, last, label))
            taken.update(range(first, last))
    return kept


def to_bio(entities: list[tuple[int, int, str]], n_tokens: int) -> list[str]:
    tags = ["O"] * n_tokens
    for first, last, label in entities:
        tags[first] = f"B-{label}"
        for i in range(first + 1, last):
            tags[i] = f"I-{label}"
    return tags


def build(seed: int, n_docs: int) -> tuple[list[tuple[LabeledDoc, list[Span]]], list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    pairs: list[tuple[LabeledDoc, list[Span]]] = []
    gold_tags: list[list[str]] = []
    pred_tags: list[list[str]] = []
    for _ in range(n_docs):
        n_tokens = rng.randint(0, 40)
        tokens = [rng.choice(["a", "bb", "ccc", "dddd", "é", "Ωx"]) for _ in range(n_tokens)]
        bounds: list[tuple[int, int]] = []
        position = 0
        for token in tokens:
            bounds.append((position, position + len(token)))
            position += len(token) + rng.choice([1, 1, 2])  # single and double spaces
        text = " " * max(position, 0)
        chars = list(text)
        for (start, end), token in zip(bounds, tokens, strict=True):
            chars[start:end] = token
        text = "".join(chars)

        def spans(entities: list[tuple[int, int, str]], bounds: list[tuple[int, int]] = bounds) -> list[Span]:
            return [Span(bounds[first][0], bounds[last - 1][1], label) for first, last, label in entities]

        gold = random_entities(rng, n_tokens, 0.25)
        predicted = perturb(rng, gold, n_tokens)
        pairs.append((LabeledDoc(text=text, spans=tuple(spans(gold))), spans(predicted)))
        gold_tags.append(to_bio(gold, n_tokens))
        pred_tags.append(to_bio(predicted, n_tokens))
    return pairs, gold_tags, pred_tags


def assert_matches_seqeval(seed: int, n_docs: int) -> None:
    pairs, gold_tags, pred_tags = build(seed, n_docs)
    report = evaluate(pairs, resamples=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = classification_report(gold_tags, pred_tags, output_dict=True, zero_division=0)
    averages = {"micro avg", "macro avg", "weighted avg"}
    assert {t.label for t in report.types} == set(expected) - averages
    for scores in report.types:
        row = expected[scores.label]
        assert scores.exact.precision == pytest.approx(row["precision"])
        assert scores.exact.recall == pytest.approx(row["recall"])
        assert scores.exact.f1 == pytest.approx(row["f1-score"])
        assert scores.exact.gold == row["support"]
    if report.types:
        micro, macro = expected["micro avg"], expected["macro avg"]
        assert report.micro.precision == pytest.approx(micro["precision"])
        assert report.micro.recall == pytest.approx(micro["recall"])
        assert report.micro.f1 == pytest.approx(micro["f1-score"])
        assert report.macro.precision == pytest.approx(macro["precision"])
        assert report.macro.recall == pytest.approx(macro["recall"])
        assert report.macro.f1 == pytest.approx(macro["f1-score"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_seqeval_on_a_large_test_set(seed: int) -> None:
    assert_matches_seqeval(seed, n_docs=300)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), n_docs=st.integers(min_value=1, max_value=6))
def test_metrics_equal_seqeval_on_small_random_test_sets(seed: int, n_docs: int) -> None:
    assert_matches_seqeval(seed, n_docs)

"""The step limit and patience a training gets from the size of its training side (no database, no training)."""

from __future__ import annotations

import pytest

from ner.sizing import RULE, evaluation_frequency, settings_for_corpus


def test_the_measured_anchors_get_the_steps_that_were_measured():
    # CoNLL-2003's 1.09 M training characters: best checkpoint near step 4,600, early stop at 6,201.
    conll = settings_for_corpus(characters=1_090_000)
    assert (conll.max_steps, conll.patience) == (6_000, 1_600)
    # The 12.8 M-character benchmark: 21,000 steps reached 79.70 against 80.58 unhurried.
    large = settings_for_corpus(characters=12_801_259)
    assert large.max_steps == 21_000 and large.patience == 5_400
    assert large.rule == RULE and "12,801,259 training characters: 21,000 steps" in large.reason


def test_a_large_project_no_longer_stops_at_2000_steps_and_a_small_one_trains_less():
    assert settings_for_corpus(characters=12_800_000).max_steps > 10 * 2_000
    # A 50-mention project is a few thousand characters: the floor, half the old default, and the old patience.
    small = settings_for_corpus(characters=4_000)
    assert (small.max_steps, small.patience) == (1_000, 400)
    assert "floor of 1,000 steps" in small.reason
    # The demo project's ~50,000 training characters keep the old 2,000.
    assert settings_for_corpus(characters=50_000).max_steps == 2_000


def test_steps_grow_with_the_corpus_up_to_the_cap():
    sizes = [0, 10_000, 100_000, 1_000_000, 5_000_000, 20_000_000, 100_000_000, 10**10]
    steps = [settings_for_corpus(characters=size).max_steps for size in sizes]
    assert steps == sorted(steps)
    assert steps[0] == 1_000 and steps[-1] == 30_000
    assert "cap of 30,000 steps" in settings_for_corpus(characters=10**10).reason
    for size in sizes:
        chosen = settings_for_corpus(characters=size)
        assert chosen.max_steps % 1_000 == 0 and chosen.patience % 200 == 0
        assert 400 <= chosen.patience <= chosen.max_steps


def test_negative_sizes_are_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        settings_for_corpus(characters=-1)


def test_evaluations_get_rarer_on_long_runs():
    assert evaluation_frequency(30) == 6  # short runs still evaluate five times
    assert evaluation_frequency(2_000) == 200
    assert evaluation_frequency(10_000) == 200
    assert evaluation_frequency(21_000) == 1_000  # the large benchmark's frequency
    assert evaluation_frequency(0) == 200  # limited by epochs alone
    assert evaluation_frequency(3) == 1


def test_small_training_sides_get_more_dropout_and_smaller_batches():
    # A 50-mention project (a few thousand characters): dropout 0.2, batches up to 100 words (the floor).
    tiny = settings_for_corpus(characters=4_000)
    assert (tiny.dropout, tiny.batch_size_start, tiny.batch_size_stop) == (0.2, 100, 100)
    # The demo project's ~50,000 characters are ~9,300 words: batches up to 450, twenty per pass.
    demo = settings_for_corpus(characters=50_000)
    assert (demo.dropout, demo.batch_size_stop) == (0.2, 450)
    assert "dropout 0.2 (below 100,000 characters" in demo.dropout_reason
    assert "at least 20 per pass over about 9,345 words" in demo.dropout_reason
    # From 100,000 characters the config's dropout; from ~107,000 its 1,000-word batches.
    assert settings_for_corpus(characters=100_000).dropout == 0.1
    assert settings_for_corpus(characters=100_000).batch_size_stop == 900
    conll = settings_for_corpus(characters=1_090_000)
    assert (conll.dropout, conll.batch_size_start, conll.batch_size_stop) == (0.1, 100, 1_000)
    assert conll.dropout_reason.endswith("dropout 0.1; batches of 100-1,000 words")


def test_batches_and_dropout_are_monotone_in_the_size():
    sizes = [0, 1_000, 10_000, 50_000, 99_999, 100_000, 200_000, 10**9]
    chosen = [settings_for_corpus(characters=size) for size in sizes]
    stops = [c.batch_size_stop for c in chosen]
    assert stops == sorted(stops) and stops[0] == 100 and stops[-1] == 1_000
    assert all(stop % 50 == 0 and c.batch_size_start <= stop for stop, c in zip(stops, chosen, strict=True))
    assert [c.dropout for c in chosen] == [0.2] * 5 + [0.1] * 3

"""Batching training examples by word count: the size schedule advances once per batch, long examples included."""

from __future__ import annotations

import itertools
import random

from spacy.training.batchers import minibatch_by_words
from spacy.util import registry
from thinc.api import compounding

from ner.batching import BATCHER_NAME, batch_by_words


def words(batches: list[list[int]]) -> list[int]:
    return [sum(batch) for batch in batches]


def batched(lengths: list[int], size: object, **options: object) -> list[list[int]]:
    """Batches of examples that are their own lengths in words."""
    return list(batch_by_words(lengths, size, get_length=lambda n: n, **options))  # type: ignore[arg-type]


def test_batches_fill_up_to_each_size_of_the_schedule_in_turn():
    # Items are their own lengths: ten examples of 10 words against targets of 20, 30, 40 words.
    batches = batched([10] * 10, iter([20, 30, 40, 50]), tolerance=0.0)
    assert words(batches) == [20, 30, 40, 10]  # the last batch holds what is left


def test_a_long_example_is_a_batch_of_its_own_and_still_takes_a_size():
    schedule = iter([100, 200, 300, 400, 500])
    batches = batched([350, 350, 350, 50, 50], schedule, tolerance=0.2)
    # 350 alone (target 100), 350 alone (target 200), 350 alone (target 300), then 50 + 50 under target 400.
    assert batches == [[350], [350], [350], [50, 50]]
    assert next(schedule) == 500  # four batches took four sizes


def test_spacys_batcher_does_not_advance_for_long_examples_and_ours_does():
    # The stall this batcher fixes: documents longer than the first sizes keep spaCy's schedule at its start.
    long_documents = [300] * 40
    spacy_sizes = compounding(100.0, 1000.0, 1.5)
    ours_sizes = compounding(100.0, 1000.0, 1.5)
    spacy_batches = list(minibatch_by_words(long_documents, spacy_sizes, tolerance=0.2, get_length=lambda n: n))
    ours = batched(long_documents, ours_sizes, tolerance=0.2)
    assert len(spacy_batches) == 40  # one document per step, all along
    assert next(spacy_sizes) == 150  # 40 batches later, spaCy's schedule has taken one size
    # Ours took a size per batch: after a few lone documents the targets outgrow them and batches hold several.
    assert [len(batch) for batch in ours[:4]] == [1, 1, 1, 1] and max(len(batch) for batch in ours) == 4
    assert len(ours) == 14 and next(ours_sizes) == 1000


def test_an_example_that_would_overflow_the_tolerance_starts_the_next_batch():
    batches = batched([60, 30, 40, 10], 100, tolerance=0.2)
    assert batches == [[60, 30], [40, 10]]  # 60 + 30 + 40 = 130 > 120: 40 opens the next batch
    assert batched([60, 50, 10], 100, tolerance=0.2) == [[60, 50], [10]]  # 110 <= 120 stays


def test_every_example_is_in_exactly_one_batch_in_order():
    lengths = [random.Random(seed).randint(1, 400) for seed in range(500)]
    batches = batched(lengths, compounding(100.0, 1000.0, 1.01), tolerance=0.2)
    assert list(itertools.chain.from_iterable(batches)) == lengths


def test_the_same_examples_give_the_same_batches():
    lengths = [random.Random(seed).randint(1, 400) for seed in range(300)]
    one = batched(lengths, compounding(100.0, 1000.0, 1.01), tolerance=0.2)
    two = batched(lengths, compounding(100.0, 1000.0, 1.01), tolerance=0.2)
    assert one == two


def test_discard_oversize_drops_long_examples_and_keeps_the_size_for_the_next():
    schedule = iter([100, 200])
    batches = batched([500, 60, 50], schedule, tolerance=0.2, discard_oversize=True)
    assert batches == [[60, 50]]  # 500 dropped; 60 + 50 = 110 <= 120 under the first target
    assert next(schedule) == 200


def test_the_registered_batcher_continues_its_schedule_when_called_again_each_epoch():
    # As spacy.training.loop.create_train_batches calls it: once per epoch, with one schedule resolved once.
    resolved = registry.resolve(
        {
            "batcher": {
                "@batchers": BATCHER_NAME,
                "size": {"@schedules": "compounding.v1", "start": 10, "stop": 1000, "compound": 2.0},
                "tolerance": 0.0,
                "discard_oversize": False,
                "get_length": None,
            }
        }
    )
    batcher = resolved["batcher"]
    first_epoch = [len(batch) for batch in batcher(["w"] * 30)]
    second_epoch = [len(batch) for batch in batcher(["w"] * 30)]
    assert first_epoch == [10, 20]
    assert second_epoch == [30]  # the next target is 40: the schedule was not restarted

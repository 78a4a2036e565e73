"""Training batches by word count whose size schedule advances once per batch, whatever the batch holds.

``ner/configs/ner.cfg`` names this batcher (``nerlab.batch_by_words.v1``) in place of spaCy's
``spacy.batch_by_words.v1``. Both fill batches up to a target number of words taken from a size schedule
(``compounding.v1``: 100 words growing by 0.1 % per batch up to 1,000). They differ on an example longer than the
target (plus tolerance):

- spaCy's ``minibatch_by_words`` yields it as a batch of its own and does not take the next size from the
  schedule. On a corpus of long documents (``ner.train`` cuts them into chunks of up to 2,000 characters, about
  370 words, more than the first targets), most early examples are such lone batches, so the schedule hardly
  moves and much of training runs one chunk per step: many small updates, each paying the fixed cost of a step.
- Here every batch takes the next size, the lone long example's batch included, so the targets grow with the
  steps taken, as the schedule says, and batches reach the final size at the same step on any corpus.

What this is not about: the schedule is not restarted each epoch by either batcher. ``registry.resolve`` makes
the ``compounding.v1`` generator once; ``spacy.training.loop.create_train_batches`` calls the batcher again each
epoch with that same generator, which carries on where it stopped (thinc 8.3's schedules are plain generators).

A batch closes once it holds at least its target; an example that would take an open batch past the target plus
``tolerance`` starts the next batch instead. Deterministic: the batches depend on the examples' order and lengths
alone (``ner.train`` shuffles with the seeded generator before each epoch).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from spacy.util import registry

BATCHER_NAME = "nerlab.batch_by_words.v1"
# The batcher of spaCy's own config (what `spacy train` uses), kept as the alternative ``ner.train`` can run.
SPACY_BATCHER_NAME = "spacy.batch_by_words.v1"


def batch_by_words[Item](
    items: Iterable[Item],
    size: Iterable[float] | int,
    *,
    tolerance: float = 0.2,
    discard_oversize: bool = False,
    get_length: Callable[[Any], int] = len,
) -> Iterator[list[Item]]:
    """Batches of about ``size`` words (a number, or a schedule from which each batch takes the next value).

    ``discard_oversize`` drops an example longer than its batch's target plus tolerance instead of yielding it
    alone (as spaCy's option does; ``ner.train`` keeps them). A schedule that is an iterator is consumed: called
    again, the batcher continues from the next size.
    """
    sizes: Iterator[float] = itertools.repeat(float(size)) if isinstance(size, int | float) else iter(size)
    batch: list[Item] = []
    words = 0
    target: float | None = None  # the open batch's target, taken from the schedule when the batch starts
    for item in items:
        length = get_length(item)
        if batch and target is not None and words + length > target * (1 + tolerance):
            yield batch
            batch, words, target = [], 0, None
        if target is None:
            target = float(next(sizes))
        if discard_oversize and length > target * (1 + tolerance):
            continue  # dropped; the target stays for the next example
        batch.append(item)
        words += length
        if words >= target:
            yield batch
            batch, words, target = [], 0, None
    if batch:
        yield batch


def configure_batch_by_words(
    *,
    size: Iterable[float] | int,
    tolerance: float,
    discard_oversize: bool,
    get_length: Callable[[Any], int] | None = None,
) -> Callable[[Iterable[Any]], Iterator[list[Any]]]:
    """The registered factory: the same arguments as ``spacy.batch_by_words.v1``, so configs swap one for the other
    by the ``@batchers`` name alone."""
    length = get_length or len

    def batcher(items: Iterable[Any]) -> Iterator[list[Any]]:
        return batch_by_words(items, size, tolerance=tolerance, discard_oversize=discard_oversize, get_length=length)

    return batcher


registry.batchers.register(BATCHER_NAME, func=configure_batch_by_words)

"""Data-parallel training updates: one training run on several processes, each computing half of every batch.

Why: a training step of spaCy's NER is mostly work that one core does alone. Profiled on the 2-core machines nerlab
is measured on (Intel Xeon, AVX-512), a second OpenBLAS thread shortens a step by under 10%: the matrix products are
a third of it, and the rest (the parser's transition loop, dropout masks, the optimizer over 1.5 million weights) is
single-threaded Python and Cython. Two processes that each take half of the batch's words, on one thread each, do
both halves at once: 1.23x the words/s of one process on two threads on CoNLL-2003 sentences (``bench/train.py
--one-process``), 1.3-1.6x at fixed batches of 300-1,000 words. Less with long documents: a batch of one document
cannot be split.

How it stays one model:
- The weights, both processes' gradients and the optimizer's averages live in one shared memory map, so no weight
  is ever copied between the processes.
- Each step the first process sends the second the indices of its half (the second process was forked after the
  pipeline was initialized, so it holds the same examples and the same model), both run ``nlp.update`` on their
  half, and each then updates its own share of the weights with the sum of both gradients (``owners``: the weights
  split in two by size). Adam's moments of a weight live only with its owner; every weight is updated once a step.
- The second process applies the first's learning rate, sent each step, so the run has one schedule.
- Dropout and the parser's cuts of long documents draw from each process's own seeded generators, so a run is
  reproducible for the same seed, process count and thread count (the count is recorded in the model's meta).

spaCy's own loop (``train_while_improving``) drives it unchanged: ``nlp.update`` is replaced on the instance for the
run, and the loop is given ``SharedOptimizer`` as its optimizer.

The second process is a ``fork`` of the training process: it needs nothing but numpy and the model it inherits, never
touches the database or the broker, and leaves with ``os._exit``. It dies with its parent (``PR_SET_PDEATHSIG``, and
an end of file on the pipe), so a SIGKILLed Celery worker leaves no training process behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import signal
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from spacy.language import Language
from spacy.training import Example
from thinc.api import fix_random_seed

# Below this many examples a second process has nothing to share (and a probe's pipeline is too small to matter).
MIN_EXAMPLES = 2
_PR_SET_PDEATHSIG = 1


class ParallelError(RuntimeError):
    """The second training process failed or disappeared."""


def available() -> bool:
    """Whether this platform can fork a second training process."""
    return hasattr(os, "fork")


def split_batch(examples: Sequence[Example], known: dict[int, int]) -> tuple[list[Example], list[Example]]:
    """The batch in two halves of about equal words: longest first, each to the half with fewer words so far.

    An example the second process does not hold (not in ``known``) stays in the first half."""
    mine: list[Example] = []
    theirs: list[Example] = []
    my_words = their_words = 0
    for example in sorted(examples, key=len, reverse=True):
        if their_words < my_words and id(example) in known:
            theirs.append(example)
            their_words += len(example)
        else:
            mine.append(example)
            my_words += len(example)
    return mine, theirs


def owners(sizes: Sequence[int], processes: int) -> list[int]:
    """Which process updates each weight array: the largest first, each to the least loaded process."""
    load = [0] * processes
    owner = [0] * len(sizes)
    for index in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        rank = min(range(processes), key=lambda r: (load[r], r))
        owner[index] = rank
        load[rank] += sizes[index]
    return owner


def _weights(nlp: Language) -> list[tuple[Any, str]]:
    """Every weight array of the pipeline's trainable components, in the model tree's order (the same in both)."""
    seen: set[int] = set()
    found: list[tuple[Any, str]] = []
    for _name, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model in (None, True, False):
            continue
        for node in model.walk():
            if node.id in seen:
                continue
            seen.add(node.id)
            found.extend((node, name) for name in node.param_names if node.has_param(name))
    return found


def _unseen_classes(nlp: Language) -> list[set[int]]:
    """The parser's sets of classes no update has seen yet (spaCy masks their scores until one does)."""
    sets: list[set[int]] = []
    for _name, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model in (None, True, False):
            continue
        for node in model.walk():
            unseen = node.attrs.get("unseen_classes")
            if isinstance(unseen, set) and all(unseen is not known for known in sets):
                sets.append(unseen)
    return sets


def _forget_seen(unseen: Sequence[set[int]], other: Sequence[Sequence[int]]) -> None:
    """A class either process has seen is seen: the sets become their intersection, in place (spaCy holds them)."""
    for mine, theirs in zip(unseen, other, strict=True):
        mine.intersection_update(theirs)


class _SharedArrays:
    """One anonymous shared memory map cut into ``count`` blocks, each holding every weight array once."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], count: int) -> None:
        sizes = [int(np.prod(shape)) for shape in shapes]
        total = max(sum(sizes), 1)
        self._map = mmap.mmap(-1, total * 4 * count)
        self.blocks: list[list[np.ndarray]] = []
        for block in range(count):
            flat = np.frombuffer(self._map, dtype=np.float32, count=total, offset=total * 4 * block)
            views: list[np.ndarray] = []
            offset = 0
            for shape, size in zip(shapes, sizes, strict=True):
                views.append(flat[offset : offset + size].reshape(shape))
                offset += size
            self.blocks.append(views)


@dataclass
class SharedOptimizer:
    """The optimizer spaCy's loop calls: it updates this process's share of the weights with both gradients.

    Called for a weight another process owns, it leaves it to that process. ``step_schedules`` ends a step: it waits
    until the other process has updated its share, so the next forward pass reads every weight of this step."""

    optimizer: Any
    index: dict[tuple[int, str], int]
    owner: list[int]
    rank: int
    mine: list[np.ndarray]
    theirs: list[np.ndarray]
    unseen: list[set[int]]
    peer: Connection | None = None
    _optimizing: bool = field(default=False, init=False)

    def __call__(self, key: tuple[int, str], weights: Any, gradient: Any, *, lr_scale: float = 1.0) -> Any:
        position = self.index.get(key)
        if position is None:
            return self.optimizer(key, weights, gradient, lr_scale=lr_scale)
        if not self._optimizing:
            self._optimizing = True
            if self.peer is not None:
                # The first process's classes seen, both halves' included (``_ParallelUpdate``), for the second's,
                # and the step's learning rate: the first process's schedule is the run's (a budgeted run may
                # re-target it, ``ner.budget.replan``).
                unseen = [sorted(classes) for classes in self.unseen]
                self.peer.send(("optimize", unseen, self.optimizer.learn_rate))
        if self.owner[position] != self.rank:
            return weights, gradient
        gradient += self.theirs[position]
        self.theirs[position][...] = 0
        return self.optimizer(key, weights, gradient, lr_scale=lr_scale)

    def step_schedules(self) -> None:
        self.optimizer.step_schedules()
        if self._optimizing and self.peer is not None:
            _expect(self.peer, "optimized")
        self._optimizing = False

    @property
    def averages(self) -> Any:
        return self.optimizer.averages

    def __getattr__(self, name: str) -> Any:
        # Anything else spaCy may read (learn_rate, step, last_score, ...) is the real optimizer's.
        return getattr(self.optimizer, name)


def _expect(peer: Connection, kind: str) -> tuple[Any, ...]:
    try:
        message = peer.recv()
    except (EOFError, OSError) as error:
        raise ParallelError("The second training process stopped unexpectedly") from error
    if message[0] == "failed":
        raise ParallelError(f"The second training process failed:\n{message[1]}")
    if message[0] != kind:
        raise ParallelError(f"The second training process answered {message[0]!r} where {kind!r} was due")
    return tuple(message)


def _update_in_process(
    nlp: Language, examples: Sequence[Example], drop: float, losses: dict[str, float] | None, options: dict[str, Any]
) -> dict[str, float]:
    update: Any = Language.update  # the class's own, not the instance's replacement
    result: dict[str, float] = update(nlp, list(examples), drop=drop, sgd=False, losses=losses, **options)
    return result


def finish_updates(nlp: Language, optimizer: Any) -> None:
    """Apply the step's gradients of every trainable component, as spaCy's loop does after ``nlp.update``."""
    for _name, component in nlp.pipeline:
        trainable: Any = component
        if getattr(trainable, "is_trainable", False) and trainable.model not in (None, True, False):
            trainable.finish_update(optimizer)


class _ParallelUpdate:
    """``nlp.update`` for the run: this process's half here, the other half in the second process, at once."""

    def __init__(self, nlp: Language, known: dict[int, int], peer: Connection, unseen: list[set[int]]) -> None:
        self.nlp = nlp
        self.known = known
        self.peer = peer
        self.unseen = unseen

    def __call__(
        self,
        examples: Sequence[Example],
        _: Any = None,
        *,
        drop: float = 0.0,
        sgd: Any = None,
        losses: dict[str, float] | None = None,
        **options: Any,
    ) -> dict[str, float]:
        if sgd is not False:
            raise ParallelError("A data-parallel update applies its gradients in SharedOptimizer: pass sgd=False")
        mine, theirs = split_batch(examples, self.known)
        self.peer.send(("update", [self.known[id(example)] for example in theirs], drop, options))
        losses = _update_in_process(self.nlp, mine, drop, losses, options)
        _kind, their_losses, their_unseen = _expect(self.peer, "updated")
        _forget_seen(self.unseen, their_unseen)
        for name, value in their_losses.items():
            losses[name] = losses.get(name, 0.0) + value
        return losses


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(0)


def _serve(nlp: Language, examples: Sequence[Example], optimizer: SharedOptimizer, peer: Connection) -> None:
    """The second process: update on the halves it is sent, then its share of the weights, until told to stop."""
    while True:
        try:
            message = peer.recv()
        except (EOFError, OSError):
            return  # the first process is gone
        if message[0] == "stop":
            return
        _kind, indices, drop, options = message
        losses = _update_in_process(nlp, [examples[index] for index in indices], drop, None, options)
        peer.send(("updated", losses, [sorted(classes) for classes in optimizer.unseen]))
        _kind, first_unseen, learn_rate = _expect(peer, "optimize")
        _forget_seen(optimizer.unseen, first_unseen)
        optimizer.optimizer.learn_rate = learn_rate
        # Its optimizer has no peer: it neither signals nor waits, it updates this process's share and steps.
        finish_updates(nlp, optimizer)
        optimizer.step_schedules()
        peer.send(("optimized",))


def _fork_quietly() -> int:
    with warnings.catch_warnings():
        # Python warns that a multi-threaded process (a Celery worker's heartbeat thread) may deadlock in a forked
        # child that takes a lock another thread held; the child runs only numpy and the model it inherits.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


@contextlib.contextmanager
def data_parallel(
    nlp: Language, optimizer: Any, examples: Sequence[Example], *, processes: int, seed: int
) -> Iterator[Any]:
    """Train ``nlp`` on ``processes`` processes inside the block; yields the optimizer to give spaCy's loop.

    With one process (or too few examples, or no ``fork``) it yields ``optimizer`` itself and changes nothing. Call
    it after ``nlp.initialize`` (and after loading any starting weights): the second process starts from a copy."""
    if processes <= 1 or len(examples) < MIN_EXAMPLES or not available():
        yield optimizer
        return
    if processes != 2:
        raise ParallelError(f"Data-parallel training runs on 1 or 2 processes (got {processes})")
    weights = _weights(nlp)
    shapes = [tuple(node.get_param(name).shape) for node, name in weights]
    shared = _SharedArrays(shapes, count=4)
    weight_views, first_grads, second_grads, averages = shared.blocks
    index = {(node.id, name): position for position, (node, name) in enumerate(weights)}
    for (node, name), view, grad in zip(weights, weight_views, first_grads, strict=True):
        view[...] = node.get_param(name)
        node.set_param(name, view)
        node.set_grad(name, grad)
    if optimizer.averages is not None:
        for (node, name), view in zip(weights, averages, strict=True):
            if (node.id, name) in optimizer.averages:
                view[...] = optimizer.averages[(node.id, name)]
            optimizer.averages[(node.id, name)] = view
    owner = owners([view.size for view in weight_views], processes)
    unseen = _unseen_classes(nlp)
    known = {id(example): position for position, example in enumerate(examples)}
    here, there = Pipe(duplex=True)
    parent = os.getpid()
    child = _fork_quietly()
    if child == 0:  # pragma: no cover - the forked process (its work is checked through the parent's results)
        status = 0
        try:
            _die_with_parent(parent)
            here.close()
            for (node, name), grad in zip(weights, second_grads, strict=True):
                node.set_grad(name, grad)
            fix_random_seed(seed + 1)
            theirs = SharedOptimizer(
                optimizer, index, owner, rank=1, mine=second_grads, theirs=first_grads, unseen=unseen
            )
            _serve(nlp, examples, theirs, there)
        except BaseException:
            status = 1
            with contextlib.suppress(BaseException):
                there.send(("failed", traceback.format_exc()))
        finally:
            os._exit(status)
    there.close()
    finished = False
    replacement: Any = _ParallelUpdate(nlp, known, here, unseen)
    nlp.update = replacement  # type: ignore[method-assign]
    try:
        yield SharedOptimizer(
            optimizer, index, owner, rank=0, mine=first_grads, theirs=second_grads, unseen=unseen, peer=here
        )
        finished = True
    finally:
        del nlp.update
        _stop(child, here, gently=finished)
        # From here the model's arrays are its own again: the map goes when nothing points into it.
        for (node, name), view in zip(weights, weight_views, strict=True):
            node.set_param(name, view.copy())
            node.set_grad(name, np.zeros_like(view))
        if optimizer.averages is not None:
            for (node, name), view in zip(weights, averages, strict=True):
                optimizer.averages[(node.id, name)] = view.copy()


def _stop(child: int, peer: Connection, *, gently: bool) -> None:
    if gently:
        with contextlib.suppress(OSError):
            peer.send(("stop",))
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    peer.close()
    os.waitpid(child, 0)

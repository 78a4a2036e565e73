"""Data-parallel training (ner.parallel): the same step as one process, reproducible, and no process left behind."""

from __future__ import annotations

import json
import mmap
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from thinc.api import fix_random_seed

import ner.parallel
from ner.compute import model_ops
from ner.parallel import data_parallel, owners, split_batch
from ner.train import (
    TrainCancelled,
    TrainError,
    TrainSettings,
    _build_nlp,
    _examples,
    _initialized,
    _SpanReport,
    _update,
    train,
)
from tests.ner.synthetic_docs import labeled_docs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


class _Sized:
    def __init__(self, words: int) -> None:
        self.words = words

    def __len__(self) -> int:
        return self.words


def test_a_batch_splits_into_halves_of_about_equal_words():
    batch = [_Sized(words) for words in (5, 40, 7, 33, 12, 3, 20)]
    known = {id(item): index for index, item in enumerate(batch)}
    mine, theirs = split_batch(batch, known)  # type: ignore[arg-type]
    assert sorted(map(len, mine + theirs)) == sorted(map(len, batch))
    assert abs(sum(map(len, mine)) - sum(map(len, theirs))) <= 5
    assert split_batch(batch, known) == (mine, theirs)  # type: ignore[arg-type]


def test_an_example_the_second_process_does_not_hold_stays_in_the_first_half():
    batch = [_Sized(10), _Sized(10), _Sized(10)]
    mine, theirs = split_batch(batch, {id(batch[0]): 0})  # type: ignore[arg-type]
    assert theirs == [] or theirs == [batch[0]]
    assert all(item in mine for item in batch[1:])


def test_a_single_example_batch_leaves_the_second_half_empty():
    only = _Sized(8)
    assert split_batch([only], {id(only): 0}) == ([only], [])  # type: ignore[arg-type]


def test_weights_are_shared_out_by_size():
    sizes = [1000, 10, 500, 490, 5, 5]
    owner = owners(sizes, 2)
    loads = [sum(size for size, rank in zip(sizes, owner, strict=True) if rank == r) for r in (0, 1)]
    assert set(owner) == {0, 1} and abs(loads[0] - loads[1]) <= 20


def _weights_of(nlp) -> dict[tuple[str, int, str], np.ndarray]:
    """Every weight array, keyed by where it sits (node ids differ between two pipelines built alike)."""
    return {
        (name, position, param): node.get_param(param)
        for name, component in nlp.pipeline
        for position, node in enumerate(component.model.walk())
        for param in node.param_names
        if node.has_param(param)
    }


def _averages_of(nlp, optimizer) -> dict[tuple[str, int, str], np.ndarray]:
    return {
        (name, position, param): optimizer.averages[(node.id, param)]
        for name, component in nlp.pipeline
        for position, node in enumerate(component.model.walk())
        for param in node.param_names
        if (node.id, param) in optimizer.averages
    }


def _in_shared_memory(array: np.ndarray) -> bool:
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


def _pipeline(seed: int = 0):
    settings = TrainSettings(seed=seed)
    docs = labeled_docs(40)
    nlp = _build_nlp("en", settings)
    examples = _examples(nlp, docs, _SpanReport())
    training = _initialized(nlp, examples, settings, "en")
    return nlp, examples, training["optimizer"]


@pytest.mark.parametrize("worker", ["first", "second"])
def test_a_step_on_either_process_is_the_one_process_step(worker, monkeypatch):
    # The bookkeeping around the update: shared weights, each process's share optimized with both gradients (Adam's
    # moments with the owner), averages, schedules. With the whole batch sent to one process the run must give one
    # process's weights exactly, so that a batch in halves gives the sum of the halves' gradients. (Halves themselves
    # cannot be compared with one process: the parser draws from numpy's generator even without dropout, and each
    # process has its own.) The first step runs in one process on both sides: thinc keeps a weight's first gradient
    # without a copy, an array spaCy's parser may go on writing into, while the shared gradients are fresh arrays.
    sides = {"first": lambda batch: (list(batch), []), "second": lambda batch: ([], list(batch))}
    monkeypatch.setattr(ner.parallel, "split_batch", lambda batch, _known: sides[worker](batch))
    seed_of_the_worker = 0 if worker == "first" else 1  # data_parallel seeds the second process with seed + 1
    with model_ops():
        alone, examples_alone, optimizer_alone = _pipeline()
        shared, examples_shared, optimizer_shared = _pipeline()
        first, *batches = [list(range(start, start + 10)) for start in (0, 10, 20, 30)]
        for nlp, examples, optimizer in ((alone, examples_alone, optimizer_alone),):
            fix_random_seed(0)
            _update(nlp, optimizer, [examples[i] for i in first], 0.1)
            fix_random_seed(seed_of_the_worker)
            for batch in batches:
                _update(nlp, optimizer, [examples[i] for i in batch], 0.1)
        fix_random_seed(0)
        _update(shared, optimizer_shared, [examples_shared[i] for i in first], 0.1)
        fix_random_seed(0)
        with data_parallel(shared, optimizer_shared, examples_shared, processes=2, seed=0) as optimizer:
            for batch in batches:
                _update(shared, optimizer, [examples_shared[i] for i in batch], 0.1)
        expected = _weights_of(alone)
        found = _weights_of(shared)
        initial = _weights_of(_pipeline()[0])
    assert expected.keys() == found.keys() and len(found) > 10
    assert sum(not np.array_equal(initial[key], found[key]) for key in found) > 10  # the steps changed the model
    for key, weights in expected.items():
        assert np.array_equal(weights, found[key]), key
    averages_alone = _averages_of(alone, optimizer_alone)
    averages_shared = _averages_of(shared, optimizer_shared)
    assert averages_alone.keys() == averages_shared.keys() and averages_alone
    for key, value in averages_alone.items():
        assert np.array_equal(value, averages_shared[key]), key


def test_after_the_block_the_weights_are_the_models_own_again():
    with model_ops():
        nlp, examples, optimizer = _pipeline()
        with data_parallel(nlp, optimizer, examples, processes=2, seed=0) as shared:
            _update(nlp, shared, examples[:8], 0.0)
        inside = [_in_shared_memory(array) for array in _weights_of(nlp).values()]
        with data_parallel(nlp, optimizer, examples, processes=2, seed=0):
            assert all(_in_shared_memory(array) for array in _weights_of(nlp).values())
    assert inside and not any(inside)
    assert not any(_in_shared_memory(array) for array in optimizer.averages.values())
    assert "update" not in vars(nlp)  # the instance's replacement is gone: nlp.update is spaCy's again


def test_two_process_training_is_reproducible_and_recorded(tmp_path):
    docs = labeled_docs(240)
    settings = TrainSettings(seed=5, max_steps=8, eval_frequency=4, processes=2, threads=1)
    one = train(docs[:220], docs[220:], language="en", output_dir=tmp_path / "one", settings=settings)
    two = train(docs[:220], docs[220:], language="en", output_dir=tmp_path / "two", settings=settings)
    assert one.best_dev_f1 == two.best_dev_f1
    for part in ("tok2vec", "ner"):
        assert (one.model_path / part / "model").read_bytes() == (two.model_path / part / "model").read_bytes()
    meta = json.loads((one.model_path / "meta.json").read_text())["nerlab"]
    assert meta["processes"] == 2 and meta["settings"]["processes"] == 2 and meta["threads"] == 1


def test_train_refuses_a_process_count_other_than_one_or_two(tmp_path):
    with pytest.raises(TrainError, match="1 or 2 processes"):
        train(labeled_docs(), [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(processes=3))


def _children() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def test_a_cancelled_run_leaves_no_second_process(tmp_path):
    before = _children()
    settings = TrainSettings(max_steps=50, processes=2)
    with pytest.raises(TrainCancelled):
        train(labeled_docs(), [], language="en", output_dir=tmp_path / "m", settings=settings, should_stop=lambda: True)
    assert _children() <= before
    assert not (tmp_path / "m").exists()


def test_a_failing_second_process_fails_the_run_with_its_error(tmp_path, monkeypatch):
    def fail(*_args, **_kwargs):
        raise RuntimeError("the second process broke here")

    monkeypatch.setattr(ner.parallel, "_serve", fail)
    with pytest.raises(TrainError, match="second training process failed") as caught:
        train(labeled_docs(), [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=5))
    assert "the second process broke here" in str(caught.value)
    assert not (tmp_path / "m").exists()


def test_a_vanished_second_process_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(ner.parallel, "_serve", lambda *_args: os._exit(3))
    with pytest.raises(TrainError, match="stopped unexpectedly"):
        train(labeled_docs(), [], language="en", output_dir=tmp_path / "m", settings=TrainSettings(max_steps=5))


def test_the_second_process_dies_with_a_killed_training_process(tmp_path):
    # A SIGKILLed Celery worker must not leave a training process behind: the run's second process is killed by
    # the kernel when its parent dies (PR_SET_PDEATHSIG). The parent here is a real process, killed for real.
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import ner.parallel
        from ner.train import TrainSettings, train
        from tests.ner.synthetic_docs import labeled_docs

        def serve(*args):
            open({str(pid_file)!r} + ".tmp", "w").write(str(os.getpid()))
            os.rename({str(pid_file)!r} + ".tmp", {str(pid_file)!r})
            while True:
                time.sleep(1)

        ner.parallel._serve = serve
        train(labeled_docs(), [], language="en", output_dir={str(tmp_path / "m")!r},
              settings=TrainSettings(max_steps=5))
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        # The parent blocks on its first step's answer, which never comes; wait for the child to say who it is.
        while not pid_file.exists():
            assert parent.poll() is None, "the training process ended before forking"
            time.sleep(0.1)  # polling, not a timeout: the loop ends when the file is there
        child = int(pid_file.read_text())
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    while _state(child) not in ("Z", "gone"):
        time.sleep(0.1)  # polling: the kernel kills the child with its parent; the loop ends when it has


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"

"""The train/test split rule and the dev carve: deterministic, stable when documents are added."""

from __future__ import annotations

import hashlib

import pytest

from ner.splits import SplitError, assign_split, carve_dev, split_documents
from ner.text import content_hash
from ner.types import LabeledDoc


def hashes(n: int, prefix: str = "doc") -> list[str]:
    return [hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest() for i in range(n)]


def test_splits_depend_only_on_seed_and_hash() -> None:
    first = hashes(500)
    before = split_documents([(h, None) for h in first], mode="random", seed=4, test_percent=20)
    # Adding documents, in any order, never moves an existing one between train and test.
    more = hashes(2000, prefix="later")
    mixed = [(h, None) for h in more[:1000]] + [(h, None) for h in reversed(first)] + [(h, None) for h in more[1000:]]
    after = dict(
        zip([h for h, _ in mixed], split_documents(mixed, mode="random", seed=4, test_percent=20), strict=True)
    )
    assert [after[h] for h in first] == before
    assert before == [assign_split(h, 4, 20) for h in first]


def test_splits_proportion_follows_percentage() -> None:
    many = hashes(10_000)
    for percent in (10, 20, 35):
        share = sum(assign_split(h, 0, percent) == "test" for h in many) / len(many)
        assert share == pytest.approx(percent / 100, abs=0.015)
    assert {assign_split(h, 0, 0) for h in many[:200]} == {"train"}
    assert {assign_split(h, 0, 100) for h in many[:200]} == {"test"}


def test_splits_larger_percentage_only_moves_documents_into_test() -> None:
    many = hashes(2000)
    at_20 = {h for h in many if assign_split(h, 9, 20) == "test"}
    at_30 = {h for h in many if assign_split(h, 9, 30) == "test"}
    assert at_20 < at_30


def test_splits_seed_changes_the_split() -> None:
    many = hashes(1000)
    seed_0 = [assign_split(h, 0, 20) for h in many]
    seed_1 = [assign_split(h, 1, 20) for h in many]
    assert seed_0 != seed_1
    assert sum(a != b for a, b in zip(seed_0, seed_1, strict=True)) > 200
    assert seed_0 == [assign_split(h, 0, 20) for h in many]  # and the same seed reproduces it


def test_splits_manual_mode_uses_only_the_manual_field() -> None:
    many = hashes(300)
    docs = [(h, "test" if i % 3 == 0 else ("train" if i % 3 == 1 else "")) for i, h in enumerate(many)]
    sides = split_documents(docs, mode="manual", seed=0, test_percent=50)
    assert sides == ["test" if i % 3 == 0 else "train" for i in range(len(many))]
    # Unassigned documents go to train, whatever the percentage says (like Azure's manual split).
    assert split_documents([(h, None) for h in many], mode="manual", seed=0, test_percent=99) == ["train"] * 300


def test_splits_random_mode_keeps_manual_assignments() -> None:
    many = hashes(300)
    forced = split_documents([(h, "test") for h in many], mode="random", seed=0, test_percent=1)
    assert forced == ["test"] * 300
    kept = split_documents([(h, "train") for h in many], mode="random", seed=0, test_percent=99)
    assert kept == ["train"] * 300


def test_splits_reject_bad_settings() -> None:
    with pytest.raises(SplitError, match="from 0 to 100"):
        assign_split("abc", 0, 101)
    with pytest.raises(SplitError, match="from 0 to 100"):
        split_documents([], mode="random", seed=0, test_percent=-1)
    with pytest.raises(SplitError, match="unknown split mode"):
        split_documents([], mode="stratified", seed=0, test_percent=20)  # type: ignore[arg-type]
    with pytest.raises(SplitError, match="unknown split 'dev'"):
        split_documents([("abc", "dev")], mode="manual", seed=0, test_percent=20)
    with pytest.raises(SplitError, match="content hash"):
        assign_split("", 0, 20)


def test_splits_dev_comes_from_training_documents_only() -> None:
    many = hashes(1000)
    sides = split_documents([(h, None) for h in many], mode="random", seed=2, test_percent=20)
    training = [h for h, side in zip(many, sides, strict=True) if side == "train"]
    test = {h for h, side in zip(many, sides, strict=True) if side == "test"}
    carved = carve_dev(training, 0.1, seed=2)
    assert set(carved.dev).isdisjoint(test)
    assert set(carved.train) | set(carved.dev) == set(training)
    assert set(carved.train).isdisjoint(carved.dev)
    assert len(carved.dev) == round(0.1 * len(training))
    assert carve_dev(training, 0.1, seed=2) == carved
    assert carve_dev(training, 0.1, seed=3).dev != carved.dev


def test_splits_dev_refuses_test_documents() -> None:
    docs = [LabeledDoc(text=f"text {i}", split="train") for i in range(5)]
    carved = carve_dev(docs, 0.2, seed=0)
    assert len(carved.dev) == 1 and len(carved.train) == 4
    with pytest.raises(SplitError, match="is in the test set"):
        carve_dev([*docs, LabeledDoc(text="held out", name="held.txt", split="test")], 0.0, seed=0)


def test_splits_dev_with_key_and_small_sets() -> None:
    docs = [LabeledDoc(text=f"text {i}") for i in range(3)]
    by_hash = carve_dev(docs, 0.01, seed=0, key=lambda d: content_hash(d.text))
    assert len(by_hash.dev) == 1 and len(by_hash.train) == 2  # a dev set is never empty by rounding
    assert carve_dev(["only"], 0.5, seed=0).dev == ()  # one document stays for training
    assert carve_dev([], 0.2, seed=0).train == ()
    with pytest.raises(SplitError, match="below 1"):
        carve_dev(docs, 1.0, seed=0)

"""Pretraining: reproducible weights that the next training starts from, cancellable without leftovers."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ner.pretrain import (
    META_FILE,
    WEIGHTS_FILE,
    PretrainCancelled,
    PretrainError,
    PretrainProgress,
    PretrainSettings,
    pretrain,
    weights_sha256,
)
from ner.train import EncoderChoice, TrainError, train
from tests.ner.synthetic_docs import QUICK, labeled_docs

pytestmark = pytest.mark.slow

TEXTS = [f"{doc.text} Nobody tagged this sentence about the weather in town." for doc in labeled_docs(40)]
FEW = PretrainSettings(seed=5, max_steps=3, batch_words=150, progress_interval_s=0)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    progress: list[PretrainProgress] = []
    output = tmp_path_factory.mktemp("pretrain") / "weights"
    result = pretrain(TEXTS, language="en", output_dir=output, settings=FEW, on_progress=progress.append)
    return result, progress


def test_pretrain_writes_weights_and_a_meta_that_names_them(pretrained):
    result, _ = pretrained
    assert result.weights_path == result.output_dir / WEIGHTS_FILE and result.weights_path.stat().st_size > 0
    meta = json.loads((result.output_dir / META_FILE).read_text())
    assert meta["weights_sha256"] == weights_sha256(result.weights_path) == result.weights_sha256
    assert meta["objective"] == "characters" and meta["steps"] == 3 and meta["texts"] == 40
    assert meta["settings"]["seed"] == 5 and result.final_loss > 0


def test_pretrain_reports_progress_up_to_100(pretrained):
    _, progress = pretrained
    percents = [update.percent for update in progress]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert [update.step for update in progress] == [1, 2, 3, 3]
    assert all(update.loss > 0 for update in progress)


def test_pretrain_gives_identical_weights_for_the_same_texts_and_settings(pretrained, tmp_path):
    result, _ = pretrained
    again = pretrain(TEXTS, language="en", output_dir=tmp_path / "again", settings=FEW)
    assert again.weights_path.read_bytes() == result.weights_path.read_bytes()
    other_seed = pretrain(TEXTS, language="en", output_dir=tmp_path / "other", settings=replace(FEW, seed=6))
    assert other_seed.weights_sha256 != result.weights_sha256


def test_training_starts_from_pretrained_weights_and_records_their_digest(pretrained, tmp_path):
    result, _ = pretrained
    docs = labeled_docs()
    settings = replace(QUICK, max_steps=20, pretrained=str(result.weights_path))
    started = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "with", settings=settings)
    meta = json.loads((started.model_path / "meta.json").read_text())
    assert meta["nerlab"]["representation"] == {"kind": "cnn", "pretrained_sha256": result.weights_sha256}
    again = train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "again", settings=settings)
    scratch = train(
        docs[:27],
        docs[27:],
        language="en",
        output_dir=tmp_path / "scratch",
        settings=replace(settings, pretrained=None),
    )
    weights = "tok2vec/model"
    assert (started.model_path / weights).read_bytes() == (again.model_path / weights).read_bytes()
    assert (started.model_path / weights).read_bytes() != (scratch.model_path / weights).read_bytes()


def test_training_refuses_pretrained_weights_with_an_encoder_or_that_do_not_fit(pretrained, tmp_path):
    result, _ = pretrained
    docs = labeled_docs()
    with_encoder = replace(QUICK, pretrained=str(result.weights_path), encoder=EncoderChoice("e", str(tmp_path)))
    with pytest.raises(TrainError, match="Pretrained weights are for the CNN"):
        train(docs[:27], docs[27:], language="en", output_dir=tmp_path / "a", settings=with_encoder)
    (tmp_path / "bad.bin").write_bytes(b"not weights")
    with pytest.raises(TrainError, match="does not fit"):
        train(
            docs,
            [],
            language="en",
            output_dir=tmp_path / "b",
            settings=replace(QUICK, pretrained=str(tmp_path / "bad.bin")),
        )
    with pytest.raises(TrainError, match="cannot be read"):
        train(
            docs,
            [],
            language="en",
            output_dir=tmp_path / "c",
            settings=replace(QUICK, pretrained=str(tmp_path / "no.bin")),
        )
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_a_cancelled_pretraining_leaves_nothing(tmp_path):
    with pytest.raises(PretrainCancelled):
        pretrain(TEXTS, language="en", output_dir=tmp_path / "weights", settings=FEW, should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_pretrain_refuses_text_too_short_to_learn_from(tmp_path):
    with pytest.raises(PretrainError, match="no text to pretrain on"):
        pretrain(["Hi.", "", "Two words"], language="en", output_dir=tmp_path / "w", settings=FEW)

"""Training on a pretrained encoder (issue 11, item 2), with the tiny random encoder the tests write."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import spacy

from ner.predict import ModelLoadError, load
from ner.train import EncoderChoice, TrainError, TrainSettings, train
from tests.ner.synthetic_docs import QUICK, labeled_docs
from tests.ner.tiny_encoder import write_tiny_bert


def _settings(folder: Path, **changes: object) -> TrainSettings:
    return replace(QUICK, encoder=EncoderChoice(name="tiny", folder=str(folder)), **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoder-run")
    folder = write_tiny_bert(root / "encoder")
    docs = labeled_docs(30)
    result = train(docs[:24], docs[24:], language="en", output_dir=root / "model", settings=_settings(folder))
    return root, folder, docs, result


def test_an_encoder_run_trains_on_its_features_and_records_the_encoder(encoder_run):
    _root, folder, _docs, result = encoder_run
    config = (result.model_path / "config.cfg").read_text()
    assert "nerlab.EncoderEmbed.v1" in config and "nerlab.FrozenEncoder.v1" in config
    assert "\nlast_layers = 4\n" in config
    meta = json.loads((result.model_path / "meta.json").read_text())["nerlab"]
    assert meta["representation"] == {
        "kind": "encoder",
        "name": "tiny",
        "folder": str(folder.resolve()),
        "weights_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
        "last_layers": 2,  # the tiny encoder has two; training asks for up to four
    }
    # The weights are not copied into the model: it names the folder.
    assert not any(path.name == "model.safetensors" for path in result.model_path.rglob("*"))
    assert result.steps > 0 and result.best_dev_f1 is not None


def test_the_cnn_run_records_its_representation(tmp_path):
    result = train(labeled_docs(12), [], language="en", output_dir=tmp_path / "m", settings=QUICK)
    assert json.loads((result.model_path / "meta.json").read_text())["nerlab"]["representation"] == {"kind": "cnn"}
    assert "nerlab.FrozenEncoder.v1" not in (result.model_path / "config.cfg").read_text()


def test_an_encoder_model_predicts_after_loading(encoder_run):
    _root, _folder, docs, result = encoder_run
    predictor = load(result.model_path)
    found = predictor.predict([doc.text for doc in docs[24:]], with_confidence=True)
    assert len(found) == 6
    assert all(0.0 <= (span.confidence or 0.0) <= 1.0 for spans in found for span in spans)


def test_training_twice_on_an_encoder_gives_byte_identical_model_files(encoder_run, tmp_path):
    _root, folder, docs, first = encoder_run
    again = train(docs[:24], docs[24:], language="en", output_dir=tmp_path / "again", settings=_settings(folder))
    files = sorted(path.relative_to(first.model_path) for path in first.model_path.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(again.model_path) for path in again.model_path.rglob("*") if path.is_file())
    for name in files:
        one, two = (first.model_path / name).read_bytes(), (again.model_path / name).read_bytes()
        if name == Path("meta.json"):
            # spaCy records the measured words/s of the best evaluation; everything else must match.
            one, two = (_without_speed(json.loads(content)) for content in (one, two))
        assert one == two, name


def _without_speed(meta: dict) -> dict:
    del meta["performance"]["speed"]
    return meta


def test_a_model_whose_encoder_folder_is_gone_fails_naming_it(encoder_run, tmp_path):
    _root, folder, _docs, result = encoder_run
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    shutil.rmtree(folder)
    try:
        with pytest.raises(ModelLoadError, match=rf"encoder 'tiny'.*{folder}.*encoder folder not found"):
            load(result.model_path)
    finally:
        shutil.copytree(moved, folder)


def test_a_model_whose_encoder_weights_changed_fails_with_the_fingerprints(encoder_run, tmp_path):
    _root, folder, _docs, result = encoder_run
    kept = tmp_path / "kept.safetensors"
    shutil.copy2(folder / "model.safetensors", kept)
    write_tiny_bert(folder, seed=1)
    try:
        with pytest.raises(ModelLoadError, match=r"model\.safetensors has changed since"):
            load(result.model_path)
    finally:
        shutil.copy2(kept, folder / "model.safetensors")
    assert load(result.model_path).predict(["hello world"])  # the original weights back: it loads again


def test_train_refuses_a_missing_encoder_file_before_training(tmp_path):
    folder = write_tiny_bert(tmp_path / "encoder")
    (folder / "config.json").unlink()
    with pytest.raises(TrainError, match=r"encoder 'tiny' cannot be used: .*config\.json: file not found"):
        train(labeled_docs(12), [], language="en", output_dir=tmp_path / "m", settings=_settings(folder))
    assert not (tmp_path / "m").exists()


def test_a_multilingual_encoder_run_keeps_no_hashed_word_features(encoder_run, tmp_path):
    # The training language's words, affixes and shapes do not carry over to other languages (docs/cross_lingual.md):
    # a multilingual pipeline reads the encoder's features alone; a one-language pipeline keeps them beside.
    _root, folder, docs, english = encoder_run
    assert "[components.tok2vec.model.embed.base]" in (english.model_path / "config.cfg").read_text()
    result = train(docs[:24], docs[24:], language="xx", output_dir=tmp_path / "xx", settings=_settings(folder))
    config = (result.model_path / "config.cfg").read_text()
    assert "nerlab.EncoderEmbed.v1" in config and "[components.tok2vec.model.embed.base]" not in config
    assert "\nbase = null\n" in config
    assert len(load(result.model_path).predict([doc.text for doc in docs[24:]])) == 6


def test_a_representation_speed_predicts_text_it_has_not_seen_on_every_pass(tmp_path, monkeypatch):
    """The training page's prediction figure: each pass computes the encoder's features afresh (a model in service
    sees new documents), not the cache the previous pass filled."""
    from ner.encoders.bert import BertEncoder
    from ner.train import measure_representation_speed

    folder = write_tiny_bert(tmp_path / "encoder")
    docs = labeled_docs(30)
    dev_texts = {doc.text for doc in docs[24:]}
    encoded: list[int] = []
    real = BertEncoder.hidden_states

    def counting(self, sequences, last_layers=1):
        encoded.append(len(sequences))
        return real(self, sequences, last_layers)

    monkeypatch.setattr(BertEncoder, "hidden_states", counting)
    times = iter(float(second) for second in range(1000))
    speed = measure_representation_speed(
        docs[:24], docs[24:], language="en", settings=_settings(folder), passes=3, clock=lambda: next(times)
    )
    # The last three encoder calls are the three passes, each over all six dev texts (one window each).
    assert encoded[-3:] == [len(dev_texts)] * 3
    # The fake clock ticks once a call: each pass takes 1 s, so the figure is the words of the dev texts per second.
    tokenizer = spacy.blank("en").tokenizer
    assert speed.predict_words == sum(len(tokenizer(doc.text)) for doc in docs[24:])
    assert speed.predict_words_per_second == speed.predict_words
    assert speed.train_words_per_second > 0
    with pytest.raises(ValueError, match="passes must be at least 1"):
        measure_representation_speed(docs[:24], docs[24:], language="en", settings=_settings(folder), passes=0)

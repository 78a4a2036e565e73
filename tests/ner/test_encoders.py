"""Frozen encoders from local files (ner.encoders): loading, WordPiece, token features, cache, clear errors.

The encoder is the tiny random BERT of tests/ner/tiny_encoder.py, written into tmp_path. That the numbers equal
transformers' on real weights is checked by bench/encoder_reference.py (it needs PyTorch, no dependency here).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import spacy

from ner.compute import blas_threads
from ner.encoders import EncoderFileError, FeatureCache, PieceFeatures, TokenFeaturizer, load_encoder, pool
from ner.encoders.bert import BertEncoder
from ner.encoders.features import window_owners, window_starts
from ner.encoders.files import read_safetensors, write_safetensors
from tests.ner.tiny_encoder import CONFIG, VOCAB, tensors, tokenizer_json, write_tiny_bert

TRICKY = "Café  Zürich 😀 東京 don't\n\n  3km!\tunaffable\u00a0world"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_tiny_bert(tmp_path / "tiny")


@pytest.fixture
def encoder(folder: Path) -> BertEncoder:
    return BertEncoder(folder)


def _pieces(encoder: BertEncoder, text: str) -> list[tuple[str, int, int]]:
    found = encoder.tokenizer(text)
    return [
        (VOCAB[i], s, e) for i, s, e in zip(found.ids.tolist(), found.starts.tolist(), found.ends.tolist(), strict=True)
    ]


def _spacy_bounds(text: str) -> tuple[spacy.tokens.Doc, tuple[np.ndarray, np.ndarray]]:
    doc = spacy.blank("en")(text)
    starts = np.array([token.idx for token in doc], dtype=np.int64)
    ends = np.array([token.idx + len(token) for token in doc], dtype=np.int64)
    return doc, (starts, ends)


# Loading


def test_encoder_loads_width_windows_and_a_content_fingerprint(folder: Path, tmp_path: Path):
    encoder = BertEncoder(folder)
    assert encoder.width == 16
    assert encoder.max_pieces == 510
    copy = shutil.copytree(folder, tmp_path / "elsewhere")
    assert BertEncoder(copy).fingerprint == encoder.fingerprint  # the files decide, not where they are
    other = write_tiny_bert(tmp_path / "other", seed=1)
    assert BertEncoder(other).fingerprint != encoder.fingerprint


def test_load_encoder_reuses_a_loaded_encoder_until_its_files_change(folder: Path):
    first = load_encoder(folder)
    assert load_encoder(str(folder)) is first
    write_safetensors(folder / "model.safetensors", tensors(seed=5))
    reloaded = load_encoder(folder)
    assert reloaded is not first
    assert reloaded.fingerprint != first.fingerprint


def test_hidden_states_have_one_row_per_piece(encoder: BertEncoder):
    sequences = [encoder.tokenizer(text).ids for text in ("hello world", "unaffable cafe run", "")]
    states = encoder.hidden_states(sequences)
    assert [s.shape for s in states] == [(2, 16), (5, 16), (0, 16)]
    assert all(s.dtype == np.float32 and np.isfinite(s).all() for s in states)


def test_hidden_states_do_not_depend_on_the_batch_or_the_callers_threads(encoder: BertEncoder):
    # Bit for bit: a cached feature must equal a fresh one, or training on the same snapshot would change.
    short = encoder.tokenizer("hello world").ids
    long = encoder.tokenizer("the cafe " * 40).ids
    alone = encoder.hidden_states([short])[0]
    with blas_threads(2):
        batched = encoder.hidden_states([long, short, long[:7]])[1]
    assert np.array_equal(batched, alone)


def test_hidden_states_are_deterministic(folder: Path):
    ids = BertEncoder(folder).tokenizer(TRICKY).ids
    assert np.array_equal(BertEncoder(folder).hidden_states([ids])[0], BertEncoder(folder).hidden_states([ids])[0])


def test_a_sequence_longer_than_a_window_is_refused(encoder: BertEncoder):
    with pytest.raises(ValueError, match="longer than the encoder's 510"):
        encoder.hidden_states([np.zeros(511, dtype=np.int64)])


def test_vocab_txt_gives_the_same_pieces_and_states_as_tokenizer_json(folder: Path, tmp_path: Path):
    from_vocab = BertEncoder(write_tiny_bert(tmp_path / "vocab", tokenizer="vocab"))
    from_json = BertEncoder(folder)
    assert _pieces(from_vocab, TRICKY) == _pieces(from_json, TRICKY)
    ids = from_json.tokenizer(TRICKY).ids
    assert np.array_equal(from_vocab.hidden_states([ids])[0], from_json.hidden_states([ids])[0])


def test_half_precision_and_prefixed_weights_load_as_float32(folder: Path, tmp_path: Path):
    reference = BertEncoder(folder)
    ids = reference.tokenizer("hello world, the cafe").ids
    expected = reference.hidden_states([ids])[0]
    original = tensors()
    for name, convert in (
        ("f16", lambda a: a.astype(np.float16)),
        # bfloat16 is float32's top 16 bits.
        ("bf16", lambda a: (a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)),
    ):
        other = shutil.copytree(folder, tmp_path / name)
        write_safetensors(
            other / "model.safetensors",
            {f"bert.{key}": convert(value) if value.dtype == np.float32 else value for key, value in original.items()},
        )
        states = BertEncoder(other).hidden_states([ids])[0]
        assert states.dtype == np.float32
        # Rounded weights move the states a little, never far.
        assert 0 < np.abs(states - expected).max() < 0.2


def test_safetensors_round_trip(tmp_path: Path):
    path = tmp_path / "t.safetensors"
    data = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([7], dtype=np.int64)}
    write_safetensors(path, data)
    read = read_safetensors(path)
    assert set(read) == {"a", "b"}
    assert np.array_equal(read["a"], data["a"]) and np.array_equal(read["b"], data["b"])


# WordPiece, against the reference algorithm's documented behaviour


def test_wordpiece_splits_words_and_punctuation_with_offsets(encoder: BertEncoder):
    assert _pieces(encoder, "Hello, World!") == [("hello", 0, 5), (",", 5, 6), ("world", 7, 12), ("!", 12, 13)]


def test_wordpiece_cuts_longest_pieces_first(encoder: BertEncoder):
    assert _pieces(encoder, "unaffable") == [("un", 0, 2), ("##aff", 2, 5), ("##able", 5, 9)]
    assert _pieces(encoder, "running") == [("run", 0, 3), ("##n", 3, 4), ("##ing", 4, 7)]


def test_wordpiece_lowercases_and_strips_accents_keeping_original_offsets(encoder: BertEncoder):
    assert _pieces(encoder, "Café Zürich") == [("cafe", 0, 4), ("zurich", 5, 11)]


def test_wordpiece_isolates_cjk_ideographs(encoder: BertEncoder):
    assert _pieces(encoder, "x東京y") == [("x", 0, 1), ("東", 1, 2), ("京", 2, 3), ("y", 3, 4)]


def test_wordpiece_gives_unknown_words_one_unk(encoder: BertEncoder):
    assert _pieces(encoder, "I 😀 run") == [("i", 0, 1), ("[UNK]", 2, 3), ("run", 4, 7)]
    assert _pieces(encoder, "x" * 101) == [("[UNK]", 0, 101)]  # over max_input_chars_per_word


def test_wordpiece_drops_controls_and_reads_any_whitespace_as_a_break(encoder: BertEncoder):
    assert _pieces(encoder, "ab\x00c\u200bd") == [("a", 0, 1), ("##b", 1, 2), ("##c", 3, 4), ("##d", 5, 6)]
    assert _pieces(encoder, "a \t\n\u00a0\u3000 b") == [("a", 0, 1), ("b", 7, 8)]


def test_wordpiece_reads_special_token_spellings_as_text(encoder: BertEncoder):
    assert [p for p, _, _ in _pieces(encoder, "[SEP]")] == ["[UNK]", "s", "##e", "##p", "[UNK]"]


# Token features


def test_token_features_have_one_row_per_spacy_token_on_tricky_text(encoder: BertEncoder):
    doc, bounds = _spacy_bounds(TRICKY)
    (features,) = TokenFeaturizer(encoder).token_features([TRICKY], [bounds])
    assert features.shape == (len(doc), 16)
    pieces = TokenFeaturizer(encoder).piece_features([TRICKY])[0]
    for row, token in zip(features, doc, strict=True):
        start, end = token.idx, token.idx + len(token)
        overlapping = [i for i in range(len(pieces.starts)) if pieces.starts[i] < end and pieces.ends[i] > start]
        if token.is_space:
            assert not overlapping and not row.any()
        else:
            assert overlapping, token.text
            np.testing.assert_allclose(row, pieces.vectors[overlapping].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_first_pooling_takes_each_tokens_first_piece(encoder: BertEncoder):
    text = "unaffable world"
    _, bounds = _spacy_bounds(text)
    (features,) = TokenFeaturizer(encoder, pooling="first").token_features([text], [bounds])
    pieces = TokenFeaturizer(encoder).piece_features([text])[0]
    assert np.array_equal(features, pieces.vectors[[0, 3]])


def test_a_piece_straddling_two_tokens_counts_for_both():
    features = PieceFeatures(
        starts=np.array([0, 4]), ends=np.array([4, 6]), vectors=np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    )
    pooled = pool(features, np.array([0, 2, 5, 6]), np.array([2, 5, 6, 6]))
    assert pooled.tolist() == [[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [0.0, 0.0]]


def test_windows_cover_a_long_document_and_each_piece_is_near_its_windows_middle():
    starts = window_starts(1000, 510, 255)
    assert starts == [0, 255, 490]
    owners = window_owners(1000, 510, starts)
    for piece, owner in enumerate(owners):
        start = starts[owner]
        assert start <= piece < start + 510
        # Context on both sides wherever the document has it.
        assert min(piece - start, start + 510 - piece) >= min(piece, 1000 - piece, 120)
    assert window_starts(510, 510, 255) == [0]


def test_a_document_beyond_512_pieces_is_read_in_overlapping_windows(encoder: BertEncoder):
    text = " ".join(f"hello world the cafe {i % 10}" for i in range(160))  # 800 pieces
    pieces = encoder.tokenizer(text)
    assert len(pieces) == 800
    featurizer = TokenFeaturizer(encoder)
    (features,) = featurizer.piece_features([text])
    assert features.vectors.shape == (800, 16)
    starts = window_starts(800, 510, 255)
    assert starts == [0, 255, 290]
    owners = window_owners(800, 510, starts)
    for number, start in enumerate(starts):
        alone = encoder.hidden_states([pieces.ids[start : start + 510]])[0]
        owned = np.nonzero(owners == number)[0]
        assert owned.size
        assert np.array_equal(features.vectors[owned], alone[owned - start])
    doc, bounds = _spacy_bounds(text)
    (tokens,) = featurizer.token_features([text], [bounds])
    assert tokens.shape == (len(doc), 16) and np.abs(tokens).sum(axis=1).min() > 0


def test_smaller_windows_and_strides_are_settings(encoder: BertEncoder):
    text = "hello world " * 50
    narrow = TokenFeaturizer(encoder, window=16, stride=4).piece_features([text])[0]
    wide = TokenFeaturizer(encoder).piece_features([text])[0]
    assert narrow.vectors.shape == wide.vectors.shape
    assert not np.allclose(narrow.vectors, wide.vectors)
    with pytest.raises(ValueError, match="window"):
        TokenFeaturizer(encoder, window=511)
    with pytest.raises(ValueError, match="stride"):
        TokenFeaturizer(encoder, window=16, stride=17)
    with pytest.raises(ValueError, match="pooling"):
        TokenFeaturizer(encoder, pooling="max")


def test_token_features_are_deterministic_and_independent_of_the_batch(folder: Path):
    _, bounds = _spacy_bounds(TRICKY)
    first = TokenFeaturizer(BertEncoder(folder)).token_features([TRICKY], [bounds])[0]
    again = TokenFeaturizer(BertEncoder(folder)).token_features([TRICKY], [bounds])[0]
    assert np.array_equal(first, again)
    other = "the cafe run " * 30
    _, other_bounds = _spacy_bounds(other)
    batched = TokenFeaturizer(BertEncoder(folder)).token_features([other, TRICKY], [other_bounds, bounds])[1]
    assert np.array_equal(batched, first)


def test_empty_and_whitespace_documents_have_zero_rows_or_zeros(encoder: BertEncoder):
    featurizer = TokenFeaturizer(encoder)
    _, bounds = _spacy_bounds("   ")
    empty = np.zeros(0, dtype=np.int64)
    out = featurizer.token_features(["", "   "], [(empty, empty), bounds])
    assert out[0].shape == (0, 16)
    assert out[1].shape == (1, 16) and not out[1].any()


# Cache


def test_features_are_computed_once_per_text_and_encoder(folder: Path, tmp_path: Path):
    cache = FeatureCache(directory=tmp_path / "cache")
    featurizer = TokenFeaturizer(BertEncoder(folder), cache=cache)
    first = featurizer.piece_features(["hello world", "hello world", "the cafe"])
    assert (cache.misses, cache.hits, len(cache)) == (2, 0, 2)
    assert first[0] is first[1]
    again = featurizer.piece_features(["the cafe"])
    assert again[0] is first[2] and cache.hits == 1

    # Another process (a new cache on the same folder) reads them from disk.
    fresh = FeatureCache(directory=tmp_path / "cache")
    from_disk = TokenFeaturizer(BertEncoder(folder), cache=fresh).piece_features(["hello world"])[0]
    assert (fresh.hits, fresh.misses) == (1, 0)
    assert np.array_equal(from_disk.vectors, first[0].vectors)

    # Another encoder never gets these features.
    other = TokenFeaturizer(BertEncoder(write_tiny_bert(tmp_path / "other", seed=3)), cache=fresh)
    other.piece_features(["hello world"])
    assert fresh.misses == 1


def test_a_damaged_cache_file_is_recomputed(folder: Path, tmp_path: Path):
    featurizer = TokenFeaturizer(BertEncoder(folder), cache=FeatureCache(directory=tmp_path / "cache"))
    expected = featurizer.piece_features(["hello world"])[0]
    (stored,) = (tmp_path / "cache").rglob("*.npz")
    stored.write_bytes(b"not a numpy file")
    fresh = TokenFeaturizer(BertEncoder(folder), cache=FeatureCache(directory=tmp_path / "cache"))
    assert np.array_equal(fresh.piece_features(["hello world"])[0].vectors, expected.vectors)
    assert fresh.cache.misses == 1


def test_the_memory_cache_keeps_the_most_recently_used_within_its_size(encoder: BertEncoder):
    one_text = TokenFeaturizer(encoder).piece_features(["hello world"])[0].nbytes
    cache = FeatureCache(max_bytes=2 * one_text)
    featurizer = TokenFeaturizer(encoder, cache=cache)
    featurizer.piece_features(["hello world", "world hello"])
    featurizer.piece_features(["hello world"])  # now the most recent
    featurizer.piece_features(["hello hello"])
    assert len(cache) == 2
    misses = cache.misses
    featurizer.piece_features(["hello world"])
    assert cache.misses == misses
    featurizer.piece_features(["world hello"])
    assert cache.misses == misses + 1


def test_a_cache_set_aside_encodes_as_if_new_and_gets_its_entries_back(encoder: BertEncoder):
    cache = FeatureCache()
    featurizer = TokenFeaturizer(encoder, cache=cache)
    kept = featurizer.piece_features(["hello world"])[0]
    with cache.set_aside():
        assert len(cache) == 0
        featurizer.piece_features(["hello world", "the cafe"])
        assert cache.misses == 3  # both texts encoded again, as a deployment meets them
    assert len(cache) == 1
    assert featurizer.piece_features(["hello world"])[0] is kept
    featurizer.piece_features(["the cafe"])  # what the block added is gone
    assert cache.misses == 4


def test_every_shared_cache_is_set_aside_together(folder: Path):
    from ner.encoders.layer import shared_cache, shared_caches_set_aside

    cache = shared_cache(1 << 20, None)
    featurizer = TokenFeaturizer(BertEncoder(folder), cache=cache)
    featurizer.piece_features(["set aside"])
    held = len(cache)
    with shared_caches_set_aside():
        assert len(cache) == 0
    assert len(cache) == held


# Clear errors naming the file and the field


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def _config_with(**changes: object):
    def change(folder: Path) -> None:
        _write_json(folder / "config.json", {**CONFIG, **changes})

    return change


def _tokenizer_with(section: str, value: object):
    def change(folder: Path) -> None:
        data = tokenizer_json()
        data[section] = value
        _write_json(folder / "tokenizer.json", data)

    return change


def _weights_without(name: str):
    def change(folder: Path) -> None:
        write_safetensors(folder / "model.safetensors", {k: v for k, v in tensors().items() if k != name})

    return change


def _weights_with(name: str, value: np.ndarray):
    def change(folder: Path) -> None:
        write_safetensors(folder / "model.safetensors", {**tensors(), name: value})

    return change


def _truncate_weights(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])


def _huge_header(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10**9) + path.read_bytes()[8:])


def _vocab_only_without_cls(folder: Path) -> None:
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").write_text("\n".join(p for p in VOCAB if p != "[CLS]"), encoding="utf-8")


_VOCAB_IDS = {piece: index for index, piece in enumerate(VOCAB)}

BREAKAGES = {
    "config missing": (lambda f: (f / "config.json").unlink(), "config.json", "file not found"),
    "config not json": (lambda f: (f / "config.json").write_text("{\n  'a': 1"), "config.json", "line 2"),
    "config not an object": (lambda f: _write_json(f / "config.json", [1]), "config.json", "JSON object"),
    "unsupported model type": (_config_with(model_type="gpt2"), "config.json", "model_type 'gpt2'"),
    "missing field": (_config_with(hidden_size=None), "config.json", "'hidden_size'"),
    "heads do not divide": (_config_with(num_attention_heads=3), "config.json", "'num_attention_heads' (3)"),
    "unknown activation": (_config_with(hidden_act="swish"), "config.json", "'hidden_act' 'swish'"),
    "relative positions": (
        _config_with(position_embedding_type="relative_key"),
        "config.json",
        "'position_embedding_type'",
    ),
    "weights missing": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors", "file not found"),
    "weights truncated": (_truncate_weights, "model.safetensors", "outside the file's data"),
    "weights header too long": (_huge_header, "model.safetensors", "header length"),
    "weights empty": (lambda f: (f / "model.safetensors").write_bytes(b""), "model.safetensors", "too short"),
    "tensor missing": (
        _weights_without("encoder.layer.1.output.dense.bias"),
        "model.safetensors",
        "'encoder.layer.1.output.dense.bias' is missing",
    ),
    "tensor shape": (
        _weights_with("encoder.layer.0.attention.self.key.weight", np.zeros((16, 8), np.float32)),
        "model.safetensors",
        "'encoder.layer.0.attention.self.key.weight' has shape [16, 8]",
    ),
    "tensor not finite": (
        _weights_with("embeddings.LayerNorm.bias", np.full(16, np.nan, np.float32)),
        "model.safetensors",
        "'embeddings.LayerNorm.bias' holds NaN",
    ),
    "no tokenizer": (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json", "vocab.txt"),
    "tokenizer not json": (lambda f: (f / "tokenizer.json").write_text("{"), "tokenizer.json", "not valid JSON"),
    "tokenizer not wordpiece": (
        _tokenizer_with("model", {"type": "BPE", "vocab": {}}),
        "tokenizer.json",
        "'model.type' is 'BPE'",
    ),
    "tokenizer normalizer": (_tokenizer_with("normalizer", None), "tokenizer.json", "'normalizer'"),
    "tokenizer flag": (
        _tokenizer_with(
            "normalizer", {"type": "BertNormalizer", "lowercase": "yes", "clean_text": True, "handle_chinese_chars": 1}
        ),
        "tokenizer.json",
        "'normalizer.lowercase'",
    ),
    "vocab lacks cls": (_vocab_only_without_cls, "vocab.txt", "cls_token '[CLS]'"),
    "vocab beyond the embeddings": (
        _tokenizer_with("model", {**tokenizer_json()["model"], "vocab": {**_VOCAB_IDS, "zz": 999}}),
        "tokenizer.json",
        "vocab_size is 109",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_missing_or_malformed_file_is_named_in_the_error(folder: Path, breakage: str):
    change, file_name, detail = BREAKAGES[breakage]
    change(folder)
    with pytest.raises(EncoderFileError) as raised:
        BertEncoder(folder)
    message = str(raised.value)
    assert raised.value.path.name == file_name
    assert file_name in message and detail in message, message


def test_a_missing_folder_is_named(tmp_path: Path):
    with pytest.raises(EncoderFileError, match="encoder folder not found"):
        load_encoder(tmp_path / "nowhere")


def test_the_last_layers_states_are_their_mean_and_the_last_alone_is_unchanged(encoder: BertEncoder):
    ids = encoder.tokenizer("Marie Curie worked in Paris.").ids
    last = encoder.hidden_states([ids])[0]
    assert np.array_equal(encoder.hidden_states([ids], 1)[0], last)
    layers = encoder._layers
    try:
        encoder._layers = layers[:1]
        first = encoder.hidden_states([ids])[0]
    finally:
        encoder._layers = layers
    both = encoder.hidden_states([ids], 2)[0]
    assert both.dtype == np.float32
    np.testing.assert_allclose(both, (first + last) / 2, rtol=1e-6, atol=1e-6)
    assert np.array_equal(encoder.hidden_states([ids], 2)[0], both)


def test_more_layers_than_the_encoder_has_average_all_of_them_and_none_is_refused(encoder: BertEncoder):
    assert encoder.layers_to_average(4) == encoder.config.num_hidden_layers == 2
    text = "Marie Curie worked in Paris."
    _, bounds = _spacy_bounds(text)
    every = TokenFeaturizer(encoder, last_layers=2).token_features([text], [bounds])[0]
    assert np.array_equal(TokenFeaturizer(encoder, last_layers=4).token_features([text], [bounds])[0], every)
    with pytest.raises(ValueError, match="last_layers must be at least 1"):
        TokenFeaturizer(encoder, last_layers=0)
    with pytest.raises(ValueError, match="between 1 and the encoder's 2 layers"):
        encoder.hidden_states([encoder.tokenizer(text).ids], 3)


def test_the_layers_averaged_are_part_of_the_cache_key_except_the_last_alone(encoder: BertEncoder):
    fingerprints = [TokenFeaturizer(encoder, last_layers=layers).fingerprint for layers in (1, 2)]
    assert fingerprints[0] != fingerprints[1]
    expected = hashlib.sha256(f"{encoder.fingerprint}:{encoder.max_pieces}:{encoder.max_pieces // 2}".encode())
    assert fingerprints[0] == expected.hexdigest()

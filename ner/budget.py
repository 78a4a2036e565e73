"""Training on a time budget: how many steps fit in "at most N minutes" on this machine.

``ner.train`` measures the machine first (``Speed``: a short probe on a throwaway copy of the pipeline), then asks
``plan_steps`` for the largest step limit whose predicted wall time fits the budget, and trains exactly as a run
with that step limit would (the learning rate warms up and decays to 0 at the chosen step). Measuring on a copy
rather than in the first steps of the run itself keeps a budgeted run identical to the fixed run it chose: the
warm-up and decay depend on the step limit from step 0, so "retrain with the same settings" can reuse the steps and
get the same model, whatever the machine's speed that day.

The time model, each term measured by the probe:

- preparing the examples (tokenizing the training and dev text);
- each step: a fixed cost plus the batch's words at the training speed. Batches grow from ``batch_size_start`` to
  ``batch_size_stop`` words by ``compound`` per step (or are full-size from the first, see below), across epochs
  (the size schedule is one generator that each epoch's batching carries on from, and ``ner.batching`` takes one
  size per batch); a batch holds at least one example, so while the size is below the examples' mean length (whole
  documents cut into chunks of up to 2,000 characters, about 370 words) a step trains one example; an epoch's last
  batch holds only the words left in it;
- every ``evaluation_frequency(steps)``-th step (and step 0, and the last step) an evaluation of the dev set at
  the prediction speed and a checkpoint written (a budgeted run's dev score usually improves at each evaluation),
  made rarer when the rule's evaluations would take more than ``EVALUATION_SHARE`` of the budget (see below);
- after the loop, the calibration pass over the dev set and the caller's own predictions (the app's test set);
- a share of the budget (``SAFETY_SHARE``) left unplanned for noise in the probe and a busier machine.

Then the run measures itself (``replan``): a probe of a few seconds sees the machine at one moment, and a shared
2-core machine's speed moves by a fifth between that moment and the run (the probes of five 10- and 15-minute runs on
the 12.8 M-character benchmark measured 90-125 ms a full-size step, their own steps took 98-110 ms), so a probe-only
plan has to leave a wide margin (``SAFETY_SHARE``) and still lands minutes early or at the budget. A run on full-size
batches whose limit leaves the whole warm-up to the schedule times its own first ``warmup`` steps and chooses its
limit again from them, with a narrower margin (``REPLAN_SAFETY_SHARE``). The learning rate over the warm-up does not
depend on the step limit (it rises linearly to its peak at step 250, the decay starts after), so a run re-planned at
the end of its warm-up has trained exactly as the fixed run of the new limit would, and "retrain with the same
settings" (the new limit) still makes the same model. A probe that chose a limit short of the least that re-plans
(``replan_min_steps``) gets that limit when the probe predicts it within the re-plan's margin: the run then corrects
the probe. On a machine half as fast as the benchmark's usual one, a 10-minute run whose probe also ran beside other
work measured 15,480 words/s, chose 2,300 steps, could not re-plan, and ended after 7.5 minutes (test F1 75.46); the
next run there, its probe at 17,330, chose 2,800, re-planned to 3,100 and used 8.7 minutes (76.67; quiet probes on
the usual machine: 24,100-32,500 words/s; bench/results/train_large_budget-10-final{1,2}.json).

Which batches: when the growing batches reach the step limit within the budget, the run is exactly the unbudgeted
one. When they do not (the budget binds), the run trains on full-size batches from the first step instead: the
ramp's small batches pay a step's fixed cost for a few hundred words each (the optimizer over every weight, the
parser's per-document work, and on two processes a batch of one document that only one of them can take), which on
a large corpus is most of a short budget's time. Full size is ``FULL_BATCH_WORDS`` (or the settings' largest batch
when larger), at most a twentieth of the training side, as ``ner.sizing`` keeps batches varied on small projects.
The comment at ``FULL_BATCH_WORDS`` says what that bought.

How often to evaluate: the app holds out a tenth of the training side as the dev set, so on a large project one
evaluation costs as much as hundreds of steps (12.8 M characters: a 1.3 M-character dev set, about 15 s a pass on
2 cores, against 0.05 s a step), and the size rule's every 200 steps would spend most of a short budget scoring
checkpoints. A budgeted run's learning rate falls to 0 at its last step, so its best checkpoint comes at or near
the end; its evaluations are there to keep the best one and stop early, which a handful does. Unless the caller
fixed the frequency, the plan evaluates at most as often as ``EVALUATION_SHARE`` of the budget pays for, and at
least ``EVALUATIONS_MIN`` times; the frequency is recorded, and reused by a retraining with the same settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from ner.sizing import BATCH_SIZE_ROUNDING, BATCHES_PER_PASS_MIN

# Unplanned share of the budget: noise in the probe, other work on the machine. 8% was too thin: three 10- and
# 15-minute runs on the 12.8 M-character benchmark took 5.7%, 9.5% and 8.1% longer than predicted (a shared 2-core
# machine's speed moves between the probe and the run: the probes of five runs measured 90-125 ms a full-size step,
# their steps took 98-110 ms), and the last of them, at 8%, reached the budget 87 steps before its limit and kept
# an earlier checkpoint.
SAFETY_SHARE = 0.15
# Unplanned share of the budget once the run has re-planned from its own steps (``replan``): what is left is the
# machine's drift within the run and the last minutes' evaluations and checkpoints.
REPLAN_SAFETY_SHARE = 0.05
# Words per batch when the budget binds (see the module's docstring). Measured on the 12.8 M-character corpus of
# bench/train_large.py, 2 cores, two processes, runs sized to the training time of a 10-minute budget, test F1 (one
# seed each; bench/results/train_large_full-batches.json): growing batches of 100-1,000 words, 4,200 steps (the
# previous release's 10-minute budget): 72.17; 1,000-word batches, 7,800 steps: 77.77; 2,000 words, 5,400 steps: 78.24.
FULL_BATCH_WORDS = 2_000

# Dev evaluations take at most this share of the budget (unless EVALUATIONS_MIN of them take more), and a run
# evaluates at least EVALUATIONS_MIN times besides step 0. A tenth was too generous: on the 12.8 M-character
# benchmark (a 2 s evaluation) it let the size rule's every 200 steps stand, 26 evaluations that took 8-9% of a
# 10-minute budget (bench/results/train_large_budget-10-amd.json), ~500 steps' worth, for checkpoints that the
# decaying learning rate makes worse than the last ones: the kept checkpoint was the last or within 800 steps of it
# in every budgeted run measured there. 3% pays for about one evaluation a minute at that cost.
EVALUATION_SHARE = 0.03
EVALUATIONS_MIN = 5
# Fewer steps than this do not make a model; the budget is then too short and the run says so.
MIN_STEPS = 100


class BudgetTooShort(ValueError):
    """Not even ``MIN_STEPS`` steps fit in the budget; the message says how many minutes would."""


@dataclass(frozen=True, slots=True)
class Speed:
    """This machine's speed for one training, measured by the probe (``ner.train.measure_speed``)."""

    words_per_second: float  # training, per word of a batch
    step_overhead_s: float  # training, per step whatever its size
    eval_words_per_second: float  # predicting (dev evaluation, test set)
    prepare_characters_per_second: float  # tokenizing text into examples
    words_per_character: float  # of the project's text, to count words without tokenizing it all
    # Mean words per training example (a chunk of a document): a batch holds at least one. 0: not measured.
    words_per_example: float = 0.0
    # Words in the batcher's full-size batches over that size: a batch closes once it reaches its size, so with
    # long examples it holds more (about 1.05 for 2,000-word batches of whole documents). 1: not measured.
    batch_fill: float = 1.0
    # Writing a checkpoint, which each evaluation that improves the dev score does. 0: not measured.
    checkpoint_s: float = 0.0
    # After the loop: loading the saved model (calibration loads it, and so does a caller predicting with it), and
    # the calibration pass, which scores every entity's confidence besides predicting (0: eval_words_per_second).
    model_load_s: float = 0.0
    calibration_words_per_second: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {key: round(value, 6) for key, value in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    """The step limit a budget chose, and the figures it was chosen from (recorded in the model's meta)."""

    budget_s: float
    max_steps: int
    cap_steps: int
    estimated_s: float
    elapsed_before_s: float
    # Predicted time after the training loop (calibration, the caller's predictions): the loop stops in time for it.
    final_s: float
    # The probe's prediction of one dev evaluation in the loop, its checkpoint included.
    planned_evaluation_s: float
    speed: Speed
    # The batch sizes the run trains with: the settings' growing ones, or full-size from the first step.
    batch_size_start: int
    batch_size_stop: int
    full_batches: bool = False
    # Steps between dev evaluations in the run (the size rule's, or rarer: see the module's docstring).
    evaluation_frequency: int = 0
    # Set when the run chose its limit again from its own first steps (``replan``): the probe's limit, the last step
    # trained before the new plan, and the seconds a training step and an evaluation (with its checkpoint) took
    # (an evaluation after step 0's; the probe's prediction when the run had made none yet: see ``replan``).
    probe_max_steps: int = 0
    replanned_after_step: int = 0
    measured_step_s: float = 0.0
    measured_evaluation_s: float = 0.0

    @property
    def replanned(self) -> bool:
        return self.probe_max_steps > 0

    @property
    def reason(self) -> str:
        capped = " (the step limit; more would fit)" if self.max_steps >= self.cap_steps else ""
        batches = (
            f" in batches of {self.batch_size_stop:,} words from the first step (growing ones would not reach the "
            "step limit in time)"
            if self.full_batches
            else ""
        )
        estimate = (
            f"about {self.estimated_s / 60:.1f} minutes with an evaluation every {self.evaluation_frequency:,} steps"
        )
        if self.replanned:
            return (
                f"{self.max_steps:,} steps{capped}{batches} fit in {self.budget_s / 60:g} minutes at "
                f"{self.measured_step_s * 1000:,.0f} ms a step, measured on the run's first "
                f"{self.replanned_after_step + 1:,} steps ({estimate}; the speed probe before the run had chosen "
                f"{self.probe_max_steps:,} steps)"
            )
        return (
            f"{self.max_steps:,} steps{capped}{batches} fit in {self.budget_s / 60:g} minutes at "
            f"{self.speed.words_per_second:,.0f} training words/s measured on this machine ({estimate})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_minutes": round(self.budget_s / 60, 3),
            "max_steps": self.max_steps,
            "cap_steps": self.cap_steps,
            "estimated_s": round(self.estimated_s, 1),
            "elapsed_before_s": round(self.elapsed_before_s, 1),
            "final_s": round(self.final_s, 1),
            "batch_size_start": self.batch_size_start,
            "batch_size_stop": self.batch_size_stop,
            "full_batches": self.full_batches,
            "evaluation_frequency": self.evaluation_frequency,
            "planned_evaluation_s": round(self.planned_evaluation_s, 6),
            "probe_max_steps": self.probe_max_steps,
            "replanned_after_step": self.replanned_after_step,
            "measured_step_s": round(self.measured_step_s, 6),
            "measured_evaluation_s": round(self.measured_evaluation_s, 6),
            "speed": self.speed.to_dict(),
            "reason": self.reason,
        }


def full_batch_size(*, words_per_epoch: float, batch_size_stop: int) -> int:
    """Words per batch of a run whose budget binds: ``FULL_BATCH_WORDS``, at most a twentieth of an epoch (rounded
    down to 50), and never less than the settings' largest batch."""
    share = int(words_per_epoch / BATCHES_PER_PASS_MIN) // BATCH_SIZE_ROUNDING * BATCH_SIZE_ROUNDING
    return max(batch_size_stop, min(FULL_BATCH_WORDS, share))


def step_words(
    steps: int,
    *,
    words_per_epoch: int,
    batch_size_start: int,
    batch_size_stop: int,
    compound: float,
    words_per_example: float = 0.0,
    fill: float = 1.0,
) -> list[float]:
    """Words in each of the first ``steps`` batches: the compounding size schedule, one size per batch (times
    ``fill``, how full the batcher makes them), with each epoch's last batch holding only the words left in the
    epoch, and every batch at least one example."""
    sizes: list[float] = []
    size = float(batch_size_start)
    in_epoch = 0.0
    for _ in range(steps):
        batch = max(size * fill, words_per_example)
        words = min(batch, max(1.0, words_per_epoch - in_epoch)) if words_per_epoch > 0 else batch
        sizes.append(words)
        in_epoch += words
        size = min(float(batch_size_stop), size * compound)
        if in_epoch >= words_per_epoch:
            in_epoch = 0.0
    return sizes


def plan_steps(
    *,
    budget_s: float,
    elapsed_s: float,
    speed: Speed,
    cap_steps: int,
    prepare_characters: int,
    words_per_epoch: int,
    dev_words: int,
    predict_after_words: int,
    batch_size_start: int,
    batch_size_stop: int,
    compound: float,
    evaluation_frequency: Callable[[int], int],
    frequency_fixed: bool = False,
    replan_min_steps: int = 0,
) -> BudgetPlan:
    """The largest step limit (at most ``cap_steps``) whose predicted wall time fits in ``budget_s``, and its batches.

    ``elapsed_s`` has already gone (the probe). A run of step limit N makes N + 1 updates (steps 0 to N, as spaCy's
    loop counts) and evaluates at steps 0 and N and every ``evaluation_frequency(N)`` steps, or more rarely when
    those evaluations would take more than ``EVALUATION_SHARE`` of the budget (not when ``frequency_fixed``).
    Limits of 1,000 steps and more are rounded down to hundreds, shorter ones to tens, so the recorded figure reads
    as a setting. Growing batches when they reach ``cap_steps`` in time, else full-size ones from the first step (the
    module's docstring).

    A full-batch limit short of ``replan_min_steps`` (the least limit whose run re-plans from its own steps) is raised
    to it when the probe predicts that limit within the re-plan's margin (``REPLAN_SAFETY_SHARE``): the probe's wider
    one is for a run that cannot correct it.
    """
    if budget_s <= 0:
        raise ValueError("The time budget must be positive")
    if cap_steps < 1:
        raise ValueError("A budgeted run needs a step limit to stay under (cap_steps >= 1)")
    eval_s = dev_words / speed.eval_words_per_second
    # Calibration loads the saved model and predicts the dev set with confidence scores; a caller that predicts
    # after training loads the model again. Counted as one dev pass, these took about 1 s more than planned on the
    # 12.8 M-character benchmark (measured beside a training run), and a run stopped at its deadline ended 0.7 s
    # over its 10 minutes.
    calibration_words_per_second = speed.calibration_words_per_second or speed.eval_words_per_second
    final_s = speed.model_load_s + dev_words / calibration_words_per_second
    if predict_after_words:
        final_s += speed.model_load_s + predict_after_words / speed.eval_words_per_second
    fixed_s = elapsed_s + prepare_characters / speed.prepare_characters_per_second + final_s
    target_s = budget_s * (1 - SAFETY_SHARE)
    # Each evaluation in the loop, and the checkpoint it writes when the dev score improves (counted every time).
    evaluation_s = eval_s + speed.checkpoint_s
    affordable = max(
        EVALUATIONS_MIN, int(EVALUATION_SHARE * budget_s / evaluation_s) if evaluation_s > 0 else cap_steps
    )
    full_size = full_batch_size(words_per_epoch=words_per_epoch, batch_size_stop=batch_size_stop)

    def frequency(steps: int) -> int:
        rule = evaluation_frequency(steps)
        return rule if frequency_fixed else max(rule, _rounded_up(math.ceil(steps / affordable)))

    def predictions(start: int, stop: int) -> Callable[[int], float]:
        """Predicted wall time of a run of step limit n whose batches grow from ``start`` to ``stop`` words."""
        sizes = step_words(
            cap_steps + 1,
            words_per_epoch=words_per_epoch,
            batch_size_start=start,
            batch_size_stop=stop,
            compound=compound,
            words_per_example=speed.words_per_example,
            # The probe measured how full the batcher makes full-size batches; other sizes are counted as named.
            fill=speed.batch_fill if start == stop == full_size else 1.0,
        )
        cumulative: list[float] = []  # cumulative[n]: the training time of updates 0 to n
        training_s = 0.0
        for words in sizes:
            training_s += speed.step_overhead_s + words / speed.words_per_second
            cumulative.append(training_s)
        return lambda steps: fixed_s + cumulative[steps] + evaluations(steps, frequency(steps), 0) * evaluation_s

    def plan(start: int, stop: int) -> BudgetPlan | None:
        predicted = predictions(start, stop)
        # From the cap down (the evaluation frequency changes with the limit, so time is not monotone in steps).
        for steps in range(cap_steps, min(MIN_STEPS, cap_steps) - 1, -1):
            if (steps == cap_steps or steps == _readable(steps)) and predicted(steps) <= target_s:
                return BudgetPlan(
                    budget_s=budget_s,
                    max_steps=steps,
                    cap_steps=cap_steps,
                    estimated_s=predicted(steps),
                    elapsed_before_s=elapsed_s,
                    final_s=final_s,
                    speed=speed,
                    batch_size_start=start,
                    batch_size_stop=stop,
                    full_batches=start != batch_size_start,
                    evaluation_frequency=frequency(steps),
                    planned_evaluation_s=evaluation_s,
                )
        return None

    growing = plan(batch_size_start, batch_size_stop)
    if growing is not None and (growing.max_steps >= cap_steps or batch_size_start >= full_size):
        return growing
    full = plan(full_size, full_size) if batch_size_start < full_size else None
    if full is not None:
        if full.max_steps < replan_min_steps <= cap_steps:
            reaching = predictions(full_size, full_size)(replan_min_steps)
            if reaching <= budget_s * (1 - REPLAN_SAFETY_SHARE):
                return replace(
                    full,
                    max_steps=replan_min_steps,
                    estimated_s=reaching,
                    evaluation_frequency=frequency(replan_min_steps),
                )
        return full
    if growing is not None:
        return growing
    fewest = min(MIN_STEPS, cap_steps)
    shortest = predictions(batch_size_start, batch_size_stop)(fewest)
    raise BudgetTooShort(
        f"A time budget of {budget_s / 60:g} minutes is too short for this project: {fewest} steps would take "
        f"about {shortest / (1 - SAFETY_SHARE) / 60:.1f} minutes on this machine"
    )


def replan(
    plan: BudgetPlan, *, elapsed_s: float, last_step: int, step_s: float, evaluation_s: float, min_steps: int
) -> BudgetPlan:
    """The plan made again from the run's own steps: by ``elapsed_s`` after the start the run has trained and
    evaluated up to the 0-based ``last_step``; each further step takes ``step_s`` and each evaluation (every
    ``plan.evaluation_frequency`` steps, kept: the run has evaluated by it) ``evaluation_s``, its checkpoint
    included.

    The largest step limit between ``min_steps`` and the cap whose predicted end leaves ``REPLAN_SAFETY_SHARE`` of
    the budget, readable as ``plan_steps`` rounds it; ``min_steps`` when none fits (the budget's deadline then
    ends the run with the best checkpoint so far)."""
    frequency = max(1, plan.evaluation_frequency)
    target_s = plan.budget_s * (1 - REPLAN_SAFETY_SHARE)

    def predicted(steps: int) -> float:
        to_come = evaluations(steps, frequency, last_step + 1)
        return elapsed_s + (steps - last_step) * step_s + to_come * evaluation_s + plan.final_s

    floor = min(max(min_steps, last_step), plan.cap_steps)
    chosen = next(
        (
            steps
            for steps in range(plan.cap_steps, floor - 1, -1)
            if (steps == plan.cap_steps or steps == _readable(steps)) and predicted(steps) <= target_s
        ),
        floor,
    )
    return replace(
        plan,
        max_steps=chosen,
        estimated_s=predicted(chosen),
        probe_max_steps=plan.max_steps,
        replanned_after_step=last_step,
        measured_step_s=step_s,
        measured_evaluation_s=evaluation_s,
    )


def evaluations(steps: int, frequency: int, first: int) -> int:
    """Dev evaluations at steps ``first`` to ``steps`` of a run of step limit ``steps``: every ``frequency``-th step
    (step 0 included), and the last step when the frequency skips it (``ner.train`` scores the final model too)."""
    counted = steps // frequency - (first - 1) // frequency if first > 0 else steps // frequency + 1
    return counted + (1 if steps % frequency else 0)


def _unit(steps: int) -> int:
    return 100 if steps >= 1_000 else 10 if steps >= MIN_STEPS else 1


def _rounded_up(steps: int) -> int:
    return -(-steps // _unit(steps)) * _unit(steps)


def _readable(steps: int) -> int:
    return steps - steps % _unit(steps)

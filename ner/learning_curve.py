"""Learning curves: nested shares of the training side, and what the measured curve says about more data.

Two halves, both plain Python:

- :func:`nested_subsets` picks, for each requested percent, a share of the training documents. Whole documents
  only; deterministic from the seed (a seeded hash of each text ranks them, so the choice does not depend on upload
  order); nested, so the 25% share is inside the 50% share, and so on, which makes the points of one curve differ
  only by the data added. Before the random order, one document per entity type (rarest type first) is moved to the
  front, so the smallest share holds every type when it has room for them: a type missing from the 25% model would
  read as "F1 0 at 25%", which says nothing about how that type learns.
- :func:`fit_projection` fits ``F1(n) = a - b * n**-c`` (an inverse power law, the usual shape of learning curves)
  to F1 against the number of tagged entity instances, by a grid over ``c`` with least squares for ``a`` and ``b``
  (so no optimiser and no starting guess). With fewer than three distinct sizes, or when the best power law is
  degenerate (its exponent at the bottom of the grid, i.e. a straight line in log n), it falls back to
  ``F1 = alpha + beta * ln n``; a curve that does not rise is reported flat. The fitted curve's shape is anchored at
  the measured F1 of the largest share, so "+3 points with twice the data" is a gain over what the user has now,
  not over the fit's idea of it. Every projected value is clipped to [0, 1] and is an extrapolation.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ner.text import content_hash
from ner.types import LabeledDoc

Method = Literal["power_law", "log_linear", "flat", "none"]
METHODS: tuple[Method, ...] = ("power_law", "log_linear", "flat", "none")

DEFAULT_PERCENTS: tuple[int, ...] = (25, 50, 75, 100)
PERCENTS_MAX = 10
# The projection's target: this many F1 points above the measured F1 of the full training side, at most TARGET_CAP.
TARGET_GAIN = 0.05
TARGET_CAP = 0.99
# A target the fitted curve reaches only beyond this many times the current instances is reported as out of reach.
TARGET_FACTOR_MAX = 100.0
# Exponents tried for the power law: geometric from C_MIN to C_MAX, then refined around the best.
C_MIN, C_MAX, C_STEPS = 0.01, 4.0, 240
# Gains smaller than this (in F1) count as no gain: a curve this flat is reported flat.
FLAT_SLOPE = 1e-6


class LearningCurveError(ValueError):
    """The requested curve cannot be made; the message says why in the user's words."""


# --------------------------------------------------------------------------------------------- subsets


def check_percents(percents: Iterable[object]) -> tuple[int, ...]:
    """The shares to train on, sorted and unique, with 100 added (the curve always ends at all the data)."""
    chosen: set[int] = set()
    for value in percents:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
            raise LearningCurveError(f"Each share must be a whole percent from 1 to 100, not {value!r}.")
        chosen.add(value)
    chosen.add(100)
    if len(chosen) < 2:
        raise LearningCurveError("Give at least one share below 100%, e.g. 25, 50, 75: a curve needs two points.")
    if len(chosen) > PERCENTS_MAX:
        raise LearningCurveError(
            f"At most {PERCENTS_MAX} shares (100% included): each one trains a model, so more would take long."
        )
    return tuple(sorted(chosen))


def count_instances(docs: Iterable[LabeledDoc]) -> int:
    """How many tagged entity instances the documents hold (every span counts once)."""
    return sum(len(doc.spans) for doc in docs)


def instances_by_type(docs: Iterable[LabeledDoc]) -> dict[str, int]:
    counts: Counter[str] = Counter(span.label for doc in docs for span in doc.spans)
    return dict(sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class Subset:
    """One share of the training side: its documents (in input order) and the entity instances they hold."""

    percent: int
    docs: tuple[LabeledDoc, ...]
    instances: int
    per_type: dict[str, int]


def subset_size(percent: int, total: int) -> int:
    """Documents in a ``percent`` share of ``total``: rounded up, at least one (when there are any)."""
    if total <= 0:
        return 0
    return max(1, min(total, math.ceil(percent * total / 100)))


def _rank(seed: int, doc: LabeledDoc) -> bytes:
    return hashlib.sha256(f"curve:{seed}:{content_hash(doc.text)}".encode()).digest()


def subset_order(docs: Sequence[LabeledDoc], seed: int) -> list[int]:
    """Indexes of ``docs`` in the order shares take them: type coverers first (rarest type first), then by hash."""
    ranked = sorted(range(len(docs)), key=lambda i: (_rank(seed, docs[i]), i))
    holders: dict[str, list[int]] = {}
    for index in ranked:
        for label in sorted({span.label for span in docs[index].spans}):
            holders.setdefault(label, []).append(index)
    covered: set[str] = set()
    front: list[int] = []
    for label in sorted(holders, key=lambda name: (len(holders[name]), name)):
        if label in covered:
            continue
        pick = holders[label][0]
        front.append(pick)
        covered.update(span.label for span in docs[pick].spans)
    taken = set(front)
    return front + [index for index in ranked if index not in taken]


def nested_subsets(docs: Sequence[LabeledDoc], percents: Iterable[object], seed: int) -> list[Subset]:
    """One subset per share in ``check_percents(percents)`` order, each inside the next; see the module docstring."""
    shares = check_percents(percents)
    if not docs:
        raise LearningCurveError("The training side is empty: there is nothing to take shares of.")
    order = subset_order(docs, seed)
    subsets = []
    for percent in shares:
        chosen = set(order[: subset_size(percent, len(docs))])
        picked = tuple(doc for index, doc in enumerate(docs) if index in chosen)
        subsets.append(Subset(percent, picked, count_instances(picked), instances_by_type(picked)))
    return subsets


# --------------------------------------------------------------------------------------------- fitting


@dataclass(frozen=True, slots=True)
class _Fit:
    method: Method
    params: dict[str, float]
    sse: float = 0.0

    def value(self, n: float) -> float:
        if self.method == "power_law":
            return self.params["a"] - self.params["b"] * math.pow(n, -self.params["c"])
        if self.method == "log_linear":
            return self.params["alpha"] + self.params["beta"] * math.log(n)
        return self.params.get("level", 0.0)

    def inverse(self, value: float) -> float | None:
        """The ``n`` at which the fitted curve reaches ``value``, or None when it never does."""
        if self.method == "power_law":
            gap = self.params["a"] - value
            if gap <= 0:
                return None
            try:
                return math.pow(self.params["b"] / gap, 1 / self.params["c"])
            except OverflowError:
                return None
        if self.method == "log_linear":
            exponent = (value - self.params["alpha"]) / self.params["beta"]
            return math.exp(exponent) if exponent < 700 else None
        return None


def _line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Ordinary least squares for y = intercept + slope * x: (intercept, slope), or None when every x is the same."""
    count = len(xs)
    mean_x, mean_y = sum(xs) / count, sum(ys) / count
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread <= 1e-18:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return mean_y - slope * mean_x, slope


def _power_for(c: float, xs: Sequence[float], ys: Sequence[float]) -> _Fit | None:
    """Least squares for ``a`` and ``b`` at a fixed exponent, with b > 0 (a rising curve) and a <= 1."""
    zs = [math.pow(x, -c) for x in xs]
    line = _line(zs, ys)
    if line is None:
        return None
    a, slope = line
    b = -slope
    if a > 1.0:
        # F1 cannot pass 1: refit b with the asymptote held at 1.
        a = 1.0
        b = sum(z * (1.0 - y) for z, y in zip(zs, ys, strict=True)) / sum(z * z for z in zs)
    if not b > 0 or not math.isfinite(a) or not math.isfinite(b):
        return None
    sse = sum((a - b * z - y) ** 2 for z, y in zip(zs, ys, strict=True))
    return _Fit("power_law", {"a": a, "b": b, "c": c}, sse)


def _geometric(low: float, high: float, steps: int) -> list[float]:
    ratio = (high / low) ** (1 / (steps - 1))
    return [low * ratio**i for i in range(steps)]


def _fit_power(xs: Sequence[float], ys: Sequence[float]) -> _Fit | None:
    grid = _geometric(C_MIN, C_MAX, C_STEPS)
    fits = [(index, fit) for index, c in enumerate(grid) if (fit := _power_for(c, xs, ys)) is not None]
    if not fits:
        return None
    index, best = min(fits, key=lambda item: item[1].sse)
    if index == 0:
        return None  # the exponent wants to be ~0: the curve is a line in log n, which log_linear fits directly
    # Refine between the neighbouring grid values, where the true minimum lies.
    low, high = grid[index - 1], grid[min(index + 1, len(grid) - 1)]
    for c in _geometric(low, high, 41):
        fit = _power_for(c, xs, ys)
        if fit is not None and fit.sse < best.sse:
            best = fit
    return best


def _fit_log_linear(xs: Sequence[float], ys: Sequence[float]) -> _Fit | None:
    logs = [math.log(x) for x in xs]
    line = _line(logs, ys)
    if line is None:
        return None
    alpha, beta = line
    if not beta > FLAT_SLOPE or not math.isfinite(alpha):
        return None
    sse = sum((alpha + beta * value - y) ** 2 for value, y in zip(logs, ys, strict=True))
    return _Fit("log_linear", {"alpha": alpha, "beta": beta}, sse)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True, slots=True)
class Projection:
    """What the measured curve says about more data, for one series (overall, or one entity type).

    ``current_*`` are the largest share's measurement; ``at_2x``/``at_4x`` the projected F1 with twice/four times
    as many tagged instances; ``instances_for_target`` the total instances at which the projection reaches
    ``target_f1`` (None: not within ``TARGET_FACTOR_MAX`` times the current instances, or never); ``plateau`` the
    power law's ceiling. Every projected number is an extrapolation (``extrapolated``) clipped to [0, 1].
    ``per_type`` holds one projection per entity type (on that type's own instances) for the overall series.
    """

    method: Method
    points: int
    current_instances: int
    current_f1: float
    at_2x: float | None = None
    at_4x: float | None = None
    target_f1: float | None = None
    instances_for_target: int | None = None
    plateau: float | None = None
    params: dict[str, float] = field(default_factory=dict)
    extrapolated: bool = True
    note: str = ""
    per_type: dict[str, Projection] = field(default_factory=dict)

    @property
    def gain_2x(self) -> float | None:
        return None if self.at_2x is None else self.at_2x - self.current_f1

    @property
    def more_instances(self) -> int | None:
        """How many more instances than now the target needs."""
        if self.instances_for_target is None:
            return None
        return max(0, self.instances_for_target - self.current_instances)

    def predict(self, instances: float) -> float | None:
        """The projected F1 at ``instances`` (anchored at the measured current F1, clipped), None without a fit."""
        if self.method == "none" or instances <= 0:
            return None
        fit = _Fit(self.method, self.params)
        if self.method == "flat":
            return self.current_f1
        return _clip(self.current_f1 + fit.value(instances) - fit.value(self.current_instances))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "points": self.points,
            "current_instances": self.current_instances,
            "current_f1": self.current_f1,
            "at_2x": self.at_2x,
            "at_4x": self.at_4x,
            "target_f1": self.target_f1,
            "instances_for_target": self.instances_for_target,
            "plateau": self.plateau,
            "params": dict(self.params),
            "extrapolated": self.extrapolated,
            "note": self.note,
            "per_type": {label: projection.to_dict() for label, projection in self.per_type.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Projection:
        method: Method = next((known for known in METHODS if known == data.get("method")), "none")

        def number(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        target = data.get("instances_for_target")
        return cls(
            method=method,
            points=int(data.get("points", 0)),
            current_instances=int(data.get("current_instances", 0)),
            current_f1=float(data.get("current_f1", 0.0)),
            at_2x=number("at_2x"),
            at_4x=number("at_4x"),
            target_f1=number("target_f1"),
            instances_for_target=None if target is None else int(target),
            plateau=number("plateau"),
            params={str(key): float(value) for key, value in dict(data.get("params") or {}).items()},
            extrapolated=bool(data.get("extrapolated", True)),
            note=str(data.get("note", "")),
            per_type={str(label): cls.from_dict(item) for label, item in dict(data.get("per_type") or {}).items()},
        )


def fit_projection(
    points: Iterable[tuple[float, float]],
    *,
    target_gain: float = TARGET_GAIN,
    target_cap: float = TARGET_CAP,
    per_type: Mapping[str, Iterable[tuple[float, float]]] | None = None,
) -> Projection:
    """Fit F1 against tagged instances (``points`` as ``(instances, f1)``, any order) and project more data.

    Points with no instances or a non-finite value are ignored; several points at the same size are averaged.
    ``per_type`` gives each entity type's own ``(instances, f1)`` points, projected the same way.
    """
    by_size: dict[float, list[float]] = {}
    for instances, f1 in points:
        if math.isfinite(instances) and math.isfinite(f1) and instances > 0:
            by_size.setdefault(float(instances), []).append(_clip(float(f1)))
    types = {
        label: fit_projection(series, target_gain=target_gain, target_cap=target_cap)
        for label, series in (per_type or {}).items()
    }
    if not by_size:
        return Projection("none", 0, 0, 0.0, note="No share held any tagged instances.", per_type=types)
    xs = sorted(by_size)
    ys = [sum(by_size[x]) / len(by_size[x]) for x in xs]
    current_n, current_f1 = xs[-1], ys[-1]
    count, current = len(xs), round(current_n)
    if count < 2:
        return Projection(
            "none", count, current, current_f1, note="One measured size is not enough to fit a curve.", per_type=types
        )
    fit: _Fit | None = None
    note = ""
    if count >= 3:
        fit = _fit_power(xs, ys)
        if fit is None:
            note = "The power-law fit was degenerate, so a log-linear trend is used instead."
    else:
        note = "Two measured sizes are too few for a power law, so a log-linear trend is used."
    if fit is None:
        fit = _fit_log_linear(xs, ys)
    if fit is None:
        return Projection(
            "flat",
            count,
            current,
            current_f1,
            at_2x=current_f1,
            at_4x=current_f1,
            params={"level": current_f1},
            note=(
                "F1 is already at the top with the smallest share, so the test set cannot show a gain."
                if min(ys) >= target_cap
                else "F1 did not rise with more data in these measurements, so no gain is projected."
            ),
            per_type=types,
        )
    anchor = current_f1 - fit.value(current_n)
    target = min(current_f1 + target_gain, target_cap)
    needed: int | None = None
    if target > current_f1:
        reached = fit.inverse(target - anchor)
        if reached is not None and reached <= TARGET_FACTOR_MAX * current_n:
            needed = max(current + 1, math.ceil(reached))
    return Projection(
        fit.method,
        count,
        current,
        current_f1,
        at_2x=_clip(fit.value(2 * current_n) + anchor),
        at_4x=_clip(fit.value(4 * current_n) + anchor),
        target_f1=target if target > current_f1 else None,
        instances_for_target=needed,
        plateau=_clip(fit.params["a"] + anchor) if fit.method == "power_law" else None,
        params=dict(fit.params),
        note=note,
        per_type=types,
    )


def types_by_gain(projection: Projection) -> list[tuple[str, Projection]]:
    """The per-type projections, those that gain most from twice the data first (types without a fit last)."""
    return sorted(
        projection.per_type.items(),
        key=lambda item: (item[1].gain_2x is None, -(item[1].gain_2x or 0.0), item[0]),
    )

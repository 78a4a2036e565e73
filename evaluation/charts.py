"""A small server-side SVG line chart: no JavaScript, no chart library, safe to drop into a template.

``line_chart`` draws axes with round ("nice") ticks, one line with point markers per series, an optional dashed
segment per series (a projection), and a legend. Every point carries a ``<title>``, which browsers show as a
tooltip; the chart has an accessible ``<title>``/``<desc>`` pair and ``role="img"``. All text is escaped; the
result is a ``SafeString``. Colours are fixed hex values (presentation attributes cannot read CSS variables)
chosen to match static/css/app.css and to stay apart for colour-blind readers (Okabe-Ito).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# The app's text colour first (for the headline series), then Okabe-Ito's palette.
PALETTE = ("#1d2330", "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#8c6d31", "#7f7f7f")
MUTED = "#5b6475"
GRID = "#e3e6ec"
AXIS = "#9aa1ad"
LEGEND_NAME_MAX = 22


@dataclass(frozen=True)
class Series:
    """One line: ``points`` as ``(x, y)``; ``tooltips`` one per point (default: the formatted values);
    ``projection`` a dashed continuation (its points are drawn as a line only, without markers)."""

    name: str
    points: Sequence[tuple[float, float]]
    tooltips: Sequence[str] = ()
    projection: Sequence[tuple[float, float]] = ()
    projection_label: str = ""
    color: str = ""
    emphasis: bool = False
    slug: str = ""


@dataclass(frozen=True)
class Axis:
    label: str
    low: float | None = None  # None: from the data
    high: float | None = None
    format: Callable[[float], str] = field(default=lambda value: f"{value:g}")


def _finite(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)]


def nice_step(span: float, count: int) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten giving about ``count`` intervals over ``span``."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (the range is widened to whole steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.5 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    ticks = []
    value = first
    while value <= last + step * 1e-6 and len(ticks) < 50:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _range(axis: Axis, values: list[float], count: int) -> list[float]:
    low = axis.low if axis.low is not None else (min(values) if values else 0.0)
    high = axis.high if axis.high is not None else (max(values) if values else 1.0)
    ticks = nice_ticks(low, high, count)
    if axis.low is not None:
        ticks = [tick for tick in ticks if tick >= axis.low - 1e-9] or [axis.low]
    if axis.high is not None:
        ticks = [tick for tick in ticks if tick <= axis.high + 1e-9] or [axis.high]
    if len(ticks) == 1:
        ticks = [ticks[0], ticks[0] + 1.0]
    return ticks


_Shown = tuple[Series, list[tuple[float, float]], list[tuple[float, float]]]  # a series, its finite points, projection


@dataclass(frozen=True)
class _Frame:
    """The plot area inside the chart (pixels) and the data range it shows."""

    left: int
    top: int
    plot_w: int
    plot_h: int
    x_low: float
    x_high: float
    y_low: float
    y_high: float

    def sx(self, x: float) -> float:
        return self.left + (x - self.x_low) / (self.x_high - self.x_low) * self.plot_w

    def sy(self, y: float) -> float:
        return self.top + self.plot_h - (y - self.y_low) / (self.y_high - self.y_low) * self.plot_h


def line_chart(
    *,
    series: Sequence[Series],
    title: str,
    description: str,
    x_axis: Axis,
    y_axis: Axis,
    chart_id: str = "chart",
    width: int = 760,
    height: int = 380,
) -> SafeString:
    """The chart as ``<svg>`` markup; series without a single finite point are left out of the plot and legend."""
    shown: list[_Shown] = [(item, _finite(item.points), _finite(item.projection)) for item in series]
    shown = [(item, points, projection) for item, points, projection in shown if points]
    xs = [x for _, points, projection in shown for x, _ in (*points, *projection)]
    ys = [y for _, points, projection in shown for _, y in (*points, *projection)]
    x_ticks = _range(x_axis, xs, 6)
    y_ticks = _range(y_axis, ys, 5)
    projected = any(projection for _, _, projection in shown)
    legend_width = 190 if len(shown) > 1 or projected else 0
    left, right, top, bottom = 64, 16 + legend_width, 16, 56
    frame = _Frame(
        left=left,
        top=top,
        plot_w=width - left - right,
        plot_h=height - top - bottom,
        x_low=x_ticks[0],
        x_high=x_ticks[-1],
        y_low=y_ticks[0],
        y_high=y_ticks[-1],
    )
    uid = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{uid}" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{uid}-title {uid}-desc" font-size="12" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(description)}</desc>',
        f'<rect x="{left}" y="{top}" width="{frame.plot_w}" height="{frame.plot_h}" fill="#fff" stroke="none"/>',
        _grid(frame, x_ticks, y_ticks, x_axis, y_axis),
        _axes(frame, x_axis, y_axis, height),
    ]
    if not shown:
        parts.append(
            f'<text x="{left + frame.plot_w / 2:.1f}" y="{top + frame.plot_h / 2:.1f}" text-anchor="middle" '
            f'fill="{MUTED}">No data yet</text>'
        )
    parts.extend(_series_group(frame, uid, index, entry, x_axis, y_axis) for index, entry in enumerate(shown))
    if legend_width:
        parts.append(_legend(frame, shown, projected))
    parts.append("</svg>")
    # Safe: every piece of text above went through escape(); the rest is markup built here from numbers.
    return mark_safe("".join(parts))


def _grid(frame: _Frame, x_ticks: Sequence[float], y_ticks: Sequence[float], x_axis: Axis, y_axis: Axis) -> str:
    """A grid line and a label at every tick."""
    left, top, plot_w, plot_h = frame.left, frame.top, frame.plot_w, frame.plot_h
    parts = ['<g class="grid">']
    for tick in y_ticks:
        y = frame.sy(tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{escape(y_axis.format(tick))}</text>"
        )
    for tick in x_ticks:
        x = frame.sx(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="{MUTED}">'
            f"{escape(x_axis.format(tick))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _axes(frame: _Frame, x_axis: Axis, y_axis: Axis, height: int) -> str:
    """The two axis lines and their labels."""
    left, top, plot_w, plot_h = frame.left, frame.top, frame.plot_w, frame.plot_h
    return (
        f'<g class="axes" stroke="{AXIS}"><line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/><line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/></g>'
        f'<text class="x-label" x="{left + plot_w / 2:.1f}" y="{height - 12}" text-anchor="middle" '
        f'fill="{MUTED}">{escape(x_axis.label)}</text>'
        f'<text class="y-label" transform="translate(16 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="{MUTED}">{escape(y_axis.label)}</text>'
    )


def _path(frame: _Frame, points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{frame.sx(x):.1f} {frame.sy(y):.1f}" for i, (x, y) in enumerate(points))


def _series_group(frame: _Frame, uid: str, index: int, entry: _Shown, x_axis: Axis, y_axis: Axis) -> str:
    """One series: its line, its dashed projection, and a marker with a tooltip at every point."""
    item, points, projection = entry
    color = item.color or PALETTE[index % len(PALETTE)]
    stroke = 3 if item.emphasis else 2
    slug = escape(item.slug or str(index))
    parts = [
        f'<g class="series" data-series="{escape(item.name)}" id="{uid}-series-{slug}">',
        f'<path class="series-line" d="{_path(frame, points)}" fill="none" stroke="{color}" stroke-width="{stroke}" '
        'stroke-linejoin="round" stroke-linecap="round"/>',
    ]
    if projection:
        label = item.projection_label or f"{item.name}: projection"
        parts.append(
            f'<path class="series-projection" d="{_path(frame, [points[-1], *projection])}" fill="none" '
            f'stroke="{color}" stroke-width="{stroke}" '
            f'stroke-dasharray="6 5" opacity="0.8"><title>{escape(label)}</title></path>'
        )
    for number, (x, y) in enumerate(points):
        tip = (
            item.tooltips[number]
            if number < len(item.tooltips)
            else (f"{item.name}: {y_axis.format(y)} at {x_axis.format(x)}")
        )
        parts.append(
            f'<circle class="point" cx="{frame.sx(x):.1f}" cy="{frame.sy(y):.1f}" r="{4.5 if item.emphasis else 3.5}" '
            f'fill="{color}" stroke="#fff" stroke-width="1.5"><title>{escape(tip)}</title></circle>'
        )
    parts.append("</g>")
    return "".join(parts)


def _legend(frame: _Frame, shown: Sequence[_Shown], projected: bool) -> str:
    """A legend entry per series (long names shortened, the full name as a tooltip), and one for projections."""
    parts = [f'<g class="legend" transform="translate({frame.left + frame.plot_w + 20} {frame.top + 4})">']
    for index, (item, _, _) in enumerate(shown):
        color = item.color or PALETTE[index % len(PALETTE)]
        name = item.name if len(item.name) <= LEGEND_NAME_MAX else item.name[: LEGEND_NAME_MAX - 1] + "…"
        y = index * 20
        weight = ' font-weight="600"' if item.emphasis else ""
        parts.append(
            f'<g class="legend-item"><title>{escape(item.name)}</title>'
            f'<line x1="0" y1="{y + 6}" x2="22" y2="{y + 6}" stroke="{color}" '
            f'stroke-width="{3 if item.emphasis else 2}"/>'
            f'<circle cx="11" cy="{y + 6}" r="3.5" fill="{color}"/>'
            f'<text x="30" y="{y + 10}" fill="#1d2330"{weight}>'
            f"{escape(name)}</text></g>"
        )
    if projected:
        y = len(shown) * 20 + 6
        parts.append(
            f'<g class="legend-item"><line x1="0" y1="{y + 6}" x2="22" y2="{y + 6}" stroke="{MUTED}" '
            f'stroke-width="2" stroke-dasharray="6 5"/><text x="30" y="{y + 10}" fill="{MUTED}">'
            "projection (extrapolated)</text></g>"
        )
    parts.append("</g>")
    return "".join(parts)


def percent(value: float) -> str:
    """An axis formatter for fractions: ``0.8`` -> ``80%``."""
    return f"{_number(100 * value)}%"


def count(value: float) -> str:
    """An axis formatter for counts: whole numbers with thousands separators."""
    return f"{value:,.0f}" if value == int(value) else _number(value)

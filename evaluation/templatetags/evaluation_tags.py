"""Formatting for the training and evaluation pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """``3725`` -> ``1 h 2 min``, ``65`` -> ``1 min 5 s``, ``None`` -> an em dash."""
    if seconds is None:
        return "—"
    total = round(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percentage: ``0.8123`` -> ``81.2%``."""
    if value is None:
        return "—"
    return f"{100 * float(value):.{int(digits)}f}%"


@register.filter
def signed_pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{100 * float(value):+.1f} pts"


@register.filter
def shade(value: float) -> str:
    """A 0..1 share as a CSS alpha with a dot decimal, whatever the locale."""
    return f"{max(0.0, min(1.0, float(value))) * 0.85:.3f}"


@register.filter
def number(value: float, digits: int = 2) -> str:
    value = float(value)
    return f"{value:.0f}" if value == int(value) else f"{value:.{int(digits)}f}"

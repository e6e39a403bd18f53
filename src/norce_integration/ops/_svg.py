"""Small server-side SVG plots (pure: data in, SVG text out; no script, no CDN).

The console must work offline and on a locked-down jump host, so plots are plain inline
SVG with ``<title>`` tooltips: no charting library, no JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Final


__all__ = ["bar_chart", "line_chart", "nice_max"]

WIDTH: Final = 640
HEIGHT: Final = 200
_PAD_LEFT: Final = 56
_PAD_RIGHT: Final = 12
_PAD_TOP: Final = 20
_PAD_BOTTOM: Final = 28
PALETTE: Final = (
    "#2563eb",
    "#d97706",
    "#059669",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#be185d",
    "#4d7c0f",
    "#475569",
)


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times 10^n at or above ``value`` (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _frame(title: str, y_max: float, unit: str) -> list[str]:
    plot_h = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        ),
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        y = _PAD_TOP + plot_h * i / 4
        label = _fmt(y_max * (4 - i) / 4)
        parts.append(
            f'<line class="grid" x1="{_PAD_LEFT}" x2="{WIDTH - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    parts.append(f'<text class="unit" x="4" y="10" text-anchor="start">{escape(unit)}</text>')
    return parts


def _empty(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot empty" viewBox="0 0 {WIDTH} 60" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text class="tick" x="{WIDTH / 2}" y="34" text-anchor="middle">no data yet</text></svg>'
    )


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float, str]]],
    *,
    title: str,
    unit: str,
    x_labels: tuple[str, str] = ("older", "newer"),
) -> str:
    """One polyline per series over its points' order; each point's label is its tooltip.

    Args:
        series: name → points (x, y, label); x only orders the points of a series
            (each series spreads over the full width, like "the last N runs").
        title: accessible title.
        unit: the y unit shown at the top left.
        x_labels: the captions of the left and right ends of the x axis.
    """
    points = [p for values in series.values() for p in values]
    if not points:
        return _empty(title)
    y_max = nice_max(max(p[1] for p in points))
    plot_w = WIDTH - _PAD_LEFT - _PAD_RIGHT
    plot_h = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    parts = _frame(title, y_max, unit)
    legend_x = _PAD_LEFT
    for number, (name, values) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        ordered = sorted(values, key=lambda p: p[0])
        count = len(ordered)
        coords = []
        for index, (_x, y, label) in enumerate(ordered):
            cx = _PAD_LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)
            cy = _PAD_TOP + plot_h * (1 - y / y_max)
            coords.append((cx, cy, label))
        if count > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
            parts.append(f'<polyline fill="none" stroke="{colour}" points="{path}"/>')
        for cx, cy, label in coords:
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(name)}: {escape(label)}</title></circle>"
            )
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 12}" width="10" height="10" fill="{colour}"/>'
            f'<text class="legend" x="{legend_x + 14}" y="{HEIGHT - 3}">{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(name)
    parts.append(
        f'<text class="tick" x="{WIDTH - _PAD_RIGHT}" y="{HEIGHT - 16}" '
        f'text-anchor="end">{escape(x_labels[1])}</text>'
        f'<text class="tick" x="{_PAD_LEFT}" y="{HEIGHT - 16}">{escape(x_labels[0])}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float, str]],
    *,
    title: str,
    unit: str,
    groups: Sequence[str] = (),
) -> str:
    """One bar per entry (label, value, group); bars are coloured by group.

    Args:
        bars: (tooltip label, value, group name), left to right.
        title: accessible title.
        unit: the y unit shown at the top left.
        groups: group names in legend order (default: order of first appearance).
    """
    if not bars:
        return _empty(title)
    names = list(groups) or list(dict.fromkeys(group for _, _, group in bars))
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    y_max = nice_max(max(value for _, value, _ in bars))
    plot_w = WIDTH - _PAD_LEFT - _PAD_RIGHT
    plot_h = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    parts = _frame(title, y_max, unit)
    step = plot_w / len(bars)
    width = max(1.0, step * 0.8)
    for index, (label, value, group) in enumerate(bars):
        h = plot_h * value / y_max
        x = _PAD_LEFT + step * index + (step - width) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{_PAD_TOP + plot_h - h:.1f}" width="{width:.1f}" '
            f'height="{h:.1f}" fill="{colours.get(group, PALETTE[-1])}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
    legend_x = _PAD_LEFT
    for name in names:
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 12}" width="10" height="10" '
            f'fill="{colours[name]}"/>'
            f'<text class="legend" x="{legend_x + 14}" y="{HEIGHT - 3}">{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)

"""Inline SVG charts for the report, drawn from `Plot` data with no plotting library.

Colours come from CSS classes (`s0`, `s1`, ...) that the page styles, so the charts
follow the page's light or dark scheme. Each bar carries a `<title>`, which browsers
show as a tooltip without any script.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthc.report import Plot

WIDTH, HEIGHT = 560, 250
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 46
MAX_X_LABELS = 10
BAR_ROW = 26  # height of one category in a horizontal bar chart
BAR_LABEL = 190  # room for category labels on the left


def chart(plot: Plot) -> str:
    """The plot as an `<svg>` element: vertical bins, or horizontal bars for categories."""
    if plot.kind == "bars":
        return _horizontal(plot)
    return _vertical(plot)


def _fmt(value: float, shares: bool) -> str:
    return f"{value:.0%}" if shares else f"{value:,.0f}"


def _ticks(top: float, shares: bool) -> list[float]:
    """Four or five round gridline values from 0 up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0] if not shares else [0.0, 0.25]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if not shares:
        step = max(1.0, math.ceil(step))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}">' + "".join(body) + "</svg>"
    )


def _vertical(plot: Plot) -> str:
    shares = plot.kind != "counts"
    ticks = _ticks(max((max(s.values, default=0) for s in plot.series), default=0), shares)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(1, len(plot.bins))
    bar = slot * 0.84 / max(1, len(plot.series))

    def y(value: float) -> float:
        return TOP + inner_h - inner_h * value / ticks[-1]

    body = _y_axis(ticks, shares, y)
    for index, label in enumerate(plot.bins):
        x0 = LEFT + index * slot + slot * 0.08
        for number, series in enumerate(plot.series):
            value = series.values[index]
            tip = f"{series.label} · {label}: {_fmt(value, shares)}"
            body.append(
                f'<rect class="s{number}" x="{x0 + number * bar:.1f}" y="{y(value):.1f}" '
                f'width="{max(bar - 1, 0.5):.1f}" height="{max(y(0) - y(value), 0):.1f}">'
                f"<title>{escape(tip)}</title></rect>"
            )
    body += _x_labels(plot.bins, slot)
    body.append(
        f'<text class="axis-title" x="{LEFT + inner_w / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{escape(plot.x_label)}</text>'
    )
    return _svg(WIDTH, HEIGHT, plot.title, body)


def _y_axis(ticks: list[float], shares: bool, y: Callable[[float], float]) -> list[str]:
    body = []
    for tick in ticks:
        top = y(tick)
        body.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{top:.1f}" y2="{top:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{top + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick, shares)}</text>"
        )
    return body


def _x_labels(bins: tuple[str, ...], slot: float) -> list[str]:
    every = max(1, math.ceil(len(bins) / MAX_X_LABELS))
    base = HEIGHT - BOTTOM + 16
    return [
        f'<text class="tick" x="{LEFT + (index + 0.5) * slot:.1f}" y="{base}" '
        f'text-anchor="middle">{escape(label)}</text>'
        for index, label in enumerate(bins)
        if index % every == 0
    ]


def _horizontal(plot: Plot) -> str:
    """Categories down the left, one bar per series, shares along the x axis."""
    group = BAR_ROW * max(1, len(plot.series)) + 10
    height = TOP + group * len(plot.bins) + 30
    inner_w = WIDTH - BAR_LABEL - RIGHT - 40
    top_value = max((max(s.values, default=0) for s in plot.series), default=0) or 1.0
    body = []
    for index, label in enumerate(plot.bins):
        y0 = TOP + index * group
        body.append(
            f'<text class="tick cat" x="{BAR_LABEL - 8}" y="{y0 + group / 2:.1f}" '
            f'text-anchor="end">{escape(_clip(label, 28))}<title>{escape(label)}</title></text>'
        )
        for number, series in enumerate(plot.series):
            value = series.values[index]
            width = inner_w * value / top_value
            y = y0 + number * BAR_ROW + 4
            tip = f"{series.label} · {label}: {value:.1%}"
            body.append(
                f'<rect class="s{number}" x="{BAR_LABEL}" y="{y:.1f}" width="{max(width, 0.5):.1f}" '
                f'height="{BAR_ROW - 6}" rx="2"><title>{escape(tip)}</title></rect>'
                f'<text class="tick" x="{BAR_LABEL + width + 5:.1f}" y="{y + BAR_ROW / 2:.1f}">'
                f"{value:.0%}</text>"
            )
    body.append(
        f'<text class="axis-title" x="{BAR_LABEL + inner_w / 2:.1f}" y="{height - 8}" '
        f'text-anchor="middle">share of rows</text>'
    )
    return _svg(WIDTH, height, plot.title, body)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

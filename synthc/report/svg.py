"""Inline SVG charts for the report, drawn from `Plot` data with no plotting library.

Colours come from CSS classes (`s0`, `s1`, ...) that the page styles, so the charts
follow the page's light or dark scheme. Each bar carries a `<title>`, which browsers
show as a tooltip without any script.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthc.report.model import Plot, StepReport

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


NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 168, 48, 44, 14, 8
DETOUR = 30  # how far below the nodes an edge that skips columns runs


def pipeline(steps: Sequence[StepReport], worst: Mapping[str, str]) -> str:
    """The steps as a left-to-right graph: one column per depth, an edge per `from:`.

    `worst` maps a step to its worst gate status (pass | warn | fail), drawn as a dot.
    """
    depth = _depths(steps)
    columns: dict[int, list[StepReport]] = {}
    for step in steps:
        columns.setdefault(depth[step.name], []).append(step)
    where: dict[str, tuple[float, float]] = {}
    for level, members in columns.items():
        for row, step in enumerate(members):
            where[step.name] = (PAD + level * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + len(columns) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(len(m) for m in columns.values()) * (NODE_H + GAP_Y) - GAP_Y
    edges = [(where[s], where[step.name]) for step in steps for s in step.inputs if s in where]
    near = [(a, b) for a, b in edges if b[0] - a[0] <= NODE_W + GAP_X]
    far = [(a, b) for a, b in edges if b[0] - a[0] > NODE_W + GAP_X]
    body = [_edge(a, b) for a, b in near] + [_detour(a, b) for a, b in far]
    height += DETOUR if far else 0
    body += [_node(step, where[step.name], worst.get(step.name)) for step in steps]
    return (
        f'<svg class="pipeline" viewBox="0 0 {width} {height}" width="{width}" role="img" '
        f'aria-label="pipeline">' + "".join(body) + "</svg>"
    )


def _depths(steps: Sequence[StepReport]) -> dict[str, int]:
    """Longest distance from a source step; steps arrive in plan (topological) order."""
    depth: dict[str, int] = {}
    for step in steps:
        depth[step.name] = max((depth[s] + 1 for s in step.inputs if s in depth), default=0)
    return depth


def _edge(source: tuple[float, float], target: tuple[float, float]) -> str:
    x1, y1 = source[0] + NODE_W, source[1] + NODE_H / 2
    x2, y2 = target[0], target[1] + NODE_H / 2
    bend = (x2 - x1) / 2
    return (
        f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} '
        f'{x2 - bend:.1f},{y2:.1f} {x2 - 3:.1f},{y2:.1f}"/>'
        f'<path class="arrow" d="M{x2 - 7:.1f},{y2 - 4:.1f} L{x2:.1f},{y2:.1f} L{x2 - 7:.1f},{y2 + 4:.1f}"/>'
    )


def _detour(source: tuple[float, float], target: tuple[float, float]) -> str:
    """An edge that skips columns: it leaves under its source and arrives under its target,
    passing below the nodes in between instead of through them."""
    x1, y1 = source[0] + NODE_W / 2, source[1] + NODE_H
    x2, y2 = target[0] + NODE_W / 2, target[1] + NODE_H
    low = max(y1, y2) + DETOUR
    return (
        f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{low:.1f} {x2:.1f},{low:.1f} '
        f'{x2:.1f},{y2 + 3:.1f}"/>'
        f'<path class="arrow" d="M{x2 - 4:.1f},{y2 + 8:.1f} L{x2:.1f},{y2 + 1:.1f} '
        f'L{x2 + 4:.1f},{y2 + 8:.1f}"/>'
    )


def _node(step: StepReport, at: tuple[float, float], gate: str | None) -> str:
    x, y = at
    rows = "not built" if step.rows is None else f"{step.rows:,} rows"
    dot = (
        f'<circle class="dot {gate}" cx="{x + NODE_W - 12}" cy="{y + 12}" r="4.5">'
        f"<title>gates: {gate}</title></circle>"
        if gate
        else ""
    )
    return (
        f'<g class="node {escape(step.status)}"><title>{escape(step.name)} ({escape(step.kind)}): '
        f"{escape(rows)}, {escape(step.status)}</title>"
        f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
        f'<text class="name" x="{x + 12}" y="{y + 20}">{escape(_clip(step.name, 20))}</text>'
        f'<text class="sub" x="{x + 12}" y="{y + 37}">{escape(step.kind)} · {escape(rows)}</text>'
        f"{dot}</g>"
    )

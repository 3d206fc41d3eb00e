"""Server-rendered charts: the geometry of a grouped bar chart and of a line chart, drawn as SVG by
`templates/reports/_chart.html`. Each chart is also given as a table (its `rows`) for screen
readers and CSV; the SVG itself is `aria-hidden`-free but labelled by its caption."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 720
HEIGHT = 240
LEFT = 48
RIGHT = 12
TOP = 14
BOTTOM = 30
# Colours with at least 3:1 contrast on white, told apart by the legend's swatches too.
COLOURS = ("#2459c7", "#0f7b6c", "#b4541a", "#7a3fb0")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float | None]


@dataclass(slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    colour: str
    title: str


@dataclass(slots=True)
class Line:
    points: str
    colour: str
    dots: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass(slots=True)
class Chart:
    kind: str  # "bars" or "lines"
    caption: str
    width: int
    height: int
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    legend: list[tuple[str, str]]
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    baseline: float = 0.0
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT


def _nice_max(value: float) -> float:
    """The top of the axis: four equal steps of a round size (1, 2 or 5 times a power of ten)
    reaching at least `value`."""
    if value <= 0:
        return 4.0
    quarter = value / 4
    exponent = math.floor(math.log10(quarter))
    base = 10.0**exponent
    for step in (1, 2, 5, 10):
        if quarter <= step * base:
            return 4 * step * base
    return 40 * base


def _ticks(top: float) -> list[float]:
    return [top * i / 4 for i in range(5)]


def _x_labels(labels: Sequence[str], slot: float) -> list[tuple[float, str]]:
    """At most about ten labels, evenly spaced, centred on their slot."""
    every = max(1, math.ceil(len(labels) / 10))
    return [(LEFT + slot * (i + 0.5), label) for i, label in enumerate(labels) if i % every == 0]


def _format(value: float, unit: str) -> str:
    if unit == "h":
        return f"{value:g}"
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def _frame(
    kind: str, caption: str, labels: Sequence[str], series: Sequence[Series], unit: str
) -> tuple[Chart, float, float, float]:
    """The chart's axes and legend; with the top of the value axis, the plot's height and the
    width of one label's slot."""
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(values, default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    chart = Chart(
        kind=kind,
        caption=caption,
        width=WIDTH,
        height=HEIGHT,
        x_labels=_x_labels(labels, slot),
        y_ticks=[(TOP + plot_h - plot_h * v / top, _format(v, unit)) for v in _ticks(top)],
        legend=[(COLOURS[i % len(COLOURS)], s.label) for i, s in enumerate(series)],
        baseline=TOP + plot_h,
    )
    return chart, top, plot_h, slot


def bars(caption: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> Chart:
    chart, top, plot_h, slot = _frame("bars", caption, labels, series, unit)
    width = slot * 0.8 / max(1, len(series))
    for i, label in enumerate(labels):
        for j, s in enumerate(series):
            value = s.values[i] or 0
            h = plot_h * value / top
            chart.rects.append(
                Rect(
                    x=round(LEFT + slot * i + slot * 0.1 + width * j, 2),
                    y=round(TOP + plot_h - h, 2),
                    w=round(max(1.0, width - 1), 2),
                    h=round(h, 2),
                    colour=COLOURS[j % len(COLOURS)],
                    title=f"{label} · {s.label}: {_format(value, unit)}",
                )
            )
    return chart


def lines(caption: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> Chart:
    chart, top, plot_h, slot = _frame("lines", caption, labels, series, unit)
    for j, s in enumerate(series):
        colour = COLOURS[j % len(COLOURS)]
        line = Line(points="", colour=colour)
        segments: list[str] = []
        for i, value in enumerate(s.values):
            if value is None:
                continue
            x = round(LEFT + slot * (i + 0.5), 2)
            y = round(TOP + plot_h - plot_h * value / top, 2)
            segments.append(f"{x},{y}")
            line.dots.append((x, y, f"{labels[i]} · {s.label}: {_format(value, unit)}"))
        line.points = " ".join(segments)
        chart.lines.append(line)
    return chart

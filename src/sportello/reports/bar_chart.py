"""Server-rendered SVG charts for the report pages: inline `<svg>` elements (no script, no
external file), scaled to their container by their viewBox. Each chart is a picture of a table
the page also shows, so the numbers reach screen readers and the CSV too: the chart carries a
title and a description saying so.

`bar_chart`: horizontal bars, one group per category, one bar per series, each bar labelled with
its value's text; a missing value (None) draws no bar and the text "—". Same input, same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 640
LABEL_W = 170  # the categories' column
VALUE_W = 110  # room right of the longest bar for its value
BAR_H = 14
BAR_GAP = 3
GROUP_GAP = 14
TOP = 34  # the legend's row
CHAR_W = 6.6
LABEL_CHARS = 24

# Colours with at least 3:1 against white (WCAG's non-text contrast).
PALETTE = ("#2459c7", "#8a5a00", "#2e7d32", "#6a3d9a")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per category


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[float], str],
) -> str:
    """The chart as an inline `<svg>` element (see the module docstring); `chart_id` makes its
    element ids unique in the page."""
    top_value = max((v for s in series for v in s.values if v is not None), default=0.0)
    scale = (WIDTH - LABEL_W - VALUE_W) / top_value if top_value > 0 else 0.0
    group_h = len(series) * (BAR_H + BAR_GAP) - BAR_GAP
    height = TOP + len(categories) * (group_h + GROUP_GAP) + 4
    items: list[str] = []
    # The legend.
    x = float(LABEL_W)
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        items.append(
            f'<rect x="{_n(x)}" y="8" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_n(x + 18)}" y="18">{_esc(s.name)}</text>'
        )
        x += 18 + len(s.name) * CHAR_W + 24
    # The baseline and the bars.
    y = float(TOP)
    items.append(
        f'<line x1="{LABEL_W}" y1="{TOP - 4}" x2="{LABEL_W}" y2="{_n(height - 4)}" '
        'stroke="#5c6675" stroke-width="1"/>'
    )
    for c, category in enumerate(categories):
        shown = _clip(category, LABEL_CHARS)
        tip = f"<title>{_esc(category)}</title>" if shown != category else ""
        items.append(
            f'<text x="{LABEL_W - 8}" y="{_n(y + group_h / 2 + 4)}" text-anchor="end">'
            f"{tip}{_esc(shown)}</text>"
        )
        for i, s in enumerate(series):
            value = s.values[c]
            top = y + i * (BAR_H + BAR_GAP)
            width = 0.0 if value is None else max(value * scale, 1.0 if value > 0 else 0.0)
            if width:
                items.append(
                    f'<rect x="{LABEL_W}" y="{_n(top)}" width="{_n(width)}" height="{BAR_H}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                )
            text = "—" if value is None else value_text(value)
            items.append(
                f'<text x="{_n(LABEL_W + width + 6)}" y="{_n(top + BAR_H - 3)}" font-size="11">'
                f"{_esc(text)}</text>"
            )
        y += group_h + GROUP_GAP
    cid = _esc(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" viewBox="0 0 {WIDTH} {_n(height)}" '
        f'width="{WIDTH}" height="{_n(height)}" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        'font-family="system-ui, sans-serif" font-size="12" fill="#1d2430">'
        f'<title id="{cid}-title">{_esc(title)}</title><desc id="{cid}-desc">{_esc(description)}</desc>'
        + "".join(items)
        + "</svg>"
    )

"""A blueprint's flowchart (`blueprint_svg.render_svg`) with badges on its states: small pills
over the top left corner of a state's box, e.g. how many tickets are in it now and how many of
them are over its time limit.

The boxes are where `render_svg` puts them: `state_boxes` follows the same layout (layers from
`blueprint_svg.layers`, the same box sizes and gaps), so the badges land on their boxes. The
texts are the caller's (already in the reader's language); each badge also carries a longer
`<title>` for a tooltip. Same input, same bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sportello.engine.blueprint_svg import (
    BOX_H,
    BOX_W,
    CHAR_W,
    H_GAP,
    HEADER,
    MARGIN,
    V_GAP,
    layers,
    render_svg,
)
from sportello.engine.blueprints import Blueprint

BADGE_H = 18
BADGE_GAP = 4
# Dark fills for white text (contrast well above 4.5:1).
FILLS = {False: "#1f4e79", True: "#b42318"}


@dataclass(frozen=True, slots=True)
class Badge:
    text: str  # short, e.g. "3 now"
    title: str  # the tooltip, e.g. "3 tickets in this state now"
    alert: bool = False  # drawn in red


def state_boxes(blueprint: Blueprint) -> dict[str, tuple[float, float]]:
    """The top left corner of every state's box, as `render_svg` lays them out."""
    layer = layers(blueprint)
    rows: dict[int, list[str]] = {}
    for state in blueprint.states:
        rows.setdefault(layer[state.key], []).append(state.key)
    widest = max(len(r) for r in rows.values())
    content_w = widest * BOX_W + (widest - 1) * H_GAP
    out: dict[str, tuple[float, float]] = {}
    for row, keys in sorted(rows.items()):
        row_w = len(keys) * BOX_W + (len(keys) - 1) * H_GAP
        left = MARGIN + (content_w - row_w) / 2
        top = MARGIN + HEADER + row * (BOX_H + V_GAP)
        for i, key in enumerate(keys):
            out[key] = (left + i * (BOX_W + H_GAP), top)
    return out


_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _esc(text: str) -> str:
    """Text safe inside an XML element or a double-quoted attribute."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def badge_width(text: str) -> float:
    return len(text) * CHAR_W + 14


def render_badged_svg(blueprint: Blueprint, badges: Mapping[str, Sequence[Badge]]) -> str:
    """The flowchart with `badges` (by state key, drawn left to right) over the boxes."""
    svg = render_svg(blueprint)
    boxes = state_boxes(blueprint)
    items: list[str] = []
    for state in blueprint.states:
        found = badges.get(state.key) or ()
        if not found or state.key not in boxes:
            continue
        x, y = boxes[state.key]
        left = x - 8
        top = y - BADGE_H / 2 - 2
        for badge in found:
            width = badge_width(badge.text)
            items.append(
                f'<g class="badge{" alert" if badge.alert else ""}"><title>{_esc(badge.title)}</title>'
                f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(width)}" height="{BADGE_H}" rx="9" '
                f'fill="{FILLS[badge.alert]}" stroke="#ffffff" stroke-width="1.5"/>'
                f'<text x="{_n(left + width / 2)}" y="{_n(top + 13)}" text-anchor="middle" '
                f'font-size="11" font-weight="bold" fill="#ffffff">{_esc(badge.text)}</text></g>'
            )
            left += width + BADGE_GAP
    if not items:
        return svg
    head, tail = svg.rsplit("</svg>", 1)
    return head + "\n".join(items) + "\n</svg>" + tail

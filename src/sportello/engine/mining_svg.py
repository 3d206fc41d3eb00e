"""A process map: the directly-follows graph of `engine.mining` as standalone SVG text, no
dependencies, the same bytes for the same figures.

Layout, left to right: the activities of the designed model in columns — a column is the
longest path to the activity over the model's steps that go forward in its designed order — and
those outside the model in a last column; within a column, in designed order, top to bottom.
Only activities that some case entered are drawn. A step to the next column is a curve between
the boxes' sides; a step further right is an arc over the boxes, a step back (or within a column)
an arc under them. A line's thickness grows with its count; each carries its count and median
wait ("12 · 3h 20m"). Steps the model allows are solid grey, the others dashed dark red (both at
least 4.5:1 on white), as the legend says. Designed start activities have a start dot, end
activities a double border; the bottleneck an amber border. Every text is XML-escaped and long
names are cut with "…" (the full name is in a `<title>` tooltip).

The words (title, legend, the second line of each box) come from the caller, in the reader's
language: the engine knows no language.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sportello.engine.mining import DesignedModel, Mining

BOX_W = 156
BOX_H = 50
COL_GAP = 120
ROW_GAP = 40
MARGIN = 30
HEADER = 44
CHAR_W = 6.4  # average width of an 11.5px character, for label backgrounds
NAME_CHARS = 22
LEGEND_H = 40
ALLOWED = "#4b5563"  # 7.6:1 on white
DEVIANT = "#b42318"  # 6.5:1 on white
BOTTLENECK = "#8a5a00"

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _esc(text: str) -> str:
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def short_duration(value: timedelta) -> str:
    """A compact duration: 45s, 12m, 3h 20m, 2d 4h (two units at most, rounded down)."""
    seconds = max(0, int(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def columns(model: DesignedModel, drawn: list[str]) -> dict[str, int]:
    """The column of every drawn activity (see the module docstring)."""
    order = {a: i for i, a in enumerate(model.activities)}
    column = {a: 0 for a in model.activities}
    forward = sorted(
        (order[a], order[b]) for a, b in model.edges if a in order and b in order and order[a] < order[b]
    )
    for source, target in forward:  # sorted by source: one pass settles the longest paths
        a, b = model.activities[source], model.activities[target]
        column[b] = max(column[b], column[a] + 1)
    # Close the gaps left by activities nobody entered, keeping the order of the columns.
    used = sorted({column[a] for a in drawn if a in column})
    packed = {c: i for i, c in enumerate(used)}
    outside = len(used)
    return {a: packed[column[a]] if a in column else outside for a in drawn}


@dataclass(frozen=True, slots=True)
class Words:
    """The caller's words, in the reader's language."""

    title: str
    allowed: str  # the legend of designed steps
    deviant: str  # the legend of steps outside the design
    bottleneck: str  # the legend of the bottleneck's border


def render_svg(
    mining: Mining,
    model: DesignedModel,
    *,
    labels: Mapping[str, str],
    details: Mapping[str, str],
    words: Words,
    key: str = "map",
) -> str:
    """The map as a standalone SVG document; `labels`: each activity's name, `details`: the
    second line of its box; `key`: a token for the document's ids (several maps on a page)."""
    drawn = [s.activity for s in mining.activities if s.visits]
    column = columns(model, drawn)
    rows: dict[int, list[str]] = {}
    for activity in drawn:
        rows.setdefault(column[activity], []).append(activity)
    tallest = max((len(r) for r in rows.values()), default=1)
    max_count = max((e.count for e in mining.edges), default=1)
    forward_lifts = sum(1 for e in mining.edges if column[e.target] > column[e.source] + 1)
    top = MARGIN + HEADER + LEGEND_H + (40 + 22 * forward_lifts if forward_lifts else 0)
    pos: dict[str, tuple[float, float]] = {}
    for col, activities in sorted(rows.items()):
        for i, activity in enumerate(activities):
            pos[activity] = (MARGIN + 20 + col * (BOX_W + COL_GAP), top + i * (BOX_H + ROW_GAP))
    ncols = len(rows) or 1
    width: float = MARGIN * 2 + 20 + ncols * BOX_W + (ncols - 1) * COL_GAP
    bottom = top + tallest * BOX_H + (tallest - 1) * ROW_GAP
    ident = _esc(f"pm-{key}")
    items: list[str] = []
    label_items: list[str] = []
    taken: list[tuple[float, float, float, float]] = [(x, y, x + BOX_W, y + BOX_H) for x, y in pos.values()]
    below = 0
    above = 0
    max_y: float = bottom

    def label(x: float, y: float, text: str, colour: str, tip: str) -> None:
        w = len(text) * CHAR_W + 10
        for shift in (0, 16, -16, 32, -32, 48, -48):
            box = (x - w / 2, y + shift - 9, x + w / 2, y + shift + 7)
            if not any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in taken):
                y += shift
                break
        taken.append((x - w / 2, y - 9, x + w / 2, y + 7))
        label_items.append(
            f'<g class="edge-label"><title>{_esc(tip)}</title>'
            f'<rect x="{_n(x - w / 2)}" y="{_n(y - 9)}" width="{_n(w)}" height="16" rx="3" fill="#ffffff" '
            f'fill-opacity="0.95" stroke="{colour}" stroke-width="0.75"/>'
            f'<text x="{_n(x)}" y="{_n(y + 3.5)}" text-anchor="middle" fill="{colour}">'
            f"{_esc(text)}</text></g>"
        )

    outs: dict[str, list[int]] = {}
    ins: dict[str, list[int]] = {}
    for i, e in enumerate(mining.edges):
        if column[e.target] == column[e.source] + 1:
            outs.setdefault(e.source, []).append(i)
            ins.setdefault(e.target, []).append(i)
    for i, e in enumerate(mining.edges):
        sx, sy = pos[e.source]
        tx, ty = pos[e.target]
        colour = ALLOWED if e.allowed else DEVIANT
        stroke = 1.25 + 6.0 * e.count / max_count
        text = f"{e.count} · {short_duration(e.median_wait)}"
        tip = f"{labels.get(e.source, e.source)} → {labels.get(e.target, e.target)}: {text}"
        if column[e.target] == column[e.source] + 1:
            o, n = outs[e.source], ins[e.target]
            y1 = sy + BOX_H * (o.index(i) + 1) / (len(o) + 1)
            y2 = ty + BOX_H * (n.index(i) + 1) / (len(n) + 1)
            x1, x2 = sx + BOX_W, tx - 3
            mid = (x1 + x2) / 2
            path = f"M{_n(x1)},{_n(y1)} C{_n(mid)},{_n(y1)} {_n(mid)},{_n(y2)} {_n(x2)},{_n(y2)}"
            lx, ly = mid, (y1 + y2) / 2
        elif e.source == e.target:
            x1, x2 = sx + BOX_W - 40, sx + BOX_W - 12
            path = (
                f"M{_n(x1)},{_n(sy)} C{_n(x1 - 6)},{_n(sy - 40)} "
                f"{_n(x2 + 6)},{_n(sy - 40)} {_n(x2)},{_n(sy - 3)}"
            )
            lx, ly = x2 + 20, sy - 30
        elif column[e.target] > column[e.source]:
            lift = 40 + 22 * above
            above += 1
            x1, x2 = sx + BOX_W / 2 + 14, tx + BOX_W / 2 - 14
            y = float(top - lift)
            path = f"M{_n(x1)},{_n(sy)} C{_n(x1)},{_n(y)} {_n(x2)},{_n(y)} {_n(x2)},{_n(ty - 3)}"
            lx, ly = (x1 + x2) / 2, y + (min(sy, ty) - y) * 0.25
        else:
            drop = 44 + 24 * below
            below += 1
            x1, x2 = sx + BOX_W / 2 - 14, tx + BOX_W / 2 + 14
            y = float(bottom + drop)
            path = (
                f"M{_n(x1)},{_n(sy + BOX_H)} C{_n(x1)},{_n(y)} {_n(x2)},{_n(y)} {_n(x2)},{_n(ty + BOX_H + 3)}"
            )
            lx, ly = (x1 + x2) / 2, y - (y - max(sy, ty) - BOX_H) * 0.25
            max_y = max(max_y, y)
        dash = "" if e.allowed else ' stroke-dasharray="7 4"'
        marker = f"{ident}-{'ok' if e.allowed else 'off'}"
        items.append(
            f'<path class="edge{"" if e.allowed else " deviant"}" d="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="{_n(stroke)}" stroke-opacity="0.85"{dash} marker-end="url(#{marker})"/>'
        )
        label(lx, ly, text, colour, tip)

    ends = model.ends
    for activity in drawn:
        x, top_y = pos[activity]
        y = top_y
        name = labels.get(activity, activity)
        slow = mining.bottleneck is not None and mining.bottleneck.activity == activity
        fill, edge, border = ("#fff4d6", BOTTLENECK, "3") if slow else ("#eef4fb", "#2b5d8a", "1.5")
        parts = [
            f'<g class="activity{" bottleneck" if slow else ""}"><title>{_esc(name)}</title>',
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{BOX_W}" height="{BOX_H}" rx="9" fill="{fill}" '
            f'stroke="{edge}" stroke-width="{border}"/>',
        ]
        if activity in ends:
            parts.append(
                f'<rect x="{_n(x + 4)}" y="{_n(y + 4)}" width="{BOX_W - 8}" height="{BOX_H - 8}" rx="6" '
                f'fill="none" stroke="#2b5d8a" stroke-width="1.25"/>'
            )
        cx = x + BOX_W / 2
        parts.append(
            f'<text x="{_n(cx)}" y="{_n(y + 21)}" text-anchor="middle" font-weight="bold">'
            f"{_esc(_clip(name, NAME_CHARS))}</text>"
        )
        parts.append(
            f'<text x="{_n(cx)}" y="{_n(y + 38)}" text-anchor="middle" font-size="11" fill="#374151">'
            f"{_esc(_clip(details.get(activity, ''), NAME_CHARS + 6))}</text>"
        )
        if activity in model.starts:
            my = y + BOX_H / 2
            parts.append(f'<circle cx="{_n(x - 16)}" cy="{_n(my)}" r="5" fill="#2b5d8a"/>')
            parts.append(
                f'<path d="M{_n(x - 11)},{_n(my)} L{_n(x - 3)},{_n(my)}" stroke="#2b5d8a" stroke-width="1.5" '
                f'marker-end="url(#{ident}-ok)"/>'
            )
        parts.append("</g>")
        items.append("".join(parts))

    height = max_y + MARGIN + 10
    lx = MARGIN
    ly = MARGIN + HEADER + 6
    legend = [
        '<g class="legend">',
        f'<path d="M{lx},{ly} h34" stroke="{ALLOWED}" stroke-width="3"/>',
        f'<text x="{lx + 42}" y="{ly + 4}">{_esc(words.allowed)}</text>',
    ]
    lx2 = lx + 42 + len(words.allowed) * CHAR_W + 28
    legend += [
        f'<path d="M{_n(lx2)},{ly} h34" stroke="{DEVIANT}" stroke-width="3" stroke-dasharray="7 4"/>',
        f'<text x="{_n(lx2 + 42)}" y="{ly + 4}" fill="{DEVIANT}">{_esc(words.deviant)}</text>',
    ]
    lx3 = lx2 + 42 + len(words.deviant) * CHAR_W + 28
    legend += [
        f'<rect x="{_n(lx3)}" y="{ly - 8}" width="30" height="16" rx="4" fill="#fff4d6" '
        f'stroke="{BOTTLENECK}" stroke-width="3"/>',
        f'<text x="{_n(lx3 + 40)}" y="{ly + 4}">{_esc(words.bottleneck)}</text>',
        "</g>",
    ]
    width = max(width, lx3 + 40 + len(words.bottleneck) * CHAR_W + MARGIN)
    defs = "".join(
        f'<marker id="{ident}-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for name, colour in (("ok", ALLOWED), ("off", DEVIANT))
    )
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-labelledby="{ident}-title" '
        'font-family="system-ui, sans-serif" font-size="11.5">\n'
        f'<title id="{ident}-title">{_esc(words.title)}</title>\n'
        f"<defs>{defs}</defs>\n"
        '<rect width="100%" height="100%" fill="#ffffff"/>\n'
        f'<text x="{MARGIN}" y="{MARGIN + 8}" font-size="16" font-weight="bold">'
        f"{_esc(_clip(words.title, 90))}</text>\n" + "".join(legend) + "\n"
    )
    return head + "\n".join(items) + "\n" + "\n".join(label_items) + "\n</svg>\n"

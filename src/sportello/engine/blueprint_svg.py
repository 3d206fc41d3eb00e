"""A blueprint as a flowchart: standalone SVG text, no dependencies, the same bytes for the same
blueprint.

Layout: states are rounded boxes in layers from top to bottom. Layers come from the longest
path from the initial states over the blueprint's own transitions (edges that close a cycle,
found by a depth-first search from the initial states in definition order, are left out of the
layering); a state reached only by common transitions goes in the lowest layer (below the
initial states). Within a layer, states keep their definition order. Transitions to the next
layer are straight arrows; transitions back up or down past a layer are curves on the right of
the boxes, those within a layer arcs over them; a transition to its own state is a loop over its
box's top right corner.
Each arrow carries the transition's name ("(auto)" for automatic ones). Common transitions
("*") are listed in a box at the side. Initial states have a start dot on their left, terminal
states a double border. Every text from the definition is XML-escaped, characters XML cannot
hold become U+FFFD, and long names are cut with "…" (the full name is in a `<title>` tooltip).
"""

from __future__ import annotations

import html
import re

from sportello.engine.blueprints import Blueprint, State, Transition
from sportello.engine.rules import format_duration

BOX_W = 190
BOX_H = 52
H_GAP = 70
V_GAP = 96
MARGIN = 40
HEADER = 40
CHAR_W = 6.6  # average width of a 12px character, for label backgrounds and extents
LINE_H = 18
NAME_CHARS = 26
LABEL_CHARS = 32
SIDE_W = 280

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _esc(text: str) -> str:
    """Text safe inside an XML element or a double-quoted attribute."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def layers(bp: Blueprint) -> dict[str, int]:
    """The layer of every state (0 at the top), in definition order of the states."""
    keys = [s.key for s in bp.states]
    known = set(keys)
    edges: list[tuple[str, str]] = []
    for t in bp.transitions:
        for source in t.from_states or ():
            if source != t.to and source in known and t.to in known and (source, t.to) not in edges:
                edges.append((source, t.to))
    adjacent: dict[str, list[str]] = {k: [] for k in keys}
    for source, target in edges:
        adjacent[source].append(target)

    # Depth-first from the initial states (then any state left), iteratively: edges to a state
    # still on the path close a cycle and are left out of the layering.
    colour: dict[str, int] = {}  # 1 on the path, 2 done
    back: set[tuple[str, str]] = set()
    roots = [k for k in bp.initial if k in known] + keys
    for root in roots:
        if root in colour:
            continue
        colour[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack[-1]
            if index < len(adjacent[node]):
                stack[-1] = (node, index + 1)
                nxt = adjacent[node][index]
                state = colour.get(nxt)
                if state == 1:
                    back.add((node, nxt))
                elif state is None:
                    colour[nxt] = 1
                    stack.append((nxt, 0))
            else:
                colour[node] = 2
                stack.pop()

    forward = [e for e in edges if e not in back]
    layer = dict.fromkeys(keys, 0)
    for _ in keys:  # longest path: at most one relaxation round per state
        changed = False
        for source, target in forward:
            if layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    has_incoming = {target for _, target in forward}
    common_targets = {t.to for t in bp.transitions if t.common}
    lonely = [k for k in keys if k not in has_incoming and k not in bp.initial and k in common_targets]
    if lonely:
        bottom = max(1, max((layer[k] for k in keys if k not in lonely), default=0))
        for k in lonely:
            layer[k] = bottom
    return layer


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class _Canvas:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.max_x = 0.0
        self.max_y = 0.0
        self.taken: list[Box] = []  # state boxes and labels already placed

    def extend(self, x: float, y: float) -> None:
        self.max_x = max(self.max_x, x)
        self.max_y = max(self.max_y, y)

    def label(self, x: float, y: float, text: str, *, anchor: str = "middle", title: str = "") -> None:
        """A text with a white background, centred on (x, y) or starting there; moved up or
        down by whole lines, nearest first, when it would cover a box or an earlier label."""
        width = len(text) * CHAR_W + 8
        left = x - width / 2 if anchor == "middle" else x - 4
        for shift in (0, 18, -18, 36, -36, 54, -54, 72, -72):
            box = (left, y + shift - 9, left + width, y + shift + 7)
            if not any(_overlaps(box, other) for other in self.taken):
                y += shift
                break
        self.taken.append((left, y - 9, left + width, y + 7))
        tip = f"<title>{_esc(title)}</title>" if title and title != text else ""
        self.items.append(
            f'<g class="label">{tip}<rect x="{_n(left)}" y="{_n(y - 9)}" width="{_n(width)}" height="16" '
            f'rx="3" fill="#ffffff" fill-opacity="0.9"/>'
            f'<text x="{_n(x)}" y="{_n(y + 4)}" text-anchor="{anchor}">{_esc(text)}</text></g>'
        )
        self.extend(left + width, y + 9)


def _edge_text(t: Transition) -> str:
    return _clip(t.name, LABEL_CHARS) + (" (auto)" if t.auto else "")


def render_svg(blueprint: Blueprint, *, current: str | None = None) -> str:
    """The blueprint as a standalone SVG document (see the module docstring); `current`: the key
    of a state to highlight (a ticket's state), drawn with a thicker amber border."""
    bp = blueprint
    layer = layers(bp)
    rows: dict[int, list[State]] = {}
    for state in bp.states:
        rows.setdefault(layer[state.key], []).append(state)
    widest = max(len(r) for r in rows.values())
    content_w = widest * BOX_W + (widest - 1) * H_GAP
    pos: dict[str, tuple[float, float]] = {}
    for row, states in sorted(rows.items()):
        row_w = len(states) * BOX_W + (len(states) - 1) * H_GAP
        left = MARGIN + (content_w - row_w) / 2
        top = MARGIN + HEADER + row * (BOX_H + V_GAP)
        for i, state in enumerate(states):
            pos[state.key] = (left + i * (BOX_W + H_GAP), top)

    canvas = _Canvas()
    marker = _esc(f"bp-arrow-{bp.key}")
    arrow = f'marker-end="url(#{marker})"'
    canvas.extend(MARGIN + content_w, MARGIN)
    canvas.extend(MARGIN + len(_clip(bp.name, 80)) * CHAR_W * 1.4, MARGIN)

    # Arrows first, so that boxes and labels lie over them.
    edges: list[tuple[str, Transition]] = [
        (source, t)
        for t in bp.transitions
        for source in (t.from_states or ())
        if source in pos and t.to in pos
    ]
    outgoing: dict[str, list[int]] = {}
    incoming: dict[str, list[int]] = {}
    for i, (source, t) in enumerate(edges):
        if layer[t.to] == layer[source] + 1:
            outgoing.setdefault(source, []).append(i)
            incoming.setdefault(t.to, []).append(i)
    curves = 0
    labels: list[tuple[float, float, Transition]] = []
    loops: list[tuple[float, float, Transition]] = []
    for i, (source, t) in enumerate(edges):
        sx, sy = pos[source]
        tx, ty = pos[t.to]
        if source == t.to:
            # A loop over the top right corner of the box.
            x1, x2 = sx + BOX_W - 46, sx + BOX_W - 14
            path = (
                f"M{_n(x1)},{_n(sy)} C{_n(x1 - 6)},{_n(sy - 44)} "
                f"{_n(x2 + 6)},{_n(sy - 44)} {_n(x2)},{_n(sy - 2)}"
            )
            loops.append((x2 + 12, sy - 30, t))
        elif layer[t.to] == layer[source] + 1:
            outs, ins = outgoing[source], incoming[t.to]
            x1 = sx + BOX_W * (outs.index(i) + 1) / (len(outs) + 1)
            x2 = tx + BOX_W * (ins.index(i) + 1) / (len(ins) + 1)
            y1, y2 = sy + BOX_H, ty - 2
            path = f"M{_n(x1)},{_n(y1)} L{_n(x2)},{_n(y2)}"
            labels.append(((x1 + x2) / 2, (y1 + y2) / 2, t))
        elif layer[t.to] == layer[source]:
            # Within a layer: an arc over the boxes.
            x1, x2 = sx + BOX_W / 2 + 12, tx + BOX_W / 2 - 12
            lift = min(30 + abs(x2 - x1) * 0.1 + 10 * curves, V_GAP - 20)
            y = sy
            path = f"M{_n(x1)},{_n(y)} C{_n(x1)},{_n(y - lift)} {_n(x2)},{_n(y - lift)} {_n(x2)},{_n(y - 2)}"
            labels.append(((x1 + x2) / 2, y - lift * 0.75, t))
            curves += 1
        else:
            # Back up, or down past other layers: a curve on the right of both boxes.
            x1, y1 = sx + BOX_W, sy + BOX_H / 2 + 8
            x2, y2 = tx + BOX_W + 2, ty + BOX_H / 2 - 8
            bend = max(x1, x2) + 60 + 24 * curves
            path = f"M{_n(x1)},{_n(y1)} C{_n(bend)},{_n(y1)} {_n(bend)},{_n(y2)} {_n(x2)},{_n(y2)}"
            # The point of the cubic at t = 1/2.
            labels.append(((x1 + 3 * bend + 3 * bend + x2) / 8, (y1 + 3 * y1 + 3 * y2 + y2) / 8, t))
            canvas.extend(bend, max(y1, y2))
            curves += 1
        dashed = ' stroke-dasharray="6 4"' if t.auto else ""
        canvas.items.append(
            f'<path class="transition" d="{path}" fill="none" stroke="#555555" stroke-width="1.5"'
            f"{dashed} {arrow}/>"
        )

    for state in bp.states:
        x, y = pos[state.key]
        detail = state.status + (
            f" · limit {format_duration(state.time_limit)}" if state.time_limit is not None else ""
        )
        here = state.key == current
        parts = [
            f'<g class="state{" terminal" if state.terminal else ""}{" current" if here else ""}">',
            f"<title>{_esc(state.name)}</title>",
        ]
        fill, stroke, border = ("#fff1c2", "#8a5a00", "3.5") if here else ("#eef4fb", "#2b5d8a", "1.5")
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{BOX_W}" height="{BOX_H}" rx="10" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{border}"/>'
        )
        if state.terminal:
            parts.append(
                f'<rect x="{_n(x + 4)}" y="{_n(y + 4)}" width="{BOX_W - 8}" height="{BOX_H - 8}" rx="7" '
                f'fill="none" stroke="#2b5d8a" stroke-width="1.5"/>'
            )
        cx = x + BOX_W / 2
        parts.append(
            f'<text x="{_n(cx)}" y="{_n(y + 22)}" text-anchor="middle" font-weight="bold">'
            f"{_esc(_clip(state.name, NAME_CHARS))}</text>"
        )
        parts.append(
            f'<text x="{_n(cx)}" y="{_n(y + 40)}" text-anchor="middle" font-size="11" fill="#555555">'
            f"{_esc(_clip(detail, NAME_CHARS + 6))}</text>"
        )
        if state.key in bp.initial:
            my = y + BOX_H / 2
            parts.append(f'<circle class="start" cx="{_n(x - 26)}" cy="{_n(my)}" r="6" fill="#2b5d8a"/>')
            parts.append(
                f'<path d="M{_n(x - 20)},{_n(my)} L{_n(x - 2)},{_n(my)}" stroke="#2b5d8a" '
                f'stroke-width="1.5" {arrow}/>'
            )
        parts.append("</g>")
        canvas.items.append("".join(parts))
        canvas.extend(x + BOX_W, y + BOX_H)
        canvas.taken.append((x, y, x + BOX_W, y + BOX_H))

    for x, y, t in labels:
        canvas.label(x, y, _edge_text(t), title=t.name)
    for x, y, t in loops:
        canvas.label(x, y, _edge_text(t), anchor="start", title=t.name)

    common = [t for t in bp.transitions if t.common]
    if common:
        names = {s.key: s.name for s in bp.states}
        left = canvas.max_x + 40
        top = MARGIN + HEADER
        box_h = 34 + LINE_H * len(common)
        lines = [
            _clip(f"{t.name} → {names.get(t.to, t.to)}", 40) + (" (auto)" if t.auto else "") for t in common
        ]
        box_w = max(SIDE_W, max(len(line) for line in lines) * CHAR_W + 24)
        parts = [
            '<g class="common">',
            f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(box_w)}" height="{box_h}" rx="6" '
            f'fill="#fbf8ee" stroke="#8a6d2b" stroke-width="1"/>',
            f'<text x="{_n(left + 12)}" y="{_n(top + 20)}" font-weight="bold">From any state</text>',
        ]
        for i, (t, line) in enumerate(zip(common, lines, strict=True)):
            parts.append(
                f'<text x="{_n(left + 12)}" y="{_n(top + 20 + LINE_H * (i + 1))}">'
                f"<title>{_esc(t.name)}</title>{_esc(line)}</text>"
            )
        parts.append("</g>")
        canvas.items.append("".join(parts))
        canvas.extend(left + box_w, top + box_h)

    width = canvas.max_x + MARGIN
    height = canvas.max_y + MARGIN
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-labelledby="{marker}-title" '
        'font-family="system-ui, sans-serif" font-size="12">\n'
        f'<title id="{marker}-title">{_esc(bp.name)}</title>\n'
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555555"/>'
        "</marker></defs>\n"
        f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
        f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="16" font-weight="bold">'
        f"{_esc(_clip(bp.name, 80))}</text>\n"
    )
    return head + "\n".join(canvas.items) + "\n</svg>\n"

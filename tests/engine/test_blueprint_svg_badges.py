"""The flowchart with badges on its states (the Blueprint dashboard's): the badges land on the
boxes `render_svg` draws, carry the caller's texts escaped, and change nothing else. Pure
Python: no database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings

from sportello.engine.blueprint_svg import BOX_H, BOX_W, render_svg
from sportello.engine.blueprint_svg_badges import Badge, render_badged_svg, state_boxes
from sportello.engine.blueprints import parse_blueprint

from .test_blueprints import RETURNS, SPECS, blueprint_data

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> ET.Element:
    return ET.fromstring(text.split("\n", 1)[1])  # noqa: S314 - our own output


def drawn_boxes(text: str) -> list[tuple[float, float]]:
    """The top left corner of each state's box as drawn, in the order drawn (the states')."""
    root = parse_svg(text)
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class", "").startswith("state"):
            rect = g.find(f"{SVG}rect")
            assert rect is not None
            out.append((float(rect.get("x", "")), float(rect.get("y", ""))))
    return out


def test_state_boxes_are_where_the_flowchart_draws_them() -> None:
    bp = parse_blueprint(RETURNS, specs=SPECS)
    boxes = state_boxes(bp)
    assert len({y for _, y in boxes.values()}) == 4  # four layers, two states side by side in one
    assert [boxes[s.key] for s in bp.states] == drawn_boxes(render_svg(bp))


@settings(max_examples=40)
@given(blueprint_data())
def test_state_boxes_follow_any_blueprints_layout(data: dict[str, Any]) -> None:
    bp = parse_blueprint(data, specs=SPECS)
    boxes = state_boxes(bp)
    assert [boxes[s.key] for s in bp.states] == drawn_boxes(render_svg(bp))


def test_badges_sit_on_the_top_left_corner_of_their_state_with_the_callers_texts() -> None:
    bp = parse_blueprint(RETURNS, specs=SPECS)
    badges = {
        "received": [Badge("3 now", "3 tickets in “Received” now")],
        "awaiting-item": [Badge("1 now", "1 ticket <now>"), Badge("1 over", "1 over & late", alert=True)],
    }
    text = render_badged_svg(bp, badges)
    root = parse_svg(text)
    found = [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("badge")]
    assert [(g.get("class"), g.findtext(f"{SVG}title"), g.findtext(f"{SVG}text")) for g in found] == [
        ("badge", "3 tickets in “Received” now", "3 now"),
        ("badge", "1 ticket <now>", "1 now"),
        ("badge alert", "1 over & late", "1 over"),
    ]
    boxes = state_boxes(bp)
    for g, key in zip(found, ["received", "awaiting-item", "awaiting-item"], strict=True):
        rect = g.find(f"{SVG}rect")
        assert rect is not None
        x, y = float(rect.get("x", "")), float(rect.get("y", ""))
        left, top = boxes[key]
        assert left - 10 <= x < left + BOX_W / 2  # over the left half of the box's top
        assert top - 14 <= y < top < y + 18 < top + BOX_H
    # the second badge of a state follows the first, without overlapping
    first, second = (g.find(f"{SVG}rect") for g in found[1:])
    assert first is not None
    assert second is not None
    assert float(second.get("x", "")) > float(first.get("x", "")) + float(first.get("width", ""))
    # red for an alert, and the rest of the chart is the flowchart unchanged
    assert re.search(r'<g class="badge alert">.*?fill="#b42318"', text)
    assert text.startswith(render_svg(bp).rsplit("</svg>", 1)[0])
    assert text == render_badged_svg(bp, badges)


def test_no_badges_is_the_plain_flowchart() -> None:
    bp = parse_blueprint(RETURNS, specs=SPECS)
    assert render_badged_svg(bp, {}) == render_svg(bp)
    assert render_badged_svg(bp, {"nowhere": [Badge("1", "1")]}) == render_svg(bp)

"""The reports' bar chart: an inline SVG with a title and a description, one bar per value,
scaled to the largest, each labelled with its text; a missing value has no bar."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sportello.reports.bar_chart import LABEL_W, VALUE_W, WIDTH, Series, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def chart(**overrides: object) -> str:
    args: dict[str, object] = {
        "chart_id": "c1",
        "title": "Time in each state",
        "description": "The numbers are in the table below.",
        "categories": ["Received", "Awaiting <the> item"],
        "series": [Series("Calendar", [2.0, 4.0]), Series("Business", [1.0, None])],
        "value_text": lambda v: f"{v:.1f} h",
    }
    return bar_chart(**(args | overrides))  # type: ignore[arg-type]


def test_bars_scale_to_the_largest_value_and_carry_their_text() -> None:
    root = ET.fromstring(chart())  # noqa: S314 - our own output
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.findtext(f"{SVG}title") == "Time in each state"
    assert root.findtext(f"{SVG}desc") == "The numbers are in the table below."
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("height") == "14"]
    widths = [float(r.get("width", "")) for r in bars]
    full = WIDTH - LABEL_W - VALUE_W
    assert widths == [full / 2, full / 4, full]  # no bar for the missing value
    texts = [t.text for t in root.iter(f"{SVG}text") if t.get("font-size") == "11"]
    assert texts == ["2.0 h", "1.0 h", "4.0 h", "—"]
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels == ["Received", "Awaiting <the> item"]
    assert chart() == chart()


def test_no_values_draws_no_bars() -> None:
    root = ET.fromstring(chart(series=[Series("Calendar", [None, None])]))  # noqa: S314 - our own output
    assert [r for r in root.iter(f"{SVG}rect") if r.get("height") == "14"] == []

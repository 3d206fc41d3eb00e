"""Process mining: the directly-follows graph, variants, conformance with its deviation kinds, the
bottleneck, and the process map's SVG. Pure Python: no database."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.mining import (
    Case,
    DesignedModel,
    DeviationKind,
    Event,
    median,
    mine,
)
from sportello.engine.mining_svg import Words, columns, render_svg, short_duration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
STATUSES = ("new", "open", "pending", "solved", "closed")
STATUS_FLOW = DesignedModel(
    activities=STATUSES,
    edges=frozenset(
        {
            ("new", "open"),
            ("new", "pending"),
            ("new", "solved"),
            ("open", "pending"),
            ("pending", "open"),
            ("open", "solved"),
            ("pending", "solved"),
            ("solved", "closed"),
        }
    ),
    starts=frozenset({"new"}),
    ends=frozenset({"closed"}),
    resolved=frozenset({"solved", "closed"}),
)
WORDS = Words(title="Support", allowed="Designed step", deviant="Not designed", bottleneck="Bottleneck")


def case(number: int, *steps: tuple[str, float], levels: tuple[int, ...] = ()) -> Case:
    """A case from (activity, hours after T0) pairs."""
    return Case(number, tuple(Event(a, T0 + h * H, "Bruno") for a, h in steps), levels)


CASES = [
    # 1: the happy path, new 1h, open 3h, solved 24h, closed.
    case(1, ("new", 0), ("open", 1), ("solved", 4), ("closed", 28)),
    # 2: the same path, new 3h, open 1h, solved 24h.
    case(2, ("new", 0), ("open", 3), ("solved", 4), ("closed", 28)),
    # 3: reopened after it was solved.
    case(3, ("new", 0), ("open", 2), ("solved", 3), ("open", 5), ("solved", 6)),
    # 4: new straight to closed (skipped solving), and bounced from tier 2 back to tier 1.
    case(4, ("new", 0), ("closed", 5), levels=(0, 1, 0)),
    # 5: started in pending (skipped new), still running.
    case(5, ("pending", 0), ("open", 10)),
    # 6: closed then pending: the model has no such step and pending is not after closed.
    case(6, ("new", 0), ("open", 1), ("pending", 2)),
]


def test_directly_follows_graph_counts_steps_and_median_waits() -> None:
    m = mine(CASES, STATUS_FLOW)
    edges = {(e.source, e.target): (e.count, e.median_wait, e.allowed) for e in m.edges}
    assert edges == {
        ("new", "open"): (4, 1.5 * H, True),  # waits 1, 3, 2, 1
        ("new", "closed"): (1, 5 * H, False),
        ("open", "pending"): (1, H, True),
        ("open", "solved"): (4, H, True),  # 3, 1, 1, 1
        ("pending", "open"): (1, 10 * H, True),
        ("solved", "closed"): (2, 24 * H, True),
        ("solved", "open"): (1, 2 * H, False),
    }
    # Edges are listed by source, then target, in the designed order.
    assert [(e.source, e.target) for e in m.edges][:2] == [("new", "open"), ("new", "closed")]
    assert (m.cases, m.events, m.completed) == (6, 20, 3)
    by = {s.activity: s for s in m.activities}
    assert (by["new"].visits, by["new"].starts, by["new"].ends) == (5, 5, 0)
    assert (by["solved"].visits, by["solved"].cases, by["solved"].ends) == (4, 3, 1)
    assert (by["pending"].starts, by["pending"].ends) == (1, 1)


def test_variants_with_their_share_most_frequent_first() -> None:
    m = mine(CASES, STATUS_FLOW)
    assert m.variants[0].activities == ("new", "open", "solved", "closed")
    assert (m.variants[0].count, m.variants[0].share) == (2, 2 / 6)
    assert len(m.variants) == 5
    # Ties are ordered by the designed order of their activities.
    assert [v.activities for v in m.variants[1:3]] == [
        ("new", "open", "pending"),
        ("new", "open", "solved", "open", "solved"),
    ]


def test_conformance_names_each_deviation_kind_and_its_cases() -> None:
    m = mine(CASES, STATUS_FLOW)
    assert (m.conforming, m.conforming_share) == (3, 0.5)  # 1, 2 and 6 (6 is still running)
    assert m.deviation(DeviationKind.REOPENED).cases == (3,)
    assert m.deviation(DeviationKind.REOPENED).steps == (("solved", "open"),)
    assert m.deviation(DeviationKind.BOUNCED).cases == (4,)
    skipped = m.deviation(DeviationKind.SKIPPED)
    assert (skipped.cases, skipped.count, skipped.share) == ((4, 5), 2, 2 / 6)
    assert skipped.steps == (("", "pending"), ("new", "closed"))  # "": the case's start
    assert m.deviation(DeviationKind.OTHER).count == 0


def test_other_deviation_is_a_step_the_model_cannot_reach() -> None:
    m = mine([case(1, ("new", 0), ("open", 1), ("archived", 4))], STATUS_FLOW)
    assert m.deviation(DeviationKind.OTHER).steps == (("open", "archived"),)
    # An activity outside the model comes after the designed ones.
    assert [s.activity for s in m.activities] == [*STATUSES, "archived"]


def test_bottleneck_is_the_unresolved_activity_with_the_longest_median_time() -> None:
    m = mine(CASES, STATUS_FLOW)
    # new: 1, 3, 2, 5, 1 → 2h; open: 3, 1, 1, 1 → 1h; pending: 10h (once, after the restart);
    # solved is resolved and never the bottleneck, however long it waits to close.
    assert m.bottleneck is not None
    assert (m.bottleneck.activity, m.bottleneck.median_time, m.bottleneck.total_time) == (
        "pending",
        10 * H,
        10 * H,
    )
    by = {s.activity: s for s in m.activities}
    assert (by["new"].median_time, by["new"].total_time) == (2 * H, 12 * H)


def test_no_cases() -> None:
    m = mine([], STATUS_FLOW)
    assert (m.cases, m.conforming_share, m.bottleneck, m.edges, m.variants) == (0, None, None, (), ())


def test_median() -> None:
    assert median([]) is None
    assert median([H, 3 * H]) == 2 * H
    assert median([H, 5 * H, 2 * H]) == 2 * H


# -- properties --------------------------------------------------------------------------------------

traces = st.lists(
    st.lists(st.tuples(st.sampled_from([*STATUSES, "x"]), st.integers(0, 500)), max_size=8),
    max_size=12,
)


def _cases(raw: list[list[tuple[str, int]]]) -> list[Case]:
    out = []
    for i, steps in enumerate(raw):
        at = T0
        events = []
        for activity, minutes in steps:
            at += timedelta(minutes=minutes)
            events.append(Event(activity, at))
        out.append(Case(i, tuple(events)))
    return out


@given(traces)
def test_edge_counts_sum_to_the_steps_of_every_case(raw: list[list[tuple[str, int]]]) -> None:
    cases = _cases(raw)
    m = mine(cases, STATUS_FLOW)
    assert sum(e.count for e in m.edges) == sum(max(len(c.events) - 1, 0) for c in cases)
    assert sum(v.count for v in m.variants) == len(cases)
    if cases:
        assert abs(sum(v.share for v in m.variants) - 1) < 1e-9
    # Each case conforms or deviates, and a deviating case shows at least one kind.
    deviating = set().union(*(set(d.cases) for d in m.deviations))
    assert m.conforming + len(deviating) == len(cases)
    # Starts and ends: one per non-empty case.
    non_empty = sum(1 for c in cases if c.events)
    assert sum(s.starts for s in m.activities) == sum(s.ends for s in m.activities) == non_empty


@given(traces)
def test_a_case_on_designed_steps_only_conforms(raw: list[list[tuple[str, int]]]) -> None:
    cases = _cases(raw)
    m = mine(cases, STATUS_FLOW)
    for c in cases:
        trace = c.trace
        designed = not trace or (
            trace[0] in STATUS_FLOW.starts and all(STATUS_FLOW.allows(a, b) for a, b in pairwise(trace))
        )
        deviates = any(c.id in d.cases for d in m.deviations)
        assert designed != deviates


# -- the map --------------------------------------------------------------------------------------


def render() -> str:
    m = mine(CASES, STATUS_FLOW)
    details = {s.activity: f"{s.cases} tickets" for s in m.activities}
    labels = {"new": "New", "open": "Open <b>", "pending": "Pending", "solved": "Solved", "closed": "Closed"}
    return render_svg(m, STATUS_FLOW, labels=labels, details=details, words=WORDS, key="t")


def test_map_is_accessible_deterministic_svg() -> None:
    svg = render()
    assert svg == render()
    root = ET.fromstring(svg.encode("utf-8"))  # noqa: S314 - our own output
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "pm-t-title"
    assert root.find(f"{ns}title").text == "Support"  # type: ignore[union-attr]
    assert "Open &lt;b&gt;" in svg
    edges = root.findall(f".//{ns}path[@class='edge']") + root.findall(f".//{ns}path[@class='edge deviant']")
    assert len(edges) == 7
    deviant = root.findall(f".//{ns}path[@class='edge deviant']")
    assert len(deviant) == 2
    assert all(p.get("stroke-dasharray") == "7 4" for p in deviant)
    labels = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
    assert "4 · 1h 30m" in labels
    assert "Not designed" in labels
    # The bottleneck has its own class and border.
    assert len(root.findall(f".//{ns}g[@class='activity bottleneck']")) == 1


def test_map_columns_follow_the_designed_order() -> None:
    drawn = ["new", "open", "pending", "solved", "closed", "x"]
    assert columns(STATUS_FLOW, drawn) == {
        "new": 0,
        "open": 1,
        "pending": 2,
        "solved": 3,
        "closed": 4,
        "x": 5,
    }
    # Columns nobody entered are closed up.
    assert columns(STATUS_FLOW, ["new", "solved"]) == {"new": 0, "solved": 1}


def test_short_duration() -> None:
    assert [
        short_duration(d)
        for d in (
            timedelta(seconds=45),
            12 * timedelta(minutes=1),
            3 * H + timedelta(minutes=20),
            52 * H,
            48 * H,
        )
    ] == ["45s", "12m", "3h 20m", "2d 4h", "2d"]

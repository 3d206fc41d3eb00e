"""The SLA report's arithmetic against a reference computed here, over many finished clocks.

The same assertions run on SQLite (rows aggregated in Python) and on PostgreSQL (one GROUP BY
query with `percentile_disc`): both must give the same figures, to the second."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from sportello.core.actors import Actor, ActorKind, Via
from sportello.sla.metrics import Query, sla_report
from sportello.sla.models import SlaRecord
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage
from testing import NOW

METRICS = ("first_response", "next_response", "resolution")


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


def summary(values: list[int]) -> dict[str, Any]:
    # Half-way averages round to even, as Python's round() does.
    return {
        "avg": round(sum(values) / len(values)),
        **{f"p{p}": nearest_rank(values, p) for p in (50, 90, 95)},
    }


@pytest.fixture
def records(desk: Any) -> list[SlaRecord]:
    """400 finished clocks on one ticket, spread over two departments, two agents and three
    metrics; some without a target, a few outside the period."""
    ticket = pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL, subject="s",
        requester_id=desk.alice.pk, department_id=desk.books.pk, description=NewMessage(body="b"), now=NOW,
    ).ticket  # fmt: skip
    rng = random.Random(7)
    rows = []
    for i in range(400):
        target = rng.choice([None, 3600, 7200, 28800])
        own = rng.choice([rng.randint(1, 40_000), 1800, 3600])  # ties included
        rows.append(
            SlaRecord(
                ticket=ticket,
                metric=METRICS[i % 3],
                instance=i + 1,
                department=rng.choice([desk.books, desk.electronics]),
                assignee=rng.choice([desk.agent, desk.admin, None]),
                started_at=NOW,
                ended_at=NOW + timedelta(hours=rng.randint(-3, 40)),
                business=target is not None and i % 2 == 0,
                target_seconds=target,
                own_seconds=own,
                calendar_seconds=own + rng.randint(0, 50_000),
                breached=target is not None and own > target,
                tier=rng.choice(["", "t1", "t2"]),
            )
        )
    return SlaRecord.objects.bulk_create(rows)


@pytest.mark.parametrize("group_by", [None, "department", "agent", "tier"])
def test_the_report_equals_the_reference_per_group_and_metric(
    desk: Any, records: list[SlaRecord], group_by: str | None
) -> None:
    start, end = NOW, NOW + timedelta(hours=36)
    attribute = {None: None, "department": "department_id", "agent": "assignee_id", "tier": "tier"}[group_by]
    expected: dict[tuple[str, str], list[SlaRecord]] = defaultdict(list)
    for r in records:
        if start <= r.ended_at < end:
            key = str(getattr(r, attribute)) if attribute else "None"
            expected[(key, r.metric)].append(r)

    rows = sla_report(principal=desk.admin, query=Query(start=start, end=end, group_by=group_by))

    assert [(str(None if r["group"] is None else r["group"][group_by]), r["metric"]) for r in rows] == sorted(
        expected
    )
    for row in rows:
        items = expected[(str(None if row["group"] is None else row["group"][group_by]), row["metric"])]
        targeted = [r for r in items if r.target_seconds is not None]
        met = [r for r in targeted if not r.breached]
        assert row["finished"] == len(items)
        assert row["with_target"] == len(targeted)
        assert row["breached"] == sum(1 for r in items if r.breached)
        assert row["compliance"] == (round(len(met) / len(targeted), 4) if targeted else None)
        assert row["own_time_seconds"] == summary([r.own_seconds for r in items])
        assert row["calendar_time_seconds"] == summary([r.calendar_seconds for r in items])


def test_an_agent_reports_on_their_departments_only(desk: Any, records: list[SlaRecord]) -> None:
    rows = sla_report(
        principal=desk.agent, query=Query(start=NOW - timedelta(days=1), end=NOW + timedelta(days=2))
    )
    books = [r for r in records if r.department_id == desk.books.pk]
    assert sum(r["finished"] for r in rows) == len(books)

"""A blueprint's dashboard, computed from the tickets' blueprint events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.blueprints import selectors
from sportello.core import clock
from sportello.engine.blueprints import Overdue
from sportello.sla.calendars import calendar_save
from workflow_setup import returns_definition

H = timedelta(hours=1)


def test_metrics_count_runs_time_in_states_transitions_and_overdue_tickets(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, transition: Any, now: Any, api: Any
) -> None:
    # given the Returns process where a ticket should be received within two hours
    definition = returns_definition(desk)
    definition["states"][0]["time_limit"] = "2h"
    save_blueprint(definition)
    label = {"custom_fields": {"order_id": "AB123456"}, "note": "Label sent"}
    refund = {"custom_fields": {"refund_amount": "10"}}
    # and A: received 1h, awaiting 2h, refunded after 3h
    a = open_ticket(at=now)
    transition(a, "label-sent", at=now + H, **label)
    transition(a, "refund", by=desk.admin, at=now + 3 * H, **refund)
    # and B: received 3h (over its limit), awaiting 1h, refunded after 4h
    b = open_ticket(at=now + H)
    transition(b, "label-sent", at=now + 4 * H, **label)
    transition(b, "refund", by=desk.admin, at=now + 5 * H, **refund)
    # and C: received two hours in, still there
    c = open_ticket(at=now + 2 * H)
    # and an exchange, in no process
    open_ticket(kind="exchange")

    # when the metrics are read ten hours in
    period = selectors.Period.of(start=None, end=None, now=now + 10 * H)
    _, m = selectors.blueprint_metrics(principal=desk.agent, key="returns", period=period)

    # then
    assert (m.active, dict(m.active_per_state)) == (1, {"received": 1, "awaiting-item": 0})
    assert (m.completed, m.average_completion) == (2, 3.5 * H)
    assert dict(m.average_per_state) == {"received": 2 * H, "awaiting-item": 1.5 * H}
    assert m.transition_counts == (("label-sent", 2), ("refund", 2))
    assert m.overdue == (Overdue(c.pk, "received", now + 2 * H, 6 * H),)
    assert (m.limit_violations, m.tickets_with_violations) == (2, 2)


def test_metrics_are_for_admins_and_the_agents_of_the_department(
    desk: Any, returns: Any, api: Any, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    monkeypatch.setattr(clock, "now", lambda: now)
    r = api(desk.agent).get("/blueprints/returns/metrics")
    assert r.status_code == 200, r.content
    assert r.json() == {
        "blueprint": "returns",
        "name": "Returns",
        "department_id": desk.books.pk,
        "version": 1,
        "start": None,
        "end": "2026-11-02T09:30:00Z",
        "active": 0,
        "active_per_state": {"received": 0, "awaiting-item": 0},
        "overdue": [],
        "completed": 0,
        "average_completion_seconds": None,
        "average_seconds_per_state": {"received": None, "awaiting-item": None},
        "average_completion_business_seconds": None,
        "average_business_seconds_per_state": {"received": None, "awaiting-item": None},
        "transition_counts": [],
        "limit_violations": 0,
        "tickets_with_violations": 0,
    }
    assert api(desk.admin).get("/blueprints/returns/metrics").status_code == 200
    assert api(desk.outsider).get("/blueprints/returns/metrics").status_code == 403
    assert api(desk.light).get("/blueprints/returns/metrics").status_code == 403
    assert api(desk.agent).get("/blueprints/missing/metrics").status_code == 404


ROME = {
    "key": "rome",
    "name": "Rome office",
    "time_zone": "Europe/Rome",
    "weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}
LABEL = {"custom_fields": {"order_id": "AB123456"}, "note": "Label sent"}
REFUND = {"custom_fields": {"refund_amount": "10"}}


@pytest.fixture
def two_returns(desk: Any, returns: Any, open_ticket: Any, transition: Any, now: datetime) -> None:
    """In Rome's office hours (now: Monday 10:30 in Rome): A is done within the morning; B
    arrives at 16:30, waits overnight, and is done on Tuesday morning."""
    calendar_save(definition=ROME, departments=[desk.books.pk], actor=desk.admin, now=now)
    a = open_ticket(at=now)
    transition(a, "label-sent", at=now + H, **LABEL)
    transition(a, "refund", by=desk.admin, at=now + 3 * H, **REFUND)
    b = open_ticket(at=now + 6 * H)
    transition(b, "label-sent", at=now + 24 * H, **LABEL)  # Tuesday 10:30 in Rome
    transition(b, "refund", by=desk.admin, at=now + 25 * H, **REFUND)


def test_metrics_per_department_and_period_in_calendar_and_business_time(
    desk: Any, two_returns: None, api: Any, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    monkeypatch.setattr(clock, "now", lambda: now + 30 * H)
    # the whole log: A took 3h (3h of office time); B 19h, of which 4h in office hours
    r = api(desk.agent).get("/metrics/blueprints", {"department_id": desk.books.pk})
    assert r.status_code == 200, r.content
    [whole] = r.json()["items"]
    assert (whole["blueprint"], whole["start"], whole["end"]) == ("returns", None, "2026-11-03T15:30:00Z")
    assert (whole["completed"], whole["average_completion_seconds"]) == (2, 11 * 3600)
    assert whole["average_completion_business_seconds"] == 3.5 * 3600
    # received: A 1h, B 18h (1h30 on Monday, 1h30 on Tuesday); awaiting: A 2h, B 1h
    assert whole["average_seconds_per_state"] == {"received": 9.5 * 3600, "awaiting-item": 1.5 * 3600}
    assert whole["average_business_seconds_per_state"] == {"received": 2 * 3600, "awaiting-item": 1.5 * 3600}

    # the period from Monday evening: only B's transitions and completion are in it
    period = {"from": "2026-11-02T20:00:00Z", "to": "2026-11-04T00:00:00Z"}
    [late] = api(desk.agent).get("/metrics/blueprints", period).json()["items"]
    assert (late["start"], late["end"]) == ("2026-11-02T20:00:00Z", "2026-11-03T15:30:00Z")  # not after now
    assert late["completed"] == 1
    assert (late["average_completion_seconds"], late["average_completion_business_seconds"]) == (
        19 * 3600,
        4 * 3600,
    )
    assert late["transition_counts"] == [
        {"transition": "label-sent", "count": 1},
        {"transition": "refund", "count": 1},
    ]
    same = api(desk.agent).get("/blueprints/returns/metrics", period).json()
    assert same == late

    # the period of Monday morning alone: A, and B still waiting to be received at its end
    [early] = api(desk.admin).get("/metrics/blueprints", {"to": "2026-11-02T18:00:00Z"}).json()["items"]
    assert (early["completed"], early["active"], early["active_per_state"]["received"]) == (1, 1, 1)


def test_metrics_per_department_show_only_the_readers_departments(
    desk: Any, two_returns: None, api: Any, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    monkeypatch.setattr(clock, "now", lambda: now + 30 * H)
    assert [i["blueprint"] for i in api(desk.admin).get("/metrics/blueprints").json()["items"]] == ["returns"]
    assert api(desk.outsider).get("/metrics/blueprints").json()["items"] == []
    assert api(desk.light).get("/metrics/blueprints").status_code == 403
    other = api(desk.admin).get("/metrics/blueprints", {"department_id": desk.books.pk + 1000}).json()
    assert other["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-03T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, "to"),
        ({"from": "2026-11-02T00:00:00"}, "from"),
        ({"from": "2030-01-01T00:00:00Z"}, "to"),
    ],
)
def test_a_period_that_reads_wrong_is_refused(
    desk: Any, returns: Any, api: Any, monkeypatch: pytest.MonkeyPatch, now: datetime, query: Any, field: str
) -> None:
    monkeypatch.setattr(clock, "now", lambda: now)
    r = api(desk.admin).get("/metrics/blueprints", query)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field


def test_the_department_dashboard_does_not_grow_with_the_number_of_blueprints(
    desk: Any, fields: None, save_blueprint: Any, api: Any, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(clock, "now", lambda: now)
    calendar_save(definition=ROME, departments=[desk.books.pk], actor=desk.admin, now=now)
    client = api(desk.admin)

    def cost() -> int:
        client.get("/metrics/blueprints")  # warm: parsed definitions and calendars are cached
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/metrics/blueprints").status_code == 200
        return len(ctx.captured_queries)

    save_blueprint(returns_definition(desk))
    one = cost()
    for key in ("returns-b", "returns-c"):
        save_blueprint({**returns_definition(desk), "key": key, "name": key})
    assert cost() == one

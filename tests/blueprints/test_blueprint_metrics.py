"""A blueprint's dashboard, computed from the tickets' blueprint events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from blueprint_helpers import returns_definition

from sportello.blueprints import selectors
from sportello.engine.blueprints import Overdue

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
    _, m = selectors.blueprint_metrics(principal=desk.agent, key="returns", now=now + 10 * H)

    # then
    assert (m.active, dict(m.active_per_state)) == (1, {"received": 1, "awaiting-item": 0})
    assert (m.completed, m.average_completion) == (2, 3.5 * H)
    assert dict(m.average_per_state) == {"received": 2 * H, "awaiting-item": 1.5 * H}
    assert m.transition_counts == (("label-sent", 2), ("refund", 2))
    assert m.overdue == (Overdue(c.pk, "received", now + 2 * H, 6 * H),)
    assert (m.limit_violations, m.tickets_with_violations) == (2, 2)


def test_metrics_are_for_admins_and_the_agents_of_the_department(desk: Any, returns: Any, api: Any) -> None:
    r = api(desk.agent).get("/blueprints/returns/metrics")
    assert r.status_code == 200, r.content
    assert r.json() == {
        "blueprint": "returns",
        "version": 1,
        "active": 0,
        "active_per_state": {"received": 0, "awaiting-item": 0},
        "overdue": [],
        "completed": 0,
        "average_completion_seconds": None,
        "average_seconds_per_state": {"received": None, "awaiting-item": None},
        "transition_counts": [],
        "limit_violations": 0,
        "tickets_with_violations": 0,
    }
    assert api(desk.admin).get("/blueprints/returns/metrics").status_code == 200
    assert api(desk.outsider).get("/blueprints/returns/metrics").status_code == 403
    assert api(desk.light).get("/blueprints/returns/metrics").status_code == 403
    assert api(desk.agent).get("/blueprints/missing/metrics").status_code == 404

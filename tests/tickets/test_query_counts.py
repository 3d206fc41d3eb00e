"""Pinned query counts for the hot paths: a change here is a deliberate, reviewed change."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from testing import NOW

# Creation with tags and no rules (9): the token with its agent; the configuration's signatures
# (the rules, policies and the desk's structure: the department, the agent's membership, the
# statuses and the layout come from the per-process cache under them, for the change and the
# answer); the requester; the ticket number; the ticket, its tags, its description, its events
# and its search document (SQLite's full-text index follows by a trigger); the reports' figures
# (`reports.rollups.on_change`): the ticket's facts, its day's roll-up row and its counts row.
# Without tags, 11.
CREATE = {"sqlite": 12, "postgresql": 12}
# A public reply is mailed in the customer's language (`agent_reply` template): the admins'
# templates are read once per process (here, the first reply) and then cached. A change locks the
# ticket's bare row, then reads it with what it refers to, its requester and its tags
# (`tickets.locks`): two statements. The agent comes with the token; the status it moves to, from
# the per-process configuration. The mail's link to the customer portal reads the portal's
# settings once per process too (`portal.links`), here on the first reply: one. The rules' facts
# read no survey (no rule names a satisfaction fact: tests/surveys/test_survey_time_rules.py).
# The reports' figures: the ticket's facts read and updated, a roll-up row and a counts row: four.
REPLY = {"sqlite": 18, "postgresql": 17}
# A page reads its tickets' department layouts once, for the fields agents must still fill.
LIST = 4


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_opening_a_ticket_through_the_api_costs_a_fixed_number_of_queries(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    body = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk,
            "tags": ["a", "b"]}  # fmt: skip
    client.post("/tickets", body)  # warm: the token's last-used time is written once a minute
    assert count(lambda: client.post("/tickets", body)) == CREATE[connection.vendor]


def test_opening_a_ticket_without_tags_costs_eleven_statements(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    body = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk}
    client.post("/tickets", body)
    assert count(lambda: client.post("/tickets", body)) == CREATE[connection.vendor] - 1 == 11


def test_a_public_reply_costs_a_fixed_number_of_queries(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    t = client.post("/tickets", {"subject": "s", "description": "d", "department_id": desk.books.pk,
                                 "requester_id": desk.alice.pk}).json()  # fmt: skip
    assert (
        count(lambda: client.post(f"/tickets/{t['id']}/messages", {"body": "reply"}))
        == REPLY[connection.vendor]
    )


def test_the_ticket_list_does_not_grow_with_the_page(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    for i in range(12):
        client.post("/tickets", {"subject": f"s{i}", "description": "d", "department_id": desk.books.pk,
                                 "requester_id": desk.alice.pk, "tags": [f"t{i}"]})  # fmt: skip
    assert count(lambda: client.get("/tickets", {"limit": 3})) == LIST
    assert count(lambda: client.get("/tickets", {"limit": 12})) == LIST


def test_round_robin_through_a_rule_adds_a_fixed_number_of_queries(desk: Any, api: Any) -> None:
    # The policy row is read and locked; the pool with each member's open tickets and place in
    # the rotation is one query; the rotation row is upserted; the rule's trace is written; the
    # assignee's in-app notification is written. The decision event goes in with the change's
    # other events; the assignee is not re-checked.
    from sportello.automation.assignment import policy_save
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    policy, _ = policy_save(
        definition={"key": "rr", "name": "RR", "pool": {"department": desk.books.pk}, "offline": "assign"},
        created_by=desk.admin,
        now=NOW,
    )
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=NOW,
              definition={"key": "rr", "name": "RR", "when": {"all": []},
                          "actions": [{"assign": {"policy": policy.pk}}]})  # fmt: skip
    client = api(desk.agent)
    body = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk,
            "tags": ["a", "b"]}  # fmt: skip
    client.post("/tickets", body)
    assert count(lambda: client.post("/tickets", body)) == CREATE[connection.vendor] + 5
    assert client.post("/tickets", body).json()["assignee_id"] == desk.agent.pk


def test_an_active_rule_that_does_not_fire_adds_one_write_its_trace(desk: Any, api: Any) -> None:
    # The rules are read with the others' signatures (no extra read); the compact trace of why
    # no rule fired is one insert.
    from sportello.automation.models import RuleKind, RuleTrace
    from sportello.automation.services import rule_save

    never = {"field": "ticket.subject", "op": "is", "value": "x"}
    definition = {"key": "never", "name": "Never", "when": never, "actions": [{"add_tags": ["x"]}]}
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=NOW, definition=definition)
    client = api(desk.agent)
    body = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk,
            "tags": ["a", "b"]}  # fmt: skip
    client.post("/tickets", body)
    assert count(lambda: client.post("/tickets", body)) == CREATE[connection.vendor] + 1
    assert RuleTrace.objects.filter(quiet=True).count() == 2


def test_an_active_sla_policy_adds_a_fixed_number_of_queries(desk: Any, api: Any) -> None:
    # Creation writes the clocks row and the timers; the policy's condition reads only the facts
    # it names (no custom-field specs; the organization only when a condition names it).
    # The first reply updates the clocks row, re-arms the timers (the firings already done, the
    # armed timers, the one disarmed) and records the finished first-response clock; the reply's
    # e-mail names the policy (one read), and REPLY counts the templates' and the portal
    # settings' first reads, which the warm reply made here. The policy's facts read no survey
    # (its condition names no satisfaction fact).
    from sportello.sla.services import policy_save

    targets = {"first_response": {"normal": {"within": "1h"}}, "resolution": {"normal": {"within": "3d"}}}
    when = {"field": "requester.vip", "op": "is", "value": False}
    policy_save(
        actor=desk.admin, now=NOW, definition={"key": "all", "name": "All", "when": when, "targets": targets}
    )
    client = api(desk.agent)
    body = {"subject": "s", "description": "d", "department_id": desk.books.pk, "requester_id": desk.alice.pk,
            "tags": ["a", "b"]}  # fmt: skip
    warm = client.post("/tickets", body).json()  # and the caches of the policies and tier paths
    client.post(f"/tickets/{warm['id']}/messages", {"body": "reply"})
    made: list[Any] = []
    assert count(lambda: made.append(client.post("/tickets", body).json())) == CREATE[connection.vendor] + 2
    reply = count(lambda: client.post(f"/tickets/{made[0]['id']}/messages", {"body": "reply"}))
    assert reply == REPLY[connection.vendor] + 4

"""Dry run: `POST /rules/simulate` runs the real pipeline and keeps nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation.models import Rule, RuleKind, RuleTrace, RuleVersion
from sportello.automation.services import rule_save
from sportello.core.actors import Via
from sportello.core.models import Sequence
from sportello.outbox.models import OutboxMessage
from sportello.tickets import services
from sportello.tickets.models import Message, Ticket, TicketEvent

NOTIFY_TEAM = {
    "key": "team-mail",
    "name": "Tell the team",
    "when": {"field": "ticket.team", "op": "changed"},
    "actions": [
        {
            "notify": {
                "to": ["team"],
                "template": "team_assigned",
                "subject": "Ticket {{ ticket.subject }} is yours",
                "body": "Priority {{ ticket.priority }}",
            }
        },
        {"webhook": {"url": "https://hooks.example.test/in", "body": '{"subject": "{{ ticket.subject }}"}'}},
        {"note": {"body": "Team told"}},
    ],
}


def counts() -> tuple[int, ...]:
    from django_tasks_db.models import DBTaskResult

    return (
        Ticket.objects.count(),
        TicketEvent.objects.count(),
        RuleTrace.objects.count(),
        OutboxMessage.objects.count(),
        Message.objects.count(),
        Rule.objects.count(),
        RuleVersion.objects.count(),
        DBTaskResult.objects.count(),
        Sequence.objects.get(name="ticket").value,
    )


@pytest.fixture
def ticket(desk: Any, now: Any) -> Any:
    desk.team.email = "novels@desk.test"
    desk.team.save()
    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Lost parcel",
            "description": "Where is it?",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=now,
    ).ticket


def test_simulated_change_shows_trace_diff_and_rendered_effects_and_keeps_nothing(
    desk: Any, api: Any, now: Any, ticket: Any
) -> None:
    # given a rule that notifies the team, calls a webhook and notes it, when the team changes
    rule_save(kind=RuleKind.EVENT, definition=NOTIFY_TEAM, created_by=desk.admin, now=now)
    before = counts()
    # when an agent simulates assigning the ticket to the team
    r = api(desk.agent).post(
        "/rules/simulate", {"ticket_id": ticket.pk, "change": {"team_id": desk.team.pk, "priority": "high"}}
    )
    # then the answer is what the change would do
    assert r.status_code == 200, r.content
    body = r.json()
    assert [(c["field"], c["new_value"], c["actor_kind"]) for c in body["changes"]] == [
        ("priority", "high", "agent"),
        ("team", desk.team.pk, "agent"),
    ]
    assert body["traces"][0]["fired"] == ["team-mail"]
    first = body["traces"][0]["rules"][0]
    assert (first["rule"], first["outcome"]) == ("team-mail", "fired")
    assert first["predicates"][0]["field"] == "ticket.team"
    assert first["predicates"][0]["result"] is True
    assert body["notifications"] == [
        {
            "to": ["novels@desk.test"],
            "subject": "Ticket Lost parcel is yours",
            "body": "Priority high",
            "rule": "team-mail@1",
        }
    ]
    assert body["webhooks"] == [
        {"url": "https://hooks.example.test/in", "body": '{"subject": "Lost parcel"}', "rule": "team-mail@1"}
    ]
    assert body["notes"] == [{"body": "Team told"}]
    # and nothing was written: no event, trace, outbox row, task, and the ticket is unchanged
    assert counts() == before
    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.version) == (None, 1)


def test_simulating_a_new_ticket_leaks_no_ticket_number(desk: Any, api: Any, now: Any, ticket: Any) -> None:
    before = counts()
    r = api(desk.agent).post(
        "/rules/simulate",
        {
            "ticket": {
                "subject": "New one",
                "description": "x",
                "department_id": desk.books.pk,
                "requester_id": desk.bob.pk,
            }
        },
    )
    assert r.status_code == 200, r.content
    assert {c["field"] for c in r.json()["changes"]} >= {"subject", "status"}
    assert counts() == before
    # the next real ticket takes the next number
    nxt = services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Real",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.bob.pk,
        },
        now=now,
    ).ticket
    assert nxt.number == ticket.number + 1


def test_candidate_rules_take_part_and_are_not_saved(desk: Any, api: Any, now: Any, ticket: Any) -> None:
    before = counts()
    candidate = {
        "kind": "event",
        "key": "parcel-urgent",
        "name": "Parcels are urgent",
        "when": {"field": "ticket.subject", "op": "contains", "value": "parcel"},
        "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}],
    }
    r = api(desk.admin).post(
        "/rules/simulate", {"ticket_id": ticket.pk, "change": {"add_tags": ["x"]}, "rules": [candidate]}
    )
    assert r.status_code == 200, r.content
    assert [(c["field"], c["new_value"], c["cause"]) for c in r.json()["changes"]] == [
        ("priority", "urgent", "rule:parcel-urgent@1")
    ]
    assert counts() == before
    # and a real change afterwards does not run the candidate
    services.ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.API,
        data={"version": 1, "add_tags": ["y"]},
        now=now,
    )
    ticket.refresh_from_db()
    assert ticket.priority == 2


def test_candidate_errors_name_their_path_and_need_an_admin(desk: Any, api: Any, ticket: Any) -> None:
    bad = {
        "kind": "event",
        "key": "b",
        "name": "B",
        "when": {"field": "nope", "op": "is", "value": 1},
        "actions": [],
    }
    r = api(desk.admin).post("/rules/simulate", {"ticket_id": ticket.pk, "change": {}, "rules": [bad]})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "rules[0].when.field")
    r = api(desk.agent).post("/rules/simulate", {"ticket_id": ticket.pk, "change": {}, "rules": [bad]})
    assert r.status_code == 403


def test_a_ticket_the_caller_may_not_read_is_not_found(desk: Any, api: Any, ticket: Any) -> None:
    r = api(desk.outsider).post("/rules/simulate", {"ticket_id": ticket.pk, "change": {"priority": "low"}})
    assert r.status_code == 404


def test_a_simulation_explains_the_rules_that_did_not_fire_and_a_real_change_stores_only_what_fired(
    desk: Any, api: Any, now: Any, ticket: Any
) -> None:
    # given two rules, one of which matches a change of priority
    for key, value in (("urgent-only", "urgent"), ("high-only", "high")):
        rule_save(
            kind=RuleKind.EVENT,
            definition={
                "key": key,
                "name": key,
                "when": {"field": "ticket.priority", "op": "changed_to", "value": value},
                "actions": [{"add_tags": [key]}],
            },
            created_by=desk.admin,
            now=now,
        )
    change = {"ticket_id": ticket.pk, "change": {"priority": "high"}}
    # when the change is simulated
    body = api(desk.agent).post("/rules/simulate", change).json()
    # then the trace explains the rule that did not match, with its predicate
    first_pass = [r for r in body["traces"][0]["rules"] if r["pass"] == 1]
    assert [(r["rule"], r["outcome"]) for r in first_pass] == [
        ("high-only", "fired"),
        ("urgent-only", "not_matched"),
    ]
    missed = first_pass[1]["predicates"][0]
    assert (missed["expected"], missed["observed"], missed["previous"], missed["result"]) == (
        "urgent",
        "high",
        "normal",
        False,
    )
    # and when the change is made for real, the stored trace keeps only what fired
    services.ticket_update(
        principal=desk.agent,
        ticket_id=ticket.pk,
        via=Via.API,
        data={"version": ticket.version, "priority": "high"},
        now=now,
    )
    stored = RuleTrace.objects.filter(ticket=ticket).latest("id").trace
    assert [(r["rule"], r["outcome"]) for r in stored["rules"]] == [("high-only", "fired")]

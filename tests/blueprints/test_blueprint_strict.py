"""Strict mode: while a ticket is in its process, its status moves only by transitions. Automation
may bypass it when the blueprint allows, and every bypass (or refusal) is recorded. A ticket
leaves its run when it moves to another department."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import Conflict
from sportello.tickets import pipeline
from sportello.tickets.models import Message, Ticket, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import recorded
from workflow_setup import blueprint_events, returns_definition, run_of


def system_sets_status(ticket: Any, status: str, now: Any) -> Any:
    return pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(actor=Actor.system("housekeeping"), via=Via.SYSTEM, cause="housekeeping",
                          fields={"status": status}),
        now=now,
    )  # fmt: skip


def test_a_system_change_of_status_is_refused_unless_the_blueprint_allows_a_bypass(
    desk: Any, returns: Any, open_ticket: Any, now: Any
) -> None:
    # given a ticket received in the Returns process, which allows no bypass
    ticket = open_ticket()
    # when the system sets it pending
    with pytest.raises(Conflict) as refused:
        system_sets_status(ticket, "pending", now)
    # then it is refused and nothing changes
    assert refused.value.code == "blueprint_transition_required"
    ticket.refresh_from_db()
    assert (ticket.status.key, run_of(ticket).state) == ("open", "received")


def test_an_allowed_bypass_by_the_system_is_recorded_and_the_run_follows_the_status(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, now: Any
) -> None:
    # given the Returns process allowing automation to bypass it, and a ticket received
    save_blueprint(returns_definition(desk, allow_automation_bypass=True))
    ticket = open_ticket()
    # when the system sets it pending
    out = system_sets_status(ticket, "pending", now)
    # then the ticket is pending and the run awaits the item (the state with that status)
    ticket.refresh_from_db()
    assert (ticket.status.key, run_of(ticket).state) == ("pending", "awaiting-item")
    # and the bypass is recorded under the system, with its cause
    event = TicketEvent.objects.get(change_id=out.change_id, kind="blueprint")
    assert (event.field, event.actor_kind, event.actor_label, event.cause) == (
        "bypassed",
        "system",
        "housekeeping",
        "housekeeping",
    )
    assert event.new_value == {
        "blueprint": "returns",
        "version": 1,
        "from": "received",
        "to": "awaiting-item",
        "status_from": "open",
        "status_to": "pending",
    }
    # and a bypass to the terminal state's status completes the run
    system_sets_status(ticket, "solved", now)
    run = run_of(ticket)
    assert (run.state, run.active, run.completed_at) == ("refunded", False, now)
    assert [f for f, _, _ in blueprint_events(ticket)] == ["attached", "bypassed", "bypassed", "completed"]


def test_an_agent_may_not_bypass_even_when_automation_may(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, now: Any
) -> None:
    save_blueprint(returns_definition(desk, allow_automation_bypass=True))
    ticket = open_ticket()
    with pytest.raises(Conflict) as refused:
        pipeline.ticket_apply(
            ticket_id=ticket.pk,
            mutation=Mutation(actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.WEB,
                              fields={"status": "pending"}),
            now=now,
        )  # fmt: skip
    assert refused.value.code == "blueprint_transition_required"


def test_a_customer_reply_does_not_move_a_ticket_out_of_its_waiting_state(
    desk: Any, returns: Any, open_ticket: Any, transition: Any, now: Any
) -> None:
    # given a ticket awaiting the item (pending)
    ticket = open_ticket()
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="Sent")
    # when the customer writes (a reply reopens a pending ticket, normally)
    out = pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL,
                          message=NewMessage(body="Sent it today")),
        now=now,
    )  # fmt: skip
    # then the reply is kept, the ticket stays pending in its state, and the refusal is recorded
    assert Message.objects.filter(ticket=ticket, body_text="Sent it today").exists()
    ticket.refresh_from_db()
    assert (ticket.status.key, run_of(ticket).state) == ("pending", "awaiting-item")
    refusal = TicketEvent.objects.get(change_id=out.change_id, kind="blueprint")
    assert (refusal.field, refusal.actor_kind, recorded(refusal)["status_to"]) == (
        "bypass_refused",
        "system",
        "open",
    )


def test_an_event_rule_moving_the_status_is_undone_or_bypasses_as_the_blueprint_says(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, api: Any, now: Any
) -> None:
    # given a rule that puts tickets tagged `hold` on hold
    hold = {
        "key": "hold",
        "name": "Hold",
        "when": {"field": "ticket.tags", "op": "contains", "value": "hold"},
        "actions": [{"set": {"field": "ticket.status", "value": "on_hold"}}],
    }
    rule_save(kind=RuleKind.EVENT, definition=hold, created_by=desk.admin, now=now)
    save_blueprint(returns_definition(desk))
    ticket = open_ticket()
    agent = api(desk.agent)
    # when the agent tags the ticket: the rule's status change is undone, the tag stays
    r = agent.patch(
        f"/tickets/{ticket.pk}", {"version": Ticket.objects.get(pk=ticket.pk).version, "add_tags": ["hold"]}
    )
    assert (r.status_code, r.json()["status"], r.json()["tags"]) == (200, "open", ["hold"])
    refusal = TicketEvent.objects.filter(ticket=ticket, field="bypass_refused").get()
    assert (refusal.actor_kind, refusal.cause) == ("rule", "rule:hold@1")
    # when the blueprint allows bypasses, the rule's change stands; no state has that status,
    # so the run stays where it is
    save_blueprint(returns_definition(desk, allow_automation_bypass=True))
    other = open_ticket()
    r = agent.patch(
        f"/tickets/{other.pk}", {"version": Ticket.objects.get(pk=other.pk).version, "add_tags": ["hold"]}
    )
    assert r.json()["status"] == "on_hold"
    bypass = TicketEvent.objects.get(ticket=other, field="bypassed")
    assert (bypass.actor_kind, bypass.cause, recorded(bypass)["to"]) == ("rule", "rule:hold@1", "received")
    assert run_of(other).state == "received"


def test_moving_a_ticket_to_another_department_leaves_its_process(
    desk: Any, returns: Any, open_ticket: Any, api: Any
) -> None:
    ticket = open_ticket()
    r = api(desk.admin).patch(
        f"/tickets/{ticket.pk}",
        {"version": Ticket.objects.get(pk=ticket.pk).version, "department_id": desk.electronics.pk},
    )
    assert r.status_code == 200, r.content
    run = run_of(ticket)
    assert (run.active, run.state) == (False, "received")
    left = TicketEvent.objects.get(ticket=ticket, field="detached")
    assert left.new_value == {
        "blueprint": "returns",
        "version": 1,
        "from": "received",
        "reason": "department",
    }
    # and the status is free again
    r = api(desk.admin).patch(f"/tickets/{ticket.pk}", {"version": r.json()["version"], "status": "solved"})
    assert r.status_code == 200


def test_a_new_version_applies_to_new_tickets_while_others_keep_theirs(
    desk: Any, returns: Any, save_blueprint: Any, open_ticket: Any, transition: Any
) -> None:
    # given a ticket in version 1
    first = open_ticket()
    # when version 2 renames the label transition's key
    changed = returns_definition(desk)
    changed["transitions"][0]["key"] = "send-label"
    save_blueprint(changed)
    second = open_ticket()
    # then each ticket follows its own version
    assert (run_of(first).version, run_of(second).version) == (1, 2)
    transition(first, "label-sent", custom_fields={"order_id": "AB123456"}, note="v1")
    transition(second, "send-label", custom_fields={"order_id": "AB123457"}, note="v2")
    assert (run_of(first).state, run_of(second).state) == ("awaiting-item", "awaiting-item")


def test_a_ticket_closed_by_an_allowed_bypass_leaves_its_process(
    desk: Any, fields: None, save_blueprint: Any, open_ticket: Any, now: Any
) -> None:
    # given a process with no closed state, which automation may bypass
    save_blueprint(returns_definition(desk, allow_automation_bypass=True))
    ticket = open_ticket()
    # when the system closes the ticket
    system_sets_status(ticket, "closed", now)
    # then the run stays in its state but is no longer active: a closed ticket changes no more
    run = run_of(ticket)
    assert (run.state, run.active, run.completed_at, run.entered_state_at) == ("received", False, None, now)
    assert [f for f, _, _ in blueprint_events(ticket)] == ["attached", "bypassed", "detached"]

"""Time rules end to end: armed by the pipeline, fired by the worker's poller, through the
pipeline again with the rule as actor. The stories of the automation issue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.automation import timers
from sportello.automation.models import RuleKind, RuleTrace, Timer, TimerFiring
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.outbox.models import OutboxMessage
from sportello.tickets import pipeline
from sportello.tickets.models import Message, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage


@pytest.fixture(autouse=True)
def _fresh_time_rule_cache() -> None:
    timers.forget_parsed_rules()


def time_rule(desk: Any, now: Any, **definition: Any) -> Any:
    rule, _ = rule_save(kind=RuleKind.TIME, definition=definition, created_by=desk.admin, now=now)
    return rule


def open_ticket(desk: Any, now: Any, **fields: Any) -> Any:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject="My order",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="Where is it?"),
        fields=fields,
        now=now,
    ).ticket


def agent_reply(desk: Any, ticket: Any, now: Any, body: str = "Looking into it") -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(
            actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.WEB, message=NewMessage(body=body)
        ),
        now=now,
    )


def customer_reply(desk: Any, ticket: Any, now: Any) -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(
            actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
            via=Via.EMAIL,
            message=NewMessage(body="Any news?"),
        ),
        now=now,
    )


def team_idle_rule(desk: Any, now: Any) -> Any:
    return time_rule(
        desk,
        now,
        key="team-idle",
        name="Team ticket idle for a day",
        anchor="last_update",
        when={"field": "ticket.team", "op": "present"},
        steps=[
            {
                "after": "1d",
                "actions": [
                    {
                        "notify": {
                            "to": ["team"],
                            "subject": "Still waiting: {{ ticket.subject }}",
                            "body": "Idle.",
                        }
                    }
                ],
            }
        ],
    )


def test_team_ticket_not_updated_for_a_day_notifies_the_team_again(desk: Any, now: Any) -> None:
    # given the rule and a ticket assigned to the Novels team
    rule = team_idle_rule(desk, now)
    ticket = open_ticket(desk, now, team=desk.team.pk)
    # then one timer is armed, due a day after the ticket's last update
    assert list(Timer.objects.values_list("ticket_id", "step", "due_at")) == [
        (ticket.pk, 0, now + timedelta(days=1))
    ]
    # when the worker runs a second before it is due, nothing fires
    assert timers.timers_fire_due(now=now + timedelta(days=1, seconds=-1)) == []
    # when it runs at the due instant, the team is notified once
    fired = timers.timers_fire_due(now=now + timedelta(days=1))
    assert [f.outcome for f in fired] == ["applied"]
    mails = OutboxMessage.objects.filter(kind="email", payload__rule="team-idle@1")
    assert [(m.payload["to"], m.payload["subject"]) for m in mails] == [
        (["bruno@desk.test"], "Still waiting: My order")
    ]
    firing = TimerFiring.objects.get()
    assert (firing.rule_id, firing.ticket_id, firing.step, firing.outcome) == (
        rule.pk,
        ticket.pk,
        0,
        "applied",
    )
    assert firing.change_id == mails[0].change_id
    # and the timer is gone, not re-armed: the firing is no update by a person
    assert Timer.objects.count() == 0
    assert timers.timers_fire_due(now=now + timedelta(days=5)) == []
    assert TimerFiring.objects.count() == 1


def test_an_update_moves_the_team_idle_timer(desk: Any, now: Any) -> None:
    # given the rule and a team ticket
    team_idle_rule(desk, now)
    ticket = open_ticket(desk, now, team=desk.team.pk)
    first_key = Timer.objects.get().anchor_key
    # when an agent replies five hours later
    later = now + timedelta(hours=5)
    agent_reply(desk, ticket, later)
    # then the timer is re-armed on the new anchor instance, a day after the reply
    timer = Timer.objects.get()
    assert (timer.due_at, timer.anchor_key != first_key) == (later + timedelta(days=1), True)
    # and at the old due instant nothing fires
    assert timers.timers_fire_due(now=now + timedelta(days=1)) == []
    # and a day after the reply the team is notified
    assert [f.outcome for f in timers.timers_fire_due(now=later + timedelta(days=1))] == ["applied"]
    assert OutboxMessage.objects.filter(payload__rule="team-idle@1").count() == 1


def test_a_ticket_without_team_is_not_notified_conditions_rechecked_at_firing(desk: Any, now: Any) -> None:
    # given the rule and a ticket with a team
    team_idle_rule(desk, now)
    ticket = open_ticket(desk, now, team=desk.team.pk)
    # when automation (here the SLA's authority) removes the team: no update by a person, so
    # the timer stays where it is
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(actor=Actor(ActorKind.SLA, None, "sla"), via=Via.SYSTEM, fields={"team": None}),
        now=now + timedelta(hours=1),
    )
    assert Timer.objects.get().due_at == now + timedelta(days=1)
    # then at the due instant the condition no longer holds: recorded, nothing sent
    assert [f.outcome for f in timers.timers_fire_due(now=now + timedelta(days=1))] == ["conditions_false"]
    assert OutboxMessage.objects.filter(payload__rule="team-idle@1").count() == 0
    # and the firing links to the trace that says why: the team predicate was false
    firing = TimerFiring.objects.get()
    assert firing.change_id is not None
    trace = RuleTrace.objects.get(change_id=firing.change_id)
    assert (trace.kind, trace.ticket_id, trace.trace["fired"]) == ("timer", ticket.pk, [])
    assert trace.trace["timer"] == {
        "step": 0,
        "anchor": "last_update",
        "anchor_instance": firing.anchor_key,
        "due_at": (now + timedelta(days=1)).isoformat(),
    }
    [entry] = trace.trace["rules"]
    assert entry["outcome"] == "not_matched"
    assert [(p["field"], p["result"]) for p in entry["predicates"] if not p["result"]] == [
        ("ticket.team", False)
    ]
    assert not TicketEvent.objects.filter(change_id=firing.change_id).exists()


def test_many_exchanges_and_resolution_due_passed_alerts_the_support_manager(desk: Any, now: Any) -> None:
    # given: more than 10 customer messages and the due date passed -> alert the manager
    # ("exchanges" are counted as the customer's messages: ticket.customer_message_count)
    rule = time_rule(
        desk,
        now,
        key="long-and-late",
        name="Long conversation past its due date",
        anchor="due_date",
        when={"field": "ticket.customer_message_count", "op": "gt", "value": 10},
        steps=[
            {
                "after": "0s",
                "actions": [
                    {"notify": {"to": ["agent:" + str(desk.admin.pk)], "subject": "Late", "body": "Look"}},
                    {"add_tags": ["escalated"]},
                ],
            }
        ],
    )
    due = now + timedelta(days=2)
    ticket = open_ticket(desk, now, due_at=due)
    quiet = open_ticket(desk, now, due_at=due)  # only one customer message
    for i in range(10):  # the description is the first customer message
        customer_reply(desk, ticket, now + timedelta(hours=i + 1))
        agent_reply(desk, ticket, now + timedelta(hours=i + 1, minutes=30))
    ticket.refresh_from_db()
    assert ticket.customer_message_count == 11
    # when the due date passes
    fired = timers.timers_fire_due(now=due)
    # then the manager is alerted on the long ticket only
    assert sorted(f.outcome for f in fired) == ["applied", "conditions_false"]
    mails = OutboxMessage.objects.filter(payload__rule="long-and-late@1")
    assert [(m.ticket_id, m.payload["to"]) for m in mails] == [(ticket.pk, ["admin@desk.test"])]
    # and the tag is recorded under the rule, via rule, with the timer as cause
    event = TicketEvent.objects.get(ticket=ticket, kind="tags", cause__startswith="timer:")
    assert (event.actor_kind, event.actor_id, event.via, event.cause, event.new_value) == (
        "rule",
        rule.pk,
        "rule",
        "timer:long-and-late@1#0",
        ["escalated"],
    )
    assert TimerFiring.objects.filter(ticket=quiet).get().outcome == "conditions_false"


def test_a_time_rule_firing_runs_event_rules_with_event_type_timer_fired(desk: Any, now: Any) -> None:
    # given an event rule reacting only to timer firings, and a time rule that tags the ticket
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "after-timer",
            "name": "After a timer",
            "on": ["timer.fired"],
            "when": {"field": "ticket.tags", "op": "contains", "value": "reminded"},
            "actions": [{"set": {"field": "ticket.priority", "value": "high"}}],
        },
        created_by=desk.admin,
        now=now,
    )
    time_rule(
        desk,
        now,
        key="remind",
        name="Remind",
        anchor="created",
        when={"field": "ticket.status_category", "op": "is", "value": "new"},
        steps=[{"after": "2h", "actions": [{"add_tags": ["reminded"]}]}],
    )
    ticket = open_ticket(desk, now)
    # when the step fires
    [fired] = timers.timers_fire_due(now=now + timedelta(hours=2))
    # then the event rule saw timer.fired and raised the priority in the same change
    ticket.refresh_from_db()
    assert (fired.outcome, ticket.priority) == ("applied", 3)
    trace = RuleTrace.objects.get(change_id=fired.change_id, kind="event")
    assert trace.trace["fired"] == ["after-timer"]
    step = RuleTrace.objects.get(change_id=fired.change_id, kind="timer").trace
    assert (step["fired"], step["rules"][0]["actions"]) == (
        ["remind"],
        [{"index": 0, "action": "add_tags", "outcome": "changed", "error": None}],
    )
    events = TicketEvent.objects.filter(change_id=fired.change_id).order_by("id")
    assert [(e.field, e.actor_kind, e.cause) for e in events] == [
        ("tags", "rule", "timer:remind@1#0"),
        ("priority", "rule", "rule:after-timer@1"),
    ]


def test_what_a_step_does_carries_the_firing_as_its_cause(desk: Any, now: Any) -> None:
    # given a time rule whose step adds a note and sets the priority
    actions = [
        {"note": {"body": "Still new after an hour"}},
        {"set": {"field": "ticket.priority", "value": "high"}},
    ]
    time_rule(desk, now, key="nudge", name="Nudge", anchor="created",
              when={"field": "ticket.status_category", "op": "is", "value": "new"},
              steps=[{"after": "1h", "actions": actions}])  # fmt: skip
    ticket = open_ticket(desk, now)
    [fired] = timers.timers_fire_due(now=now + timedelta(hours=1))
    # then the note, the field change and the firing share one cause: the timer's step
    events = TicketEvent.objects.filter(change_id=fired.change_id).order_by("id")
    assert {(e.kind, e.field, e.actor_kind, e.cause) for e in events} == {
        ("field", "priority", "rule", "timer:nudge@1#0"),
        ("message", "internal", "rule", "timer:nudge@1#0"),
    }
    assert Message.objects.get(ticket=ticket, public=False).body_text == "Still new after an hour"

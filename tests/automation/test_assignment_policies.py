"""Round-robin assignment through the real pipeline: caps, spread, tie-break, online status,
backlog and its drain, and the recorded decision."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from sportello.accounts.models import Department, Role, User
from sportello.accounts.services import agent_create, agent_set_status, department_create
from sportello.automation.assignment import (
    agent_came_online,
    assignment_drain,
    backlog_list,
    policy_save,
)
from sportello.automation.models import (
    AgentAssignment,
    AssignmentBacklog,
    AssignmentPolicy,
    AssignmentPolicyVersion,
    RuleKind,
)
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline
from sportello.tickets.models import Ticket, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage


@dataclass(eq=False)
class World:
    dept: Department
    agents: list[User]
    policy: AssignmentPolicy


@pytest.fixture
def rr(desk: Any, now: Any) -> World:
    """Support with three online agents (and one light agent), a round-robin policy over the
    department with a cap of 2, and an event rule assigning every new ticket through it."""
    dept = department_create(name="Support")
    agents = [
        agent_create(email=f"a{i}@desk.test", name=f"Agent {i}", role=Role.AGENT, departments=[dept])
        for i in range(3)
    ]
    agent_create(email="light@desk.test", name="Light", role=Role.LIGHT_AGENT, departments=[dept])
    for a in agents:
        agent_set_status(user=a, status="online", now=now)
    w = World(dept=dept, agents=agents, policy=make_policy(desk, now, department=dept.pk, cap=2))
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "round-robin",
            "name": "Round robin",
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [{"assign": {"policy": w.policy.pk}}],
        },
        created_by=desk.admin,
        now=now,
    )
    return w


def make_policy(
    desk: Any, now: Any, *, cap: int | None, backlog: bool = True, offline: str = "skip", **pool: Any
) -> AssignmentPolicy:
    policy, _ = policy_save(
        definition={
            "key": "support-rr",
            "name": "Support round robin",
            "pool": pool,
            "max_open_per_agent": cap,
            "offline": offline,
            "backlog": backlog,
        },
        created_by=desk.admin,
        now=now,
    )
    return policy


def create(desk: Any, w: Any, now: Any, *, priority: str = "normal", subject: str = "Help") -> Ticket:
    out = pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject=subject,
        requester_id=desk.alice.pk,
        department_id=w.dept.pk,
        description=NewMessage(body="Please help"),
        fields={"priority": priority},
        now=now,
    )
    ticket = Ticket.objects.get(pk=out.ticket.pk)
    return ticket


def change(ticket: Ticket, now: Any, **fields: Any) -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(actor=Actor.system(), via=Via.SYSTEM, fields=fields),
        now=now,
    )


def decisions(ticket: Ticket) -> list[Any]:
    return [e.new_value for e in TicketEvent.objects.filter(ticket=ticket, kind="assignment").order_by("id")]


def open_counts(w: Any) -> dict[int, int]:
    counts = Counter(
        Ticket.objects.filter(assignee__in=w.agents, status_category__in=["new", "open"]).values_list(
            "assignee_id", flat=True
        )
    )
    return {a.pk: counts.get(a.pk, 0) for a in w.agents}


def test_new_tickets_go_round_the_pool_least_recently_assigned_first(desk: Any, now: Any, rr: Any) -> None:
    # when three tickets arrive a minute apart
    got = [create(desk, rr, now + timedelta(minutes=i)).assignee_id for i in range(3)]
    # then each agent gets one, lowest id first (none was ever assigned)
    assert got == [a.pk for a in rr.agents]
    # and the fourth goes to the least recently assigned of the equally loaded agents
    assert create(desk, rr, now + timedelta(minutes=3)).assignee_id == rr.agents[0].pk


def test_tie_break_is_least_recently_assigned_not_lowest_id(desk: Any, now: Any, rr: Any) -> None:
    # given agent 0 was assigned recently and agent 1 long ago, agent 2 never, all with 0 open
    rows = {r.agent_id: r for r in AgentAssignment.objects.filter(policy=rr.policy)}
    AgentAssignment.objects.bulk_create(
        [AgentAssignment(policy=rr.policy, agent=a) for a in rr.agents if a.pk not in rows]
    )
    AgentAssignment.objects.filter(policy=rr.policy, agent=rr.agents[0]).update(last_assigned_at=now)
    AgentAssignment.objects.filter(policy=rr.policy, agent=rr.agents[1]).update(
        last_assigned_at=now - timedelta(days=1)
    )
    AgentAssignment.objects.filter(policy=rr.policy, agent=rr.agents[2]).update(
        last_assigned_at=now - timedelta(hours=1)
    )
    # when a ticket arrives
    ticket = create(desk, rr, now + timedelta(minutes=1))
    # then the least recently assigned agent takes it, and the decision says why
    assert ticket.assignee_id == rr.agents[1].pk
    assert decisions(ticket)[0]["reason"] == "least loaded (0 open), least recently assigned"


def test_cap_is_never_exceeded_and_the_spread_is_even(desk: Any, now: Any, rr: Any) -> None:
    # when more tickets arrive than the pool can hold (3 agents x cap 2)
    tickets = [create(desk, rr, now + timedelta(minutes=i)) for i in range(8)]
    # then six are assigned, two per agent, and two wait in the backlog
    assert open_counts(rr) == {a.pk: 2 for a in rr.agents}
    assert [t.assignee_id for t in tickets[6:]] == [None, None]
    assert [r.ticket_id for r in backlog_list(policy=rr.policy)] == [t.pk for t in tickets[6:]]
    assert decisions(tickets[6])[0]["outcome"] == "backlog"
    assert decisions(tickets[6])[0]["reason"] == "every eligible agent is at capacity"


def test_even_spread_within_one_ticket_without_a_cap(desk: Any, now: Any, rr: Any) -> None:
    make_policy(desk, now, department=rr.dept.pk, cap=None)  # version 2: no cap
    for i in range(20):
        create(desk, rr, now + timedelta(minutes=i))
    counts = open_counts(rr)
    assert sum(counts.values()) == 20
    assert max(counts.values()) - min(counts.values()) <= 1


def test_offline_agents_are_skipped_when_the_policy_says_skip(desk: Any, now: Any, rr: Any) -> None:
    agent_set_status(user=rr.agents[0], status="offline", now=now)
    got = {create(desk, rr, now + timedelta(minutes=i)).assignee_id for i in range(4)}
    assert got == {rr.agents[1].pk, rr.agents[2].pk}


def test_offline_agents_receive_tickets_when_the_policy_says_assign(desk: Any, now: Any, rr: Any) -> None:
    make_policy(desk, now, department=rr.dept.pk, cap=2, offline="assign")
    for a in rr.agents:
        agent_set_status(user=a, status="offline", now=now)
    got = [create(desk, rr, now + timedelta(minutes=i)).assignee_id for i in range(3)]
    assert got == [a.pk for a in rr.agents]


def test_without_backlog_the_decision_says_nobody_was_free(desk: Any, now: Any, rr: Any) -> None:
    make_policy(desk, now, department=rr.dept.pk, cap=1, backlog=False)
    for i in range(3):
        create(desk, rr, now + timedelta(minutes=i))
    ticket = create(desk, rr, now + timedelta(minutes=5))
    assert ticket.assignee_id is None
    assert AssignmentBacklog.objects.count() == 0
    (decision,) = decisions(ticket)
    assert (decision["outcome"], decision["reason"], decision["version"]) == (
        "unassigned",
        "every eligible agent is at capacity",
        2,
    )


def test_decision_is_recorded_with_pool_counts_caps_and_rule(desk: Any, now: Any, rr: Any, api: Any) -> None:
    first = create(desk, rr, now)
    second = create(desk, rr, now + timedelta(minutes=1))
    (decision,) = decisions(second)
    assert decision == {
        "policy": "support-rr",
        "policy_id": rr.policy.pk,
        "version": 1,
        "outcome": "assigned",
        "agent": rr.agents[1].pk,
        "reason": "least loaded (0 open), never assigned before, lowest id",
        "pool": {"department": rr.dept.pk},
        "max_open_per_agent": 2,
        "count_categories": ["new", "open"],
        "offline": "skip",
        "considered": [
            {
                "agent": rr.agents[0].pk,
                "open": 1,
                "cap": 2,
                "online": True,
                "last_assigned": now.isoformat(),
                "excluded_because": None,
            },
            *(
                {
                    "agent": a.pk,
                    "open": 0,
                    "cap": 2,
                    "online": True,
                    "last_assigned": None,
                    "excluded_because": None,
                }
                for a in rr.agents[1:]
            ),
        ],
        "rule": "rule:round-robin@1",
    }
    assert first.assignee_id == rr.agents[0].pk
    # and the audit trail of the API shows it, under the rule
    events = api(desk.admin).get(f"/tickets/{second.pk}/events").json()["items"]
    (row,) = [e for e in events if e["kind"] == "assignment"]
    assert (row["actor_kind"], row["cause"], row["new_value"]["agent"]) == (
        "rule",
        "rule:round-robin@1",
        rr.agents[1].pk,
    )


def test_agents_outside_the_ticket_department_are_not_eligible(desk: Any, now: Any, rr: Any) -> None:
    # given a policy over a list of agents, one of whom works only in Electronics
    make_policy(desk, now, agents=[desk.outsider.pk, rr.agents[2].pk], cap=5)
    agent_set_status(user=desk.outsider, status="online", now=now)
    ticket = create(desk, rr, now)
    assert ticket.assignee_id == rr.agents[2].pk
    considered = {c["agent"]: c["excluded_because"] for c in decisions(ticket)[0]["considered"]}
    assert considered == {desk.outsider.pk: "not eligible", rr.agents[2].pk: None}


def test_backlog_is_handed_out_by_priority_then_age_when_a_ticket_is_solved(
    desk: Any, now: Any, rr: Any
) -> None:
    make_policy(desk, now, department=rr.dept.pk, cap=1)
    held = [create(desk, rr, now + timedelta(minutes=i)) for i in range(3)]
    old_normal = create(desk, rr, now + timedelta(minutes=10))
    new_urgent = create(desk, rr, now + timedelta(minutes=11), priority="urgent")
    newer_normal = create(desk, rr, now + timedelta(minutes=12))
    assert [r.ticket_id for r in backlog_list(policy=rr.policy)] == [
        new_urgent.pk,
        old_normal.pk,
        newer_normal.pk,
    ]
    # when agent 1 solves their ticket
    change(held[1], now + timedelta(hours=1), status="solved")
    # then the urgent ticket goes to agent 1, through the pipeline, recorded with the policy
    new_urgent.refresh_from_db()
    assert new_urgent.assignee_id == rr.agents[1].pk
    field_event = TicketEvent.objects.get(ticket=new_urgent, kind="field", field="assignee")
    assert (field_event.actor_kind, field_event.cause, field_event.via) == (
        "system",
        "assignment:support-rr@2",
        "rule",
    )
    (_, handout) = decisions(new_urgent)
    assert (handout["outcome"], handout["agent"]) == ("assigned", rr.agents[1].pk)
    assert [r.ticket_id for r in backlog_list(policy=rr.policy)] == [old_normal.pk, newer_normal.pk]
    # and reassigning agent 2's ticket to agent 0 frees agent 2, who gets the next one
    change(held[2], now + timedelta(hours=2), assignee=None)
    old_normal.refresh_from_db()
    assert old_normal.assignee_id == rr.agents[2].pk
    assert [r.ticket_id for r in backlog_list(policy=rr.policy)] == [newer_normal.pk]


def test_moving_between_counted_statuses_frees_nothing(desk: Any, now: Any, rr: Any) -> None:
    make_policy(desk, now, department=rr.dept.pk, cap=1)
    held = [create(desk, rr, now + timedelta(minutes=i)) for i in range(3)]
    waiting = create(desk, rr, now + timedelta(minutes=5))
    change(held[0], now + timedelta(hours=1), status="open")  # new -> open: both counted
    waiting.refresh_from_db()
    assert waiting.assignee_id is None
    assert [r.ticket_id for r in backlog_list(policy=rr.policy)] == [waiting.pk]


def test_backlog_is_drained_when_an_agent_comes_online(desk: Any, now: Any, rr: Any) -> None:
    for a in rr.agents:
        agent_set_status(user=a, status="offline", now=now)
    waiting = [create(desk, rr, now + timedelta(minutes=i)) for i in range(3)]
    assert all(t.assignee_id is None for t in waiting)
    # when agent 2 comes online
    agent_set_status(user=rr.agents[2], status="online", now=now + timedelta(hours=1))
    # then they take waiting tickets up to the cap, oldest first
    assignees = [Ticket.objects.get(pk=t.pk).assignee_id for t in waiting]
    assert assignees == [rr.agents[2].pk, rr.agents[2].pk, None]
    assert [r.ticket_id for r in backlog_list(policy=rr.policy)] == [waiting[2].pk]


def test_a_ticket_assigned_by_hand_leaves_the_backlog(desk: Any, now: Any, rr: Any) -> None:
    for a in rr.agents:
        agent_set_status(user=a, status="offline", now=now)
    waiting = create(desk, rr, now)
    change(waiting, now + timedelta(minutes=1), assignee=rr.agents[0].pk)
    assert AssignmentBacklog.objects.count() == 0
    # and a drain finds nothing to do
    assert agent_came_online(agent=rr.agents[1], now=now) == []


def test_drain_without_capacity_hands_out_nothing(desk: Any, now: Any, rr: Any) -> None:
    make_policy(desk, now, department=rr.dept.pk, cap=1)
    for i in range(4):
        create(desk, rr, now + timedelta(minutes=i))
    assert assignment_drain(policy_id=rr.policy.pk, now=now) == []
    assert AssignmentBacklog.objects.count() == 1


def test_policy_versions_are_immutable_and_identical_saves_write_nothing(
    desk: Any, now: Any, rr: Any
) -> None:
    again, written = policy_save(
        definition={
            "key": "support-rr",
            "name": "Support round robin",
            "pool": {"department": rr.dept.pk},
            "max_open_per_agent": 2,
        },
        created_by=desk.admin,
        now=now,
    )
    assert (written, again.version) == (False, 1)
    make_policy(desk, now, department=rr.dept.pk, cap=3)
    assert list(
        AssignmentPolicyVersion.objects.filter(policy=rr.policy).values_list(
            "version", "definition__max_open_per_agent"
        )
    ) == [(1, 2), (2, 3)]


def test_event_rules_see_a_hand_out_from_the_backlog(desk: Any, now: Any, rr: Any) -> None:
    # given a rule tagging tickets whose assignee changes, and a full pool with one waiting ticket
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "tag-assigned",
            "name": "Tag assigned tickets",
            "on": ["ticket.updated"],
            "when": {"field": "ticket.assignee", "op": "changed"},
            "actions": [{"add_tags": ["handed-out"]}],
        },
        created_by=desk.admin,
        now=now,
    )
    make_policy(desk, now, department=rr.dept.pk, cap=1)
    held = [create(desk, rr, now + timedelta(minutes=i)) for i in range(3)]
    waiting = create(desk, rr, now + timedelta(minutes=5))
    # when agent 0 solves their ticket (the drain runs after that change is written)
    change(held[0], now + timedelta(hours=1), status="solved")
    # then the waiting ticket was handed to agent 0 by its own mutation, and the rule saw it
    waiting.refresh_from_db()
    assert waiting.assignee_id == rr.agents[0].pk
    tag_event = TicketEvent.objects.get(ticket=waiting, kind="tags", cause="rule:tag-assigned@1")
    assert tag_event.new_value == ["handed-out"]
    assign_event = TicketEvent.objects.get(
        ticket=waiting, kind="field", field="assignee", actor_kind="system"
    )
    assert assign_event.change_id == tag_event.change_id
    assert AssignmentBacklog.objects.count() == 0


def test_rules_that_have_not_run_see_the_round_robin_assignee_in_the_same_change(
    desk: Any, now: Any, rr: Any
) -> None:
    # given a rule, ordered before the round robin's, that tells the assignee of an assignment
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "a-tell-assignee",
            "name": "Tell the assignee",
            "category": "a",
            "when": {
                "all": [
                    {"field": "ticket.assignee", "op": "changed"},
                    {"field": "ticket.assignee", "op": "present"},
                ]
            },
            "actions": [{"notify": {"to": ["assignee"], "subject": "Yours", "body": "Hi {{ agent.name }}"}}],
        },
        created_by=desk.admin,
        now=now,
    )
    # when a ticket is created and the round robin assigns it after the cycle
    ticket = create(desk, rr, now)
    # then the rule ran on in a continuation of the cycle and told the agent, in this change
    from sportello.automation.models import RuleTrace
    from sportello.outbox.models import OutboxMessage

    [mail] = OutboxMessage.objects.filter(ticket=ticket, payload__rule="a-tell-assignee@1")
    assert (mail.payload["to"], mail.payload["body"]) == ([rr.agents[0].email], "Hi Agent 0")
    trace = RuleTrace.objects.get(ticket=ticket).trace
    assert [(r["rule"], r["pass"], r["outcome"]) for r in trace["rules"]] == [
        ("round-robin", 1, "fired"),
        ("a-tell-assignee", 2, "fired"),
    ]
    assert (trace["fired"], trace["passes"]) == (["round-robin", "a-tell-assignee"], 2)

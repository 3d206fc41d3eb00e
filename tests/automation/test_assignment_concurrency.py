"""Fifty creations at once through the pipeline, each assigned by an event rule through one
round-robin policy: no agent goes over the cap and the spread is even within one ticket.

On PostgreSQL the creations run in 50 threads, each with its own connection and transaction,
started together. SQLite serialises writers on the database file, so there the threaded test is
skipped and the same scenario runs one creation after another (`test_fifty_creations_in_a_row`),
which checks the counting but not the locking.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from sportello.accounts.models import Role
from sportello.accounts.services import agent_create, agent_set_status, department_create
from sportello.automation.assignment import policy_save
from sportello.automation.models import AssignmentBacklog, RuleKind
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline
from sportello.tickets.models import Ticket
from sportello.tickets.pipeline import NewMessage

AGENTS = 6
CAP = 8
CREATIONS = 50  # two more than the pool holds (6 x 8)


def build(desk: Any, now: Any) -> tuple[Any, list[Any], Any]:
    dept = department_create(name="Support")
    agents = [
        agent_create(email=f"c{i}@desk.test", name=f"Agent {i}", role=Role.AGENT, departments=[dept])
        for i in range(AGENTS)
    ]
    for a in agents:
        agent_set_status(user=a, status="online", now=now)
    policy, _ = policy_save(
        definition={
            "key": "support-rr",
            "name": "Support round robin",
            "pool": {"department": dept.pk},
            "max_open_per_agent": CAP,
        },
        created_by=desk.admin,
        now=now,
    )
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "round-robin",
            "name": "Round robin",
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [{"assign": {"policy": policy.pk}}],
        },
        created_by=desk.admin,
        now=now,
    )
    return dept, agents, policy


def create(desk: Any, dept: Any, now: Any, i: int) -> None:
    pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject=f"Ticket {i}",
        requester_id=desk.alice.pk,
        department_id=dept.pk,
        description=NewMessage(body="Help"),
        now=now + timedelta(seconds=i),
    )


def assert_capped_and_even(agents: list[Any], policy: Any) -> None:
    counts = Counter(Ticket.objects.filter(assignee__isnull=False).values_list("assignee_id", flat=True))
    per_agent = [counts.get(a.pk, 0) for a in agents]
    assert Ticket.objects.count() == CREATIONS
    assert max(per_agent) <= CAP
    assert max(per_agent) - min(per_agent) <= 1
    assert sum(per_agent) == AGENTS * CAP
    waiting = AssignmentBacklog.objects.filter(policy=policy).values_list("ticket_id", flat=True)
    assert set(waiting) == set(Ticket.objects.filter(assignee__isnull=True).values_list("pk", flat=True))
    assert len(waiting) == CREATIONS - AGENTS * CAP


def test_fifty_creations_in_a_row(desk: Any, now: Any) -> None:
    dept, agents, policy = build(desk, now)
    for i in range(CREATIONS):
        create(desk, dept, now, i)
    assert_capped_and_even(agents, policy)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_concurrent_creations_never_exceed_the_cap(desk: Any, now: Any) -> None:
    # given a pool of 6 online agents with a cap of 8 and a rule assigning through it
    dept, agents, policy = build(desk, now)
    start = threading.Barrier(CREATIONS)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            start.wait(timeout=60)
            create(desk, dept, now, i)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # when 50 tickets are created at once, each in its own thread and connection
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CREATIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then all were created, nobody holds more than 8, the spread is within one, the rest wait
    assert errors == []
    assert_capped_and_even(agents, policy)

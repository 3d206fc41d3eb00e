"""What blueprints cost every change: nothing of their own in a department without any (the run
comes with the locked ticket, the departments that have blueprints are known per process under
the signature every change reads anyway); where there are, one query reads the ticket's run and
the blueprints it may enter, and entering writes the run. Pinned here (the whole change's count:
tests/tickets/test_query_counts.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline
from sportello.tickets.pipeline import Mutation, NewMessage


def blueprint_queries(fn: Any) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    # Not their own: every configuration's signature (one statement per change), and the locked
    # ticket's read, which brings the run along.
    shared = ("SELECT (SELECT CAST(COUNT(*)", 'SELECT "tickets_ticket"')
    return [
        q["sql"]
        for q in ctx.captured_queries
        if "blueprints_" in q["sql"] and not q["sql"].startswith(shared)
    ]


def reply(desk: Any, ticket: Any, now: Any) -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.WEB,
                          message=NewMessage(body="On it", public=False)),
        now=now,
    )  # fmt: skip


def test_a_change_in_a_department_without_blueprints_costs_no_query_of_its_own(
    desk: Any, open_ticket: Any, now: Any
) -> None:
    open_ticket(kind=None)  # the departments that have blueprints are read once per process
    assert blueprint_queries(lambda: open_ticket(kind=None)) == []
    ticket = open_ticket(kind=None)
    assert blueprint_queries(lambda: reply(desk, ticket, now)) == []


def test_entering_writes_the_run_and_a_change_in_the_process_reads_once(
    desk: Any, returns: Any, open_ticket: Any, now: Any
) -> None:
    open_ticket()  # the definition is parsed once per process
    made: list[Any] = []
    queries = blueprint_queries(lambda: made.append(open_ticket()))
    assert len(queries) == 2  # the read, the run's insert
    assert queries[1].upper().startswith("INSERT")
    assert len(blueprint_queries(lambda: reply(desk, made[0], now))) == 1

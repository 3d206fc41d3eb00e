"""The reports' tables kept by the change pipeline: a story whose figures are counted by hand,
and a property — whatever the sequence of changes (replies, notes, solves, reopens, department
moves, reassignments, merges, back-dated openings), the kept facts and daily roll-ups equal a
from-scratch computation over the audit trail, before and after compaction."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sportello.core.actors import Actor, ActorKind, Via
from sportello.engine import reporting
from sportello.reports import rollups
from sportello.reports.models import DailyRollup, TicketCount, TicketFacts
from sportello.tickets import pipeline, services
from sportello.tickets.change import NewMessage
from sportello.tickets.merge import ticket_merge
from sportello.tickets.models import Ticket
from testing import NOW

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def open_ticket(desk: Any, at: datetime, *, contact: Any = None, department: Any = None) -> Ticket:
    contact = contact or desk.alice
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, contact.pk, contact.name),
        via=Via.EMAIL,
        subject="The parcel never came",
        requester_id=contact.pk,
        department_id=(department or desk.books).pk,
        description=NewMessage(body="Where is it?"),
        now=at,
    ).ticket


def _version(ticket_id: int) -> int:
    return Ticket.objects.values_list("version", flat=True).get(pk=ticket_id)


def reply(
    principal: Any, ticket_id: int, at: datetime, *, public: bool = True, status: str | None = None
) -> None:
    services.message_add(
        principal=principal,
        ticket_id=ticket_id,
        via=Via.WEB,
        body="A message",
        body_html="",
        public=public,
        attachment_ids=[],
        version=None,
        status=status,
        now=at,
    )


def update(principal: Any, ticket_id: int, at: datetime, **data: Any) -> None:
    services.ticket_update(
        principal=principal,
        ticket_id=ticket_id,
        via=Via.WEB,
        data={**data, "version": _version(ticket_id)},
        now=at,
    )


def totals(**filters: Any) -> dict[str, int]:
    out: dict[str, int] = dict.fromkeys(reporting.COUNTERS, 0)
    for row in DailyRollup.objects.filter(**filters).values(*reporting.COUNTERS):
        for name, value in row.items():
            out[name] += value
    return out


def test_a_story_counted_by_hand(desk: Any) -> None:
    t = open_ticket(desk, NOW)  # Alice writes at 10:00
    reply(desk.agent, t.pk, NOW + 2 * HOUR)  # first reply after 2 h; a response of 2 h
    reply(desk.alice, t.pk, NOW + 3 * HOUR)
    reply(desk.alice, t.pk, NOW + 4 * HOUR)
    reply(desk.agent, t.pk, NOW + 4 * HOUR + timedelta(minutes=30), public=False)  # a note answers nobody
    reply(desk.agent, t.pk, NOW + 5 * HOUR, status="solved")  # answers both: 2 h from 13:00; solved at 5 h
    reply(desk.alice, t.pk, NOW + 6 * HOUR)  # reopens it (the customer writes on a solved ticket)
    update(desk.agent, t.pk, NOW + 7 * HOUR, status="solved")

    facts = TicketFacts.objects.get(pk=t.pk)
    assert facts.first_reply_seconds == 2 * 3600
    assert facts.replies == 2
    assert facts.response_seconds == 2 * 3600 + 2 * 3600
    assert facts.solves == 2
    assert facts.reopens == 1
    assert facts.resolution_seconds == 7 * 3600  # to the latest solve
    assert facts.one_touch is False
    assert facts.agent_replies == 2
    assert facts.waiting_since == NOW + 6 * HOUR  # her last message was never answered by a reply

    day = rollups.day_of(NOW)
    sums = totals(day=day, department_id=desk.books.pk)
    assert sums["created"] == 1
    assert sums["first_replies"] == 1
    assert sums["first_reply_seconds"] == 2 * 3600
    assert sums["responses"] == 2
    assert sums["solved"] == 2
    assert sums["reopened"] == 1
    assert sums["resolution_seconds"] == 5 * 3600 + 7 * 3600
    assert sums["one_touch"] == 0
    assert sums["backlog_in"] - sums["backlog_out"] == 0  # solved at the end of the day


def test_backlog_follows_department_moves_and_one_touch(desk: Any) -> None:
    t = open_ticket(desk, NOW)
    update(desk.admin, t.pk, NOW + HOUR, department_id=desk.electronics.pk)
    assert totals(department_id=desk.books.pk)["backlog_in"] == 1
    assert totals(department_id=desk.books.pk)["backlog_out"] == 1
    assert totals(department_id=desk.electronics.pk)["backlog_in"] == 1
    reply(desk.outsider, t.pk, NOW + 2 * HOUR, status="solved")
    electronics = totals(department_id=desk.electronics.pk)
    assert electronics["one_touch"] == 1
    assert electronics["solved"] == 1
    assert electronics["backlog_out"] == 1
    assert totals(department_id=desk.books.pk)["created"] == 1  # counted where it opened


def test_a_merge_is_not_a_solve(desk: Any) -> None:
    a = open_ticket(desk, NOW)
    b = open_ticket(desk, NOW + HOUR)
    ticket_merge(principal=desk.agent, source_id=a.pk, target_id=b.pk, via=Via.WEB, now=NOW + 2 * HOUR)
    sums = totals()
    assert sums["merged"] == 1
    assert sums["solved"] == 0
    assert sums["backlog_in"] - sums["backlog_out"] == 1
    assert TicketFacts.objects.get(pk=a.pk).merged


def test_tickets_opened_before_reports_count_on_their_next_change(desk: Any) -> None:
    t = open_ticket(desk, NOW)
    reply(desk.agent, t.pk, NOW + HOUR)
    TicketFacts.objects.all().delete()
    DailyRollup.objects.all().delete()
    update(desk.agent, t.pk, NOW + 2 * HOUR, status="solved")
    sums = totals()
    assert sums["created"] == 1
    assert sums["first_replies"] == 1
    assert sums["solved"] == 1


def test_days_are_local_dates_of_the_reports_time_zone(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "REPORTS_TIME_ZONE": "America/New_York"}
    at = datetime.fromisoformat("2026-03-10T03:00:00+00:00")  # 23:00 the day before in New York
    open_ticket(desk, at)
    assert DailyRollup.objects.get().day == date(2026, 3, 9)


def test_compaction_keeps_the_sums(desk: Any) -> None:
    for i in range(3):
        open_ticket(desk, NOW + i * HOUR)
    before = totals()
    assert DailyRollup.objects.count() == 3
    removed = rollups.compact(before=rollups.day_of(NOW) + timedelta(days=1))
    assert removed == 2
    assert DailyRollup.objects.count() == 1
    assert totals() == before


# -- the property -----------------------------------------------------------------------------------


Kept = tuple[dict[int, dict[str, Any]], dict[tuple[Any, ...], dict[str, int]], list[tuple[Any, ...]]]
COUNT_COLUMNS = ("ticket_id", "at", *rollups.KEY_COLUMNS, *reporting.COUNTERS)


def kept() -> Kept:
    facts: dict[int, dict[str, Any]] = {row["ticket_id"]: dict(row) for row in TicketFacts.objects.values()}
    counts = sorted(TicketCount.objects.values_list(*COUNT_COLUMNS))
    sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(reporting.COUNTERS, 0))
    for values in DailyRollup.objects.values():
        row: dict[str, Any] = dict(values)
        bucket = sums[tuple(row[c] for c in rollups.KEY_COLUMNS)]
        for name in reporting.COUNTERS:
            bucket[name] += row[name]
    return facts, {k: v for k, v in sums.items() if any(v.values())}, counts


def from_scratch() -> Kept:
    facts: dict[int, dict[str, Any]] = {}
    deltas: list[reporting.Delta] = []
    counts: list[tuple[Any, ...]] = []
    for ticket_id, state, ticket_deltas in rollups.compute(Ticket.objects.values_list("id", flat=True)):
        row = rollups.facts_row(ticket_id, state)
        facts[ticket_id] = {f.attname: getattr(row, f.attname) for f in TicketFacts._meta.concrete_fields}
        deltas.extend(ticket_deltas)
        counts += [
            tuple(getattr(r, c) for c in COUNT_COLUMNS) for r in rollups.count_rows(ticket_id, ticket_deltas)
        ]
    sums: dict[tuple[Any, ...], dict[str, int]] = {}
    for r in rollups.rollup_rows(deltas):
        sums[tuple(getattr(r, c) for c in rollups.KEY_COLUMNS)] = {
            n: getattr(r, n) for n in reporting.COUNTERS
        }
    return facts, sums, sorted(counts)


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["open", "open_back", "agent", "customer", "note", "solve", "reopen", "move", "assign", "merge"]
        ),
        st.integers(0, 5),  # which ticket
        st.integers(1, 600),  # minutes later
    ),
    min_size=1,
    max_size=14,
)


@given(ops=OPS)
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_kept_tables_equal_a_computation_from_scratch(desk: Any, ops: list[tuple[str, int, int]]) -> None:
    from sportello.core.errors import DomainError

    TicketFacts.objects.all().delete()
    DailyRollup.objects.all().delete()
    Ticket.objects.all().delete()  # their counts go with them
    at = NOW
    tickets: list[int] = []
    for op, which, minutes in ops:
        at += timedelta(minutes=minutes)
        if op in ("open", "open_back") or not tickets:
            # A back-dated opening (an import's original instant) counts on its own day.
            when = at - timedelta(days=3) if op == "open_back" else at
            tickets.append(open_ticket(desk, when, contact=desk.bob if which % 2 else desk.alice).pk)
            continue
        t = tickets[which % len(tickets)]
        try:
            if op == "agent":
                reply(desk.admin, t, at)
            elif op == "customer":
                requester = Ticket.objects.select_related("requester").get(pk=t).requester
                reply(requester, t, at)
            elif op == "note":
                reply(desk.admin, t, at, public=False)
            elif op == "solve":
                update(desk.admin, t, at, status="solved")
            elif op == "reopen":
                update(desk.admin, t, at, status="open")
            elif op == "move":
                dept = desk.electronics if which % 2 else desk.books
                update(desk.admin, t, at, department_id=dept.pk)
            elif op == "assign":
                update(desk.admin, t, at, assignee_id=desk.admin.pk if which % 2 else None)
            elif op == "merge" and len(tickets) > 1:
                other = tickets[(which + 1) % len(tickets)]
                ticket_merge(principal=desk.admin, source_id=t, target_id=other, via=Via.WEB, now=at)
        except DomainError:
            pass  # refused (a merged or closed ticket): nothing written, nothing counted
    assert kept() == from_scratch()
    rollups.compact(before=None)
    assert kept() == from_scratch()


def test_rebuild_restores_what_was_lost(desk: Any) -> None:
    from django.core.management import call_command

    a = open_ticket(desk, NOW)
    reply(desk.agent, a.pk, NOW + HOUR, status="solved")
    open_ticket(desk, NOW + 2 * HOUR, department=desk.electronics)
    expected = kept()
    TicketFacts.objects.filter(pk=a.pk).delete()
    DailyRollup.objects.filter(department_id=desk.books.pk).delete()
    TicketCount.objects.filter(ticket_id=a.pk).update(solved=5)
    call_command("reports", "rebuild")
    assert kept() == expected
    assert kept() == from_scratch()

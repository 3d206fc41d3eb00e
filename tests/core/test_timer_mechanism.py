"""The one exact-timer mechanism (`core.timers`): arming keeps what is unchanged and never arms
what fired; firing goes in rounds whose reads and writes do not grow with the timers fired."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sportello.automation import timers
from sportello.automation.models import RuleKind, Timer, TimerFiring
from sportello.automation.services import rule_save
from sportello.core import timers as mechanism
from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage


@pytest.fixture(autouse=True)
def _fresh_time_rule_cache() -> None:
    timers.forget_parsed_rules()


def nudge_rule(desk: Any, now: Any) -> None:
    rule_save(
        kind=RuleKind.TIME,
        definition={"key": "nudge", "name": "Nudge", "anchor": "created", "when": {"all": []},
                    "steps": [{"after": "1h", "actions": [{"add_tags": ["nudged"]}]}]},
        created_by=desk.admin, now=now,
    )  # fmt: skip


def open_tickets(desk: Any, now: Any, n: int) -> list[Any]:
    return [
        pipeline.ticket_create(
            actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"),
            via=Via.WEB,
            subject=f"T{i}",
            requester_id=desk.alice.pk,
            department_id=desk.books.pk,
            description=NewMessage(body="x"),
            now=now,
        ).ticket
        for i in range(n)
    ]


def test_arming_keeps_an_unchanged_timer_with_its_retry_state_and_never_arms_a_fired_key(
    desk: Any, now: Any
) -> None:
    nudge_rule(desk, now)
    [ticket] = open_tickets(desk, now, 1)
    timer = Timer.objects.get()
    Timer.objects.filter(pk=timer.pk).update(attempts=2, last_error="RuntimeError: boom")
    planned = Timer(rule_id=timer.rule_id, rule_version=timer.rule_version, ticket_id=ticket.pk,
                    anchor_key=timer.anchor_key, step=0, due_at=timer.due_at)  # fmt: skip
    # when the same plan is armed again, the row stays as it is (its failed attempts too)
    mechanism.arm(timers.TIME_RULE_TIMERS, scope={"ticket_id": ticket.pk}, wanted=[planned])
    assert list(Timer.objects.values_list("pk", "attempts")) == [(timer.pk, 2)]
    # when the plan moves its due instant, the old row goes and a fresh one is armed
    later = timer.due_at + timedelta(minutes=5)
    moved = Timer(rule_id=timer.rule_id, rule_version=timer.rule_version, ticket_id=ticket.pk,
                  anchor_key=timer.anchor_key, step=0, due_at=later)  # fmt: skip
    mechanism.arm(timers.TIME_RULE_TIMERS, scope={"ticket_id": ticket.pk}, wanted=[moved])
    [again] = Timer.objects.all()
    assert (again.pk != timer.pk, again.attempts, again.due_at) == (
        True,
        0,
        timer.due_at + timedelta(minutes=5),
    )
    # once it fired, arming the same key again arms nothing
    assert [f.outcome for f in timers.timers_fire_due(now=again.due_at)] == ["applied"]
    fresh = Timer(rule_id=timer.rule_id, rule_version=timer.rule_version, ticket_id=ticket.pk,
                  anchor_key=timer.anchor_key, step=0, due_at=again.due_at)  # fmt: skip
    mechanism.arm(timers.TIME_RULE_TIMERS, scope={"ticket_id": ticket.pk}, wanted=[fresh])
    assert not Timer.objects.exists()
    # and an empty plan disarms
    Timer.objects.create(rule_id=timer.rule_id, rule_version=1, ticket_id=ticket.pk, anchor_key="other",
                         step=0, due_at=now)  # fmt: skip
    mechanism.arm(timers.TIME_RULE_TIMERS, scope={"ticket_id": ticket.pk}, wanted=[])
    assert not Timer.objects.exists()


def statements_to_fire(desk: Any, now: Any, n: int) -> int:
    open_tickets(desk, now, n)
    with CaptureQueriesContext(connection) as queries:
        fired = timers.timers_fire_due(now=now + timedelta(hours=1))
    assert [f.outcome for f in fired] == ["applied"] * n
    Timer.objects.all().delete()
    return len(queries.captured_queries)


def test_a_round_reads_and_writes_once_whatever_the_number_of_timers_it_fires(desk: Any, now: Any) -> None:
    nudge_rule(desk, now)
    statements_to_fire(desk, now, 1)  # the caches warm
    # given one, then two, then four timers due together (one round: fewer than ROUND)
    one, two, four = (statements_to_fire(desk, now, n) for n in (1, 2, 4))
    # then each timer adds the same statements (its savepoint, firing row and mutation) and the
    # round's own reads and writes (due timers, tickets, claim, fired keys, outcomes, deletion)
    # are paid once
    per_timer = two - one
    assert four - two == 2 * per_timer
    # (the reads of due timers, then of what is left; the tickets' lock; claim; fired keys; the
    # tickets read for the round's changes; the active rules; the configuration's signatures,
    # read once for the round's changes; outcomes; deletion; the round's transaction)
    assert one - per_timer == 12
    assert TimerFiring.objects.count() == 1 + 1 + 2 + 4


def test_a_round_stops_at_its_size_and_the_next_round_goes_on(desk: Any, now: Any) -> None:
    nudge_rule(desk, now)
    open_tickets(desk, now, 5)
    due = now + timedelta(hours=1)
    # a round of 2: all five fire, in three rounds
    assert len(mechanism.fire_due(timers.TIME_RULE_TIMERS, now=due, size=2)) == 5
    assert (Timer.objects.count(), TimerFiring.objects.filter(outcome="applied").count()) == (0, 5)
    # and a limit below the round stops there
    open_tickets(desk, now, 3)
    assert len(mechanism.fire_due(timers.TIME_RULE_TIMERS, now=due, limit=2, size=25)) == 2
    assert Timer.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_timer_whose_ticket_a_change_holds_is_left_for_a_later_round(desk: Any, now: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED: PostgreSQL only (SQLite serialises writers)")
    from sportello.tickets.models import Ticket

    nudge_rule(desk, now)
    tickets = open_tickets(desk, now, 3)
    busy = tickets[1]
    locked, release = threading.Event(), threading.Event()

    def change_under_way() -> None:
        try:
            with transaction.atomic():
                list(Ticket.objects.select_for_update().filter(pk=busy.pk).values_list("pk"))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=change_under_way)
    holder.start()
    assert locked.wait(10)
    due = now + timedelta(hours=1)
    try:
        # when the timers fall due while a change holds one of the tickets
        fired = timers.timers_fire_due(now=due)
    finally:
        release.set()
        holder.join()
    # then the others fire without waiting for it, and its timer stays armed, untouched
    assert sorted(f.outcome for f in fired) == ["applied", "applied"]
    assert list(Timer.objects.values_list("ticket_id", "attempts")) == [(busy.pk, 0)]
    # and a later round fires it once the change committed
    assert [f.outcome for f in timers.timers_fire_due(now=due)] == ["applied"]
    assert TimerFiring.objects.count() == 3


def test_a_round_that_fails_whole_is_rolled_back_and_its_timers_fired_one_by_one(desk: Any, now: Any) -> None:
    from unittest import mock

    from django.db import OperationalError

    nudge_rule(desk, now)
    tickets = open_tickets(desk, now, 3)
    real = mechanism.Round.write
    calls: list[int] = []

    def deadlocked_once(rnd: Any) -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        real(rnd)

    # when the first round's writes fail (its whole transaction rolled back)
    with mock.patch.object(mechanism.Round, "write", autospec=True, side_effect=deadlocked_once):
        fired = timers.timers_fire_due(now=now + timedelta(hours=1))
    # then each of its timers fired once, in a transaction of its own, none counted as failing
    assert sorted(f.outcome for f in fired) == ["applied"] * 3
    assert len(calls) == 1 + 3
    assert sorted(TimerFiring.objects.values_list("ticket_id", flat=True)) == sorted(t.pk for t in tickets)
    assert not Timer.objects.exists()
    assert all(t.tags.filter(name="nudged").count() == 1 for t in tickets)


def test_timers_of_one_ticket_in_one_round_each_see_the_change_before_theirs(desk: Any, now: Any) -> None:
    # given two time rules due at the same instant on the same ticket, and a ticket beside it
    nudge_rule(desk, now)
    actions = [{"add_tags": ["flagged"]}, {"set": {"field": "ticket.priority", "value": "high"}}]
    rule_save(
        kind=RuleKind.TIME,
        definition={"key": "flag", "name": "Flag", "anchor": "created", "when": {"all": []},
                    "steps": [{"after": "1h", "actions": actions}]},
        created_by=desk.admin, now=now,
    )  # fmt: skip
    first, other = open_tickets(desk, now, 2)
    versions = {t.pk: t.version for t in (first, other)}
    # when one round fires the four timers (the round reads its tickets at once for their changes)
    with CaptureQueriesContext(connection) as queries:
        fired = timers.timers_fire_due(now=now + timedelta(hours=1))
    assert sorted(f.outcome for f in fired) == ["applied"] * 4
    # and the tickets were read by the round (their lock, then all of them for their changes) and
    # once more each for its second change, whose lock the round holds: 4 reads, not 2 per firing
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "tickets_ticket"' in q["sql"]]
    assert len(reads) == 4, reads
    # then each ticket took both changes, one after the other: no change was made on a stale copy
    from sportello.tickets.models import Ticket

    for ticket in Ticket.objects.filter(pk__in=versions).prefetch_related("tags"):
        assert sorted(t.name for t in ticket.tags.all()) == ["flagged", "nudged"]
        assert (ticket.priority, ticket.version) == (3, versions[ticket.pk] + 2)

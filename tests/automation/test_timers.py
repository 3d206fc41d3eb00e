"""Timers of time rules: arming and disarming with the anchors, firing once whatever crashes or
how many workers run, and the preview."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from sportello.automation import timers
from sportello.automation.models import RuleKind, Timer, TimerFiring
from sportello.automation.services import rule_save
from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline
from sportello.tickets.pipeline import Mutation, NewMessage


@pytest.fixture(autouse=True)
def _fresh_time_rule_cache() -> None:
    timers.forget_parsed_rules()


def pending_rule(desk: Any, now: Any) -> Any:
    rule, _ = rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "pending-reminder",
            "name": "Pending reminder",
            "anchor": "status_entered:pending",
            "when": {"field": "ticket.status_category", "op": "is", "value": "pending"},
            "steps": [
                {"after": "2d", "actions": [{"add_tags": ["reminded"]}]},
                {"after": "4d", "actions": [{"set": {"field": "ticket.status", "value": "solved"}}]},
            ],
        },
        created_by=desk.admin,
        now=now,
    )
    return rule


def open_ticket(desk: Any, now: Any) -> Any:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"),
        via=Via.WEB,
        subject="Printer",
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="It jams"),
        now=now,
    ).ticket


def set_status(desk: Any, ticket: Any, status: str, now: Any) -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(
            actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.WEB, fields={"status": status}
        ),
        now=now,
    )


def test_entering_pending_arms_one_timer_per_step_and_leaving_disarms(desk: Any, now: Any) -> None:
    rule = pending_rule(desk, now)
    ticket = open_ticket(desk, now)
    assert Timer.objects.count() == 0  # not pending: no clock running
    # when the ticket enters pending an hour later
    set_status(desk, ticket, "pending", now + timedelta(hours=1))
    start = now + timedelta(hours=1)
    assert list(Timer.objects.order_by("step").values_list("rule_id", "step", "due_at")) == [
        (rule.pk, 0, start + timedelta(days=2)),
        (rule.pk, 1, start + timedelta(days=4)),
    ]
    # when it leaves pending, the anchor is gone: both timers are disarmed
    set_status(desk, ticket, "open", now + timedelta(hours=2))
    assert Timer.objects.count() == 0
    # and re-entering is a new anchor instance, armed afresh
    set_status(desk, ticket, "pending", now + timedelta(hours=3))
    assert sorted(Timer.objects.values_list("due_at", flat=True)) == [
        now + timedelta(hours=3, days=2),
        now + timedelta(hours=3, days=4),
    ]


def test_steps_fire_in_turn_and_a_fired_step_is_not_armed_again(desk: Any, now: Any) -> None:
    pending_rule(desk, now)
    ticket = open_ticket(desk, now)
    set_status(desk, ticket, "pending", now)
    # when the first step is due it tags the ticket (still pending: the timer of step 1 stays)
    assert [f.outcome for f in timers.timers_fire_due(now=now + timedelta(days=2))] == ["applied"]
    assert list(Timer.objects.values_list("step", flat=True)) == [1]
    # and the second step solves it: leaving pending disarms nothing left to disarm
    assert [f.outcome for f in timers.timers_fire_due(now=now + timedelta(days=4))] == ["applied"]
    ticket.refresh_from_db()
    assert (ticket.status.key, Timer.objects.count()) == ("solved", 0)
    assert sorted(TimerFiring.objects.values_list("step", "outcome")) == [(0, "applied"), (1, "applied")]


def test_arming_reads_no_timer_when_no_time_rule_is_active(
    desk: Any, now: Any, django_assert_num_queries: Any
) -> None:
    ticket = open_ticket(desk, now)
    ctx = pipeline.Context(ticket=ticket, mutation=None, principal=None, before={}, now=now, created=False)  # type: ignore[arg-type]
    with django_assert_num_queries(1):  # the list of active time rules, nothing else
        timers.timers_arm(ctx)


def test_a_crash_between_claim_and_commit_is_retried_and_fires_once(desk: Any, now: Any) -> None:
    pending_rule(desk, now)
    ticket = open_ticket(desk, now)
    set_status(desk, ticket, "pending", now)
    due = now + timedelta(days=2)
    # given the first attempt dies after the firing row is written, before the commit
    real = timers._run_step
    crash = RuntimeError("worker killed")
    with mock.patch.object(timers, "_run_step", side_effect=crash):
        assert timers.timers_fire_due(now=due) == []
    # then nothing of it stays but the failed attempt: the timer is still armed, no firing
    # recorded, its next attempt after the back-off (TIMER_RETRY_BASE, 30 s)
    timer = Timer.objects.get(step=0)
    assert (timer.attempts, timer.retry_at, timer.last_error) == (
        1,
        due + timedelta(seconds=30),
        "RuntimeError: worker killed",
    )
    assert TimerFiring.objects.count() == 0
    # when the next round runs after the back-off, it fires once
    with mock.patch.object(timers, "_run_step", wraps=real) as run:
        assert timers.timers_fire_due(now=due + timedelta(seconds=29)) == []
        assert [f.outcome for f in timers.timers_fire_due(now=due + timedelta(seconds=30))] == ["applied"]
        assert timers.timers_fire_due(now=due + timedelta(seconds=30)) == []
    assert run.call_count == 1
    assert list(TimerFiring.objects.values_list("step", "outcome")) == [(0, "applied")]


def test_a_timer_whose_step_already_fired_is_dropped_without_firing_again(desk: Any, now: Any) -> None:
    pending_rule(desk, now)
    ticket = open_ticket(desk, now)
    set_status(desk, ticket, "pending", now)
    timer = Timer.objects.get(step=0)
    timers.timers_fire_due(now=now + timedelta(days=2))
    # given the same timer armed again (e.g. restored from a backup)
    Timer.objects.create(
        rule_id=timer.rule_id,
        rule_version=timer.rule_version,
        ticket_id=timer.ticket_id,
        anchor_key=timer.anchor_key,
        step=0,
        due_at=timer.due_at,
    )
    # then it is dropped as already fired
    assert [f.outcome for f in timers.timers_fire_due(now=now + timedelta(days=2))] == ["already_fired"]
    assert TimerFiring.objects.count() == 1


def test_poller_returns_the_next_due_instant_at_most_a_second_away(desk: Any, now: Any) -> None:
    pending_rule(desk, now)
    ticket = open_ticket(desk, now)
    set_status(desk, ticket, "pending", now)
    assert timers.timers_poll(now) == now + timedelta(seconds=1)
    soon = now + timedelta(days=2) - timedelta(milliseconds=300)
    assert timers.timers_poll(soon) == now + timedelta(days=2)


def test_preview_lists_tickets_the_rule_would_fire_on(desk: Any, now: Any, api: Any) -> None:
    pending_rule(desk, now)
    # opened before they were set pending (a change never happens before the ticket's last one)
    ticket = open_ticket(desk, now - timedelta(days=2))
    other = open_ticket(desk, now - timedelta(days=2))
    set_status(desk, ticket, "pending", now - timedelta(days=1))
    set_status(desk, other, "pending", now - timedelta(hours=1))
    with mock.patch("sportello.core.clock.now", return_value=now):
        body = api(desk.agent).get("/rules/pending-reminder/preview", {"hours": 24}).json()
        # ticket's step 0 is due in 24 h; other's in 47 h: outside the window
        assert [(i["ticket_id"], i["step"]) for i in body["items"]] == [(ticket.pk, 0)]
        assert (body["truncated"], body["version"]) == (False, 1)
        assert api(desk.light).get("/rules/pending-reminder/preview").status_code == 403
        assert api(desk.agent).get("/rules/nope/preview").status_code == 404


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_racing_fire_each_step_once(desk: Any, now: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED: PostgreSQL only (SQLite serialises writers)")
    pending_rule(desk, now)
    tickets = [open_ticket(desk, now) for _ in range(20)]
    for t in tickets:
        set_status(desk, t, "pending", now)
    due = now + timedelta(days=2)  # step 0 of each ticket
    results: list[list[Any]] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(timers.timers_fire_due(now=due))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [f.outcome for r in results for f in r]
    # then each ticket's step fired once, by one worker or the other
    assert sorted(outcomes) == ["applied"] * 20
    assert TimerFiring.objects.count() == 20
    assert set(TimerFiring.objects.values_list("ticket_id", "step")) == {(t.pk, 0) for t in tickets}
    assert set(Timer.objects.values_list("step", flat=True)) == {1}


def test_saving_a_time_rule_arms_timers_on_existing_open_tickets(desk: Any, now: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    from sportello.tickets.models import Status

    # given a pending ticket and a closed one, made before any time rule exists
    agent = Actor(ActorKind.AGENT, desk.agent.pk, "Bruno")
    tickets = []
    for status in ("pending", "closed"):
        out = pipeline.ticket_create(
            actor=agent, via=Via.API, subject=status, requester_id=desk.alice.pk, department_id=desk.books.pk,
            description=NewMessage(body="x"), now=now,
        )  # fmt: skip
        key = Status.objects.get(category=status, is_default=True).key
        pipeline.ticket_apply(
            ticket_id=out.ticket.pk,
            mutation=Mutation(actor=agent, via=Via.API, fields={"status": key}),
            now=now,
        )
        tickets.append(out.ticket)
    pending, _closed = tickets
    assert not Timer.objects.exists()
    # when a time rule is saved
    rule = pending_rule(desk, now)
    # then a job to arm existing tickets is queued with the rule
    assert DBTaskResult.objects.filter(task_path__endswith="rearm_timers").count() == 1
    # and running it arms the open ticket's steps, not the closed one's
    assert timers.timers_rearm(after_id=0) == pending.pk  # closed tickets are not read
    assert sorted((t.ticket_id, t.step, t.due_at) for t in Timer.objects.filter(rule=rule)) == [
        (pending.pk, 0, now + timedelta(days=2)),
        (pending.pk, 1, now + timedelta(days=4)),
    ]
    # and the next batch finds nothing more to do
    assert timers.timers_rearm(after_id=pending.pk) is None


def test_a_step_whose_condition_is_false_on_a_ticket_a_new_sla_policy_covers_fires_once(
    desk: Any, now: Any
) -> None:
    """The step's mutation writes (the SLA policy now covering the ticket attaches to it) although
    the step's condition is false: the pipeline stores the step's trace with that change, and the
    firing must not store it a second time. Before, it did: an IntegrityError rolled the firing
    back, the timer stayed first in line, and no time rule fired anywhere again."""
    from sportello.automation.models import RuleTrace
    from sportello.sla.models import TicketSla
    from sportello.sla.services import policy_save

    rule, _ = rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "electronics-nudge",
            "name": "Electronics nudge",
            "anchor": "created",
            "when": {"field": "ticket.department", "op": "is", "value": desk.electronics.pk},
            "steps": [{"after": "1h", "actions": [{"add_tags": ["nudged"]}]}],
        },
        created_by=desk.admin,
        now=now,
    )
    pending_rule(desk, now)
    # given open Books tickets, then an SLA policy that covers every ticket
    books = open_ticket(desk, now)
    waiting = open_ticket(desk, now)
    set_status(desk, waiting, "pending", now)
    policy, _ = policy_save(
        definition={"key": "std", "name": "Standard", "when": {"all": []},
                    "targets": {"resolution": {"normal": {"within": "30d"}}}},
        actor=desk.admin, now=now,
    )  # fmt: skip
    assert not TicketSla.objects.filter(ticket=books, policy=policy).exists()
    # when the department-scoped rule's step comes due on the Books ticket (condition false)
    fired = timers.timers_fire_due(now=now + timedelta(hours=1))
    # then it is recorded once as not matching, with its one trace, in the change that attached
    # the SLA policy
    assert [f.outcome for f in fired] == ["conditions_false", "conditions_false"]  # both tickets
    books_firing = TimerFiring.objects.get(rule=rule, ticket=books)
    assert (books_firing.outcome, books_firing.change_id) == ("conditions_false", fired[0].change_id)
    assert list(RuleTrace.objects.filter(ticket=books).values_list("change_id", "kind")) == [
        (books_firing.change_id, "timer")
    ]
    assert TicketSla.objects.filter(ticket=books, policy=policy).exists()
    # and time rules go on firing: the pending reminder's first step tags the waiting ticket
    assert [f.outcome for f in timers.timers_fire_due(now=now + timedelta(days=2))] == ["applied"]
    assert "reminded" in set(waiting.tags.values_list("name", flat=True))

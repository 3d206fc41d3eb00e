"""A timer whose firing fails is rolled back alone, retried with back-off, then parked with its
error visible to admins; the other due timers fire meanwhile. The same for every timer kind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest

from sportello.automation import timers
from sportello.automation.models import RuleKind, Timer, TimerFiring
from sportello.automation.services import rule_save
from sportello.core import clock
from sportello.core import timers as mechanism
from sportello.core.actors import Actor, ActorKind, Via
from sportello.ticket_tasks import reminders
from sportello.ticket_tasks.models import TaskReminder
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage

BACKOFF = [30, 60, 120, 240]  # seconds after attempts 1..4 (TIMER_RETRY_BASE 30); the 5th parks


@pytest.fixture(autouse=True)
def _fresh_time_rule_cache() -> None:
    timers.forget_parsed_rules()


def open_ticket(desk: Any, now: Any, subject: str = "Printer") -> Any:
    return pipeline.ticket_create(
        actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.WEB, subject=subject,
        requester_id=desk.alice.pk, department_id=desk.books.pk, description=NewMessage(body="It jams"),
        now=now,
    ).ticket  # fmt: skip


def tag_rule(desk: Any, now: Any) -> None:
    rule_save(
        kind=RuleKind.TIME,
        definition={"key": "nudge", "name": "Nudge", "anchor": "created", "when": {"all": []},
                    "steps": [{"after": "1h", "actions": [{"add_tags": ["nudged"]}]}]},
        created_by=desk.admin, now=now,
    )  # fmt: skip


def test_a_poisoned_time_rule_timer_is_retried_then_parked_and_the_others_fire(
    desk: Any, now: Any, api: Any
) -> None:
    tag_rule(desk, now)
    tickets = [open_ticket(desk, now, f"T{i}") for i in range(4)]
    bad = tickets[1]
    due = now + timedelta(hours=1)
    real = timers._run_step

    def poisoned(saved: Any, timer: Any, at: Any) -> Any:
        if timer.ticket_id == bad.pk:
            raise RuntimeError("boom")
        return real(saved, timer, at)

    with mock.patch.object(timers, "_run_step", side_effect=poisoned) as run:
        # when the four timers are due at once and one fails
        fired = timers.timers_fire_due(now=due)
        # then the three good ones fire; the bad one is rolled back alone, with its error
        assert sorted(f.outcome for f in fired) == ["applied"] * 3
        assert {t.pk for t in tickets if t.tags.filter(name="nudged").exists()} == {
            t.pk for t in tickets if t is not bad
        }
        timer = Timer.objects.get()
        assert (timer.ticket_id, timer.attempts, timer.retry_at, timer.parked_at, timer.last_error) == (
            bad.pk,
            1,
            due + timedelta(seconds=30),
            None,
            "RuntimeError: boom",
        )
        assert not TimerFiring.objects.filter(ticket=bad).exists()
        # and it is retried only when its back-off is over, which doubles
        at = due
        for attempt, delay in enumerate(BACKOFF, start=1):
            assert timers.timers_fire_due(now=at + timedelta(seconds=delay - 1)) == []
            assert Timer.objects.get().attempts == attempt
            at += timedelta(seconds=delay)
            assert timers.timers_fire_due(now=at) == []
        # after the fifth attempt it is parked: not attempted again, however late
        timer = Timer.objects.get()
        assert (timer.attempts, timer.retry_at, timer.parked_at, timer.failing_since) == (5, None, at, due)
        calls = run.call_count
        assert timers.timers_fire_due(now=at + timedelta(days=30)) == []
        assert run.call_count == calls == 3 + 5
        # and the poller does not spin on it: it looks again a second later
        assert timers.timers_poll(at + timedelta(days=30)) == at + timedelta(days=30, seconds=1)
    # the admin sees it, with its ticket, rule, error, attempts and since when
    admin = api(desk.admin)
    with mock.patch.object(clock, "now", return_value=at):
        body = admin.get("/timers/failing").json()
    assert body == {
        "items": [{
            "kind": "time_rule", "id": timer.pk, "ticket_id": bad.pk, "ticket_number": bad.number,
            "what": "time rule nudge step 0", "due_at": due.isoformat().replace("+00:00", "Z"),
            "attempts": 5, "last_error": "RuntimeError: boom",
            "failing_since": due.isoformat().replace("+00:00", "Z"), "retry_at": None,
            "parked_at": at.isoformat().replace("+00:00", "Z"),
        }]
    }  # fmt: skip
    # when the admin retries it (the fault fixed), it fires at the next round
    r = admin.post(f"/timers/failing/time_rule/{timer.pk}/retry", {})
    assert (r.status_code, r.json()["attempts"]) == (200, 5)
    assert admin.get("/timers/failing").json() == {"items": []}
    assert [f.outcome for f in timers.timers_fire_due(now=at + timedelta(days=30))] == ["applied"]
    assert bad.tags.filter(name="nudged").exists()


def test_an_admin_discards_a_parked_timer_and_it_never_fires(desk: Any, now: Any, api: Any) -> None:
    tag_rule(desk, now)
    ticket = open_ticket(desk, now)
    due = now + timedelta(hours=1)
    with mock.patch.object(timers, "_run_step", side_effect=RuntimeError("boom")):
        for _ in range(5):
            timers.timers_fire_due(now=due + timedelta(days=1))
            Timer.objects.update(retry_at=None)  # skip the back-off
    timer = Timer.objects.get()
    assert timer.parked_at is not None
    admin = api(desk.admin)
    assert admin.delete(f"/timers/failing/time_rule/{timer.pk}").status_code == 204
    assert not Timer.objects.exists()
    assert timers.timers_fire_due(now=due + timedelta(days=2)) == []
    assert not ticket.tags.filter(name="nudged").exists()
    # a timer that is not failing, or gone, or of no such kind, is not found
    assert admin.delete(f"/timers/failing/time_rule/{timer.pk}").json()["error"]["code"] == "not_found"
    r = admin.post("/timers/failing/nope/1/retry", {})
    assert (r.status_code, r.json()["error"]["field"]) == (404, "kind")


def test_a_poisoned_task_reminder_is_retried_while_the_others_are_sent(desk: Any, now: Any, api: Any) -> None:
    ticket = open_ticket(desk, now)
    due = now + timedelta(days=1)
    with mock.patch.object(clock, "now", return_value=now):
        ids = [
            api(desk.agent).post(f"/tickets/{ticket.pk}/tasks", {
                "title": f"Call {i}", "assignee_id": desk.agent.pk, "due_at": due.isoformat(),
                "reminders": ["1h"]}).json()["id"]
            for i in range(3)
        ]  # fmt: skip
    real = reminders.outbox.outbox_add

    def poisoned(**kwargs: Any) -> Any:
        if kwargs["payload"]["task"] == ids[0]:
            raise ValueError("no address")
        return real(**kwargs)

    at = due - timedelta(hours=1)
    with mock.patch.object(reminders.outbox, "outbox_add", side_effect=poisoned):
        assert reminders.reminders_send_due(now=at) == ["sent", "sent"]
    bad = TaskReminder.objects.get(task_id=ids[0])
    assert (bad.sent_at, bad.attempts, bad.retry_at, bad.last_error) == (
        None,
        1,
        at + timedelta(seconds=30),
        "ValueError: no address",
    )
    [failing] = mechanism.failing_timers()
    assert (failing.kind, failing.id, failing.ticket_id, failing.parked_at) == ("task_reminder", bad.pk,
                                                                                ticket.pk, None)  # fmt: skip
    # the fault gone, it is sent after its back-off
    assert reminders.reminders_send_due(now=at + timedelta(seconds=29)) == []
    assert reminders.reminders_send_due(now=at + timedelta(seconds=30)) == ["sent"]
    assert mechanism.failing_timers() == []


def test_a_poisoned_sla_timer_is_retried_while_the_others_fire(desk: Any, now: Any) -> None:
    from sportello.sla import timers as sla_timers
    from sportello.sla.models import SlaFiring, SlaTimer
    from sportello.sla.services import policy_save

    policy_save(definition={"key": "std", "name": "Standard", "when": {"all": []},
                            "targets": {"resolution": {"normal": {"within": "1h"}}}},
                actor=desk.admin, now=now)  # fmt: skip
    tickets = [open_ticket(desk, now, f"T{i}") for i in range(3)]
    bad = tickets[2]
    assert SlaTimer.objects.filter(ticket__in=tickets).count() == 3  # one breach each
    real = sla_timers._run

    def poisoned(policy: Any, timer: Any, row: Any, at: Any) -> Any:
        if row.ticket_id == bad.pk:
            raise KeyError("calendar")
        return real(policy, timer, row, at)

    due = now + timedelta(hours=1)
    with mock.patch.object(sla_timers, "_run", side_effect=poisoned):
        assert [f.outcome for f in sla_timers.sla_fire_due(now=due)] == ["applied", "applied"]
    assert set(SlaFiring.objects.values_list("ticket_id", flat=True)) == {t.pk for t in tickets[:2]}
    row = SlaTimer.objects.get(ticket=bad)
    assert (row.attempts, row.retry_at, row.last_error) == (
        1,
        due + timedelta(seconds=30),
        "KeyError: 'calendar'",
    )
    assert [f.outcome for f in sla_timers.sla_fire_due(now=due + timedelta(seconds=30))] == ["applied"]
    assert not SlaTimer.objects.filter(ticket=bad).exists()

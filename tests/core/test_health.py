"""`GET /api/v1/health` and the failure counting of pollers, the scheduler and periodic jobs:
anyone gets the overall status, admins the details; a failing poller shows there and is logged
once, and disappears (logged once more) when it recovers."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from sportello.automation import timers
from sportello.automation.models import RuleKind, Timer
from sportello.automation.services import rule_save
from sportello.core import clock, health
from sportello.core import worker as worker_mod
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.models import FailingWork, WorkerHeartbeat
from sportello.core.scheduler import housekeeping
from sportello.core.worker import Runner, pollers_run, register_poller
from sportello.outbox.services import outbox_add
from sportello.tickets import pipeline
from sportello.tickets.pipeline import NewMessage


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    health.forget_state()
    timers.forget_parsed_rules()


@pytest.fixture
def pollers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_mod, "_POLLERS", {})


def z(at: Any) -> str:
    return at.isoformat().replace("+00:00", "Z")


def beat(now: Any, worker_id: str = "w1") -> None:
    WorkerHeartbeat.objects.create(worker_id=worker_id, host="h", pid=1, started_at=now, last_seen=now)


def test_anyone_gets_the_status_alone_and_admins_the_details(desk: Any, now: Any, api: Any) -> None:
    beat(now - timedelta(seconds=5))
    WorkerHeartbeat.objects.create(worker_id="dead", host="h", pid=2, started_at=now - timedelta(days=1),
                                   last_seen=now - timedelta(hours=1))  # fmt: skip
    with mock.patch.object(clock, "now", return_value=now):
        for user in (None, desk.agent, desk.light):
            r = api(user).client.get("/api/v1/health", headers=api(user).headers)
            assert (r.status_code, r.json()) == (200, {"status": "ok"})
        body = api(desk.admin).get("/health").json()
    latency = body["database"].pop("latency_ms")
    assert isinstance(latency, float)
    assert latency >= 0
    assert body == {
        "status": "ok",
        "database": {"reachable": True},
        "workers": {"alive": 1, "last_seen": z(now - timedelta(seconds=5))},
        "timers": {"due": [], "parked": 0},
        "outbox": {
            "pending": 0,
            "oldest_pending_seconds": None,
            "in_flight": 0,
            "parked": 0,
            "failed": 0,
            "by_kind": {},
        },
        "failing": [],
    }


def test_late_timers_a_parked_one_and_the_outbox_backlog_make_the_desk_degraded(
    desk: Any, now: Any, api: Any
) -> None:
    beat(now)
    rule_save(kind=RuleKind.TIME, definition={
        "key": "nudge", "name": "Nudge", "anchor": "created", "when": {"all": []},
        "steps": [{"after": "1h", "actions": [{"add_tags": ["nudged"]}]}],
    }, created_by=desk.admin, now=now)  # fmt: skip
    tickets = [
        pipeline.ticket_create(
            actor=Actor(ActorKind.AGENT, desk.agent.pk, "Bruno"), via=Via.WEB, subject=f"T{i}",
            requester_id=desk.alice.pk, department_id=desk.books.pk, description=NewMessage(body="x"),
            now=now + timedelta(minutes=i),
        ).ticket
        for i in range(2)
    ]  # fmt: skip
    Timer.objects.filter(ticket=tickets[0]).update(parked_at=now, attempts=5, last_error="boom",
                                                   failing_since=now)  # fmt: skip
    pending_before = (
        __import__("sportello.outbox.models", fromlist=["x"])
        .OutboxMessage.objects.filter(status="pending")
        .count()
    )
    outbox_add(kind="email", ticket=None, change_id=None, dedupe_key="health-test", payload={"to": ["a@b.c"]},
               now=now)  # fmt: skip
    later = now + timedelta(hours=2)  # the second ticket's timer is due since 59 minutes
    beat(later, "w2")
    with mock.patch.object(clock, "now", return_value=later):
        body = api(desk.admin).get("/health").json()
        assert api(None).client.get("/api/v1/health").json() == {"status": "degraded"}
    assert body["status"] == "degraded"
    assert body["timers"] == {
        "due": [{"kind": "time_rule", "oldest_due_at": z(now + timedelta(hours=1, minutes=1)),
                 "late_seconds": 59 * 60.0}],
        "parked": 1,
    }  # fmt: skip
    assert body["outbox"]["pending"] == pending_before + 1
    assert body["workers"] == {"alive": 1, "last_seen": z(later)}


def test_an_unreachable_database_answers_503_failing(desk: Any, api: Any) -> None:
    with mock.patch.object(health, "database_check", return_value=(False, None)):
        r = api(None).client.get("/api/v1/health")
        assert (r.status_code, r.json()) == (503, {"status": "failing"})
        r = api(desk.admin).client.get("/api/v1/health", headers=api(desk.admin).headers)
        assert (r.status_code, r.json()) == (503, {"status": "failing"})


def test_a_failing_poller_is_counted_shown_and_logged_once_until_it_recovers(
    desk: Any, now: Any, api: Any, pollers: None, caplog: pytest.LogCaptureFixture
) -> None:
    beat(now)
    broken = {"on": True}

    def flaky(at: Any) -> None:
        if broken["on"]:
            raise RuntimeError("mailbox unreachable")

    register_poller("t-flaky", flaky)
    caplog.set_level(logging.INFO, logger="sportello.core.health")
    # when the poller fails three rounds in a row
    for i in range(3):
        pollers_run(now=now + timedelta(seconds=i))
    # then it is logged once, with its traceback, and counted
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "poller t-flaky failed: RuntimeError: mailbox unreachable (logged again when it recovers)"
    ]
    assert errors[0].exc_info is not None
    with mock.patch.object(clock, "now", return_value=now + timedelta(seconds=3)):
        body = api(desk.admin).get("/health").json()
        assert api(None).client.get("/api/v1/health").json() == {"status": "degraded"}
    assert (body["status"], body["failing"]) == ("degraded", [{
        "name": "poller:t-flaky", "failures": 3, "last_error": "RuntimeError: mailbox unreachable",
        "failing_since": z(now), "last_failure_at": z(now + timedelta(seconds=2)),
    }])  # fmt: skip
    # when it works again, it recovers: one info line, and it is gone from the report
    caplog.clear()
    broken["on"] = False
    pollers_run(now=now + timedelta(seconds=4))
    pollers_run(now=now + timedelta(seconds=5))
    assert [r.getMessage() for r in caplog.records] == ["poller t-flaky recovered after 3 failures"]
    assert not FailingWork.objects.exists()
    with mock.patch.object(clock, "now", return_value=now + timedelta(seconds=6)):
        assert api(desk.admin).get("/health").json()["failing"] == []


def test_a_worker_that_died_failing_is_cleared_by_another_after_a_minute(
    db: Any, now: Any, pollers: None
) -> None:
    FailingWork.objects.create(name="poller:t-ok", failures=7, last_error="x", failing_since=now,
                               last_failure_at=now)  # fmt: skip
    register_poller("t-ok", lambda at: None)
    pollers_run(now=now + timedelta(seconds=30))  # another worker may still be failing: kept
    assert FailingWork.objects.get().failures == 7
    pollers_run(now=now + timedelta(seconds=89))  # this process looks again a minute later
    assert FailingWork.objects.get().failures == 7
    pollers_run(now=now + timedelta(seconds=90))  # nobody failed for a minute: cleared
    assert not FailingWork.objects.exists()


def test_a_failing_scheduler_tick_is_counted_and_recovers(db: Any, now: Any, pollers: None) -> None:
    runner = Runner(heartbeat_thread=False, now=lambda: now)
    with mock.patch.object(runner.scheduler, "tick", side_effect=RuntimeError("no slots")):
        runner.run_once()
        runner.run_once()
    assert list(FailingWork.objects.values_list("name", "failures", "last_error")) == [
        ("scheduler", 2, "RuntimeError: no slots")
    ]
    runner.run_once()
    assert not FailingWork.objects.exists()


def test_a_periodic_job_whose_latest_runs_failed_is_reported(desk: Any, now: Any, api: Any) -> None:
    beat(now)

    def run(status: Any, finished: Any) -> None:
        result = housekeeping.enqueue()
        DBTaskResult.objects.filter(pk=result.id).update(
            status=status, finished_at=finished, exception_class_path="builtins.RuntimeError"
            if status == TaskResultStatus.FAILED else ""
        )  # fmt: skip

    run(TaskResultStatus.FAILED, now - timedelta(hours=3))
    run(TaskResultStatus.SUCCESSFUL, now - timedelta(hours=2))
    run(TaskResultStatus.FAILED, now - timedelta(hours=1))
    run(TaskResultStatus.FAILED, now)
    with mock.patch.object(clock, "now", return_value=now):
        failing = api(desk.admin).get("/health").json()["failing"]
    assert failing == [{
        "name": "job:housekeeping", "failures": 2, "last_error": "builtins.RuntimeError",
        "failing_since": z(now - timedelta(hours=1)), "last_failure_at": z(now),
    }]  # fmt: skip
    run(TaskResultStatus.SUCCESSFUL, now + timedelta(hours=1))
    with mock.patch.object(clock, "now", return_value=now + timedelta(hours=1)):
        assert api(desk.admin).get("/health").json()["failing"] == []


def test_a_parked_delivery_makes_the_desk_degraded_and_is_counted(desk: Any, now: Any, api: Any) -> None:
    from sportello.outbox.models import OutboxMessage, OutboxStatus

    beat(now)
    item = outbox_add(kind="webhook", ticket=None, change_id=None, dedupe_key="health-parked",
                      payload={"url": "https://hooks.shop.test/in", "body": "{}"}, now=now)  # fmt: skip
    OutboxMessage.objects.filter(pk=item.pk).update(status=OutboxStatus.PARKED, parked_at=now)
    with mock.patch.object(clock, "now", return_value=now):
        body = api(desk.admin).get("/health").json()
        assert api(None).client.get("/api/v1/health").json() == {"status": "degraded"}
    assert body["status"] == "degraded"
    assert (body["outbox"]["parked"], body["outbox"]["pending"]) == (1, 0)
    assert body["outbox"]["by_kind"]["webhook"]["parked"] == 1

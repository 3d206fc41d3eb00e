"""The worker loop: tasks, pollers, batch exit, clean stop on a signal, heartbeats and recovery
of tasks left running by a dead worker."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.tasks import task
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from sportello.core import worker as worker_mod
from sportello.core.models import RecoveryAction, TaskRecovery, WorkerHeartbeat
from sportello.core.worker import Runner, pollers_run, register_poller, task_recover
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.services import outbox_add
from testing import NOW


@task()
def sleepy() -> str:
    return "done"


@pytest.fixture
def pollers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An empty poller registry for the test (other apps' pollers stay out of it)."""
    monkeypatch.setattr(worker_mod, "_POLLERS", {})
    return []


def add_email(key: str) -> OutboxMessage:
    return outbox_add(
        kind="email",
        ticket=None,
        change_id=None,
        dedupe_key=key,
        payload={"to": ["alice@acme.test"], "subject": "Hi", "body": "Hello"},
        now=NOW,
    )


# -- pollers -------------------------------------------------------------------------------------


def test_pollers_run_returns_the_earliest_instant_and_survives_a_failing_poller(
    db: Any, pollers: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def later(now: datetime) -> datetime:
        calls.append("later")
        return now + timedelta(seconds=30)

    def broken(now: datetime) -> datetime:
        calls.append("broken")
        raise RuntimeError("boom")

    def sooner(now: datetime) -> datetime:
        calls.append("sooner")
        return now + timedelta(seconds=3)

    def idle(now: datetime) -> None:
        calls.append("idle")

    for name, fn in (("t-later", later), ("t-broken", broken), ("t-sooner", sooner), ("t-idle", idle)):
        register_poller(name, fn)
        pollers.append(name)
    with caplog.at_level(logging.ERROR, logger="sportello.core.worker"):
        earliest = pollers_run(now=NOW)
    assert earliest == NOW + timedelta(seconds=3)
    assert calls == ["later", "broken", "sooner", "idle"]
    assert "poller t-broken failed" in caplog.text
    assert "RuntimeError: boom" in caplog.text


# -- the loop ---------------------------------------------------------------------------------


def test_batch_mode_runs_queued_jobs_and_due_pollers_then_exits(db: Any, pollers: list[str]) -> None:
    # given two e-mails queued and a poller with two rounds of due work
    a, b = add_email("w:1"), add_email("w:2")
    rounds = [2]

    def timers(now: datetime) -> datetime | None:
        if rounds[0] == 0:
            return None
        rounds[0] -= 1
        return now if rounds[0] else now + timedelta(hours=1)

    register_poller("t-timers", timers)
    pollers.append("t-timers")
    # when a batch worker runs
    runner = Runner(batch=True, heartbeat_thread=False, interval=0.01)
    started = time.monotonic()
    runner.run(install_signals=False)
    # then both were delivered, the poller's due work was done, and it stopped by itself
    assert time.monotonic() - started < 10
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@acme.test", "alice@acme.test"]
    assert set(OutboxMessage.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {
        OutboxStatus.SENT
    }
    assert rounds == [0]
    # and the worker's heartbeat row is gone after a clean stop
    assert not WorkerHeartbeat.objects.filter(worker_id=runner.worker_id).exists()


def test_the_worker_command_in_batch_mode_exits_when_nothing_is_left(db: Any) -> None:
    add_email("w:cmd")
    call_command("worker", batch=True, verbosity=0)
    assert [m.subject for m in mail.outbox] == ["Hi"]
    # the periodic jobs' current slots were enqueued and run as well
    assert (
        DBTaskResult.objects.filter(
            task_path="sportello.core.worker.recover_tasks", status=TaskResultStatus.SUCCESSFUL
        ).count()
        == 1
    )


def test_a_sigterm_stops_the_loop_cleanly_after_the_current_round(db: Any, pollers: list[str]) -> None:
    # given a non-batch worker and a poller that delivers SIGTERM on its second call
    calls: list[int] = []

    def terminator(now: datetime) -> None:
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    register_poller("t-term", terminator)
    pollers.append("t-term")
    before = signal.getsignal(signal.SIGTERM)
    runner = Runner(heartbeat_thread=False, interval=0.01)
    # when it runs
    started = time.monotonic()
    runner.run()
    # then it returned by itself, promptly, and put the previous handler back
    assert time.monotonic() - started < 5
    assert len(calls) == 2
    assert runner.running is False
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_idle_worker_polls_at_least_once_a_second_whatever_its_interval(
    pollers: list[str], settings: Any
) -> None:
    # given a poller that says its next work is an hour away, and a 30 s idle interval
    settings.SPORTELLO = {**settings.SPORTELLO, "POLL_MAX_SLEEP": 0.2}
    calls: list[float] = []

    def far(now: datetime) -> datetime:
        calls.append(time.monotonic())
        return now + timedelta(hours=1)

    register_poller("t-far", far)
    pollers.append("t-far")
    runner = Runner(heartbeat_thread=False, interval=30)

    def run() -> None:
        try:
            runner.run(install_signals=False)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(1.0)
    runner.stop()
    thread.join(timeout=10)
    # then the poller was called every POLL_MAX_SLEEP, and stop() ended the loop
    assert not thread.is_alive()
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) >= 3
    assert max(gaps) < 0.2 + 0.3


# -- heartbeats and recovery -----------------------------------------------------------------


def running_task(*, worker_id: str, started_at: datetime) -> str:
    result = sleepy.enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, started_at=started_at, worker_ids=[worker_id]
    )
    return str(result.id)


def beat(worker_id: str, last_seen: datetime) -> None:
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        host="box",
        pid=42,
        started_at=last_seen - timedelta(hours=1),
        last_seen=last_seen,
    )


def test_tasks_of_a_dead_worker_are_requeued_and_a_live_workers_are_left_alone(
    db: Any, settings: Any
) -> None:

    # given a 300 s dead-after, a worker last seen 10 minutes ago and one seen just now
    settings.SPORTELLO = {**settings.SPORTELLO, "WORKER_DEAD_AFTER": 300.0, "TASK_MAX_RECOVERIES": 3}
    beat("dead-1", NOW - timedelta(minutes=10))
    beat("alive-1", NOW - timedelta(seconds=5))
    orphan = running_task(worker_id="dead-1", started_at=NOW - timedelta(minutes=11))
    busy = running_task(worker_id="alive-1", started_at=NOW - timedelta(minutes=30))
    # and a task of a worker that never wrote a heartbeat, started long ago
    unknown = running_task(worker_id="db-worker-x", started_at=NOW - timedelta(minutes=20))
    # and one that started a moment ago under a worker with no heartbeat yet
    fresh = running_task(worker_id="new-1", started_at=NOW - timedelta(seconds=20))
    # when the recovery check runs
    done = task_recover(now=NOW)
    # then the orphans are ready again and what was done is recorded
    assert done == {"requeued": 2, "failed": 0}
    status = dict(DBTaskResult.objects.values_list("pk", "status"))
    by_id = {str(k): v for k, v in status.items()}
    assert by_id == {
        orphan: TaskResultStatus.READY,
        busy: TaskResultStatus.RUNNING,
        unknown: TaskResultStatus.READY,
        fresh: TaskResultStatus.RUNNING,
    }
    records = sorted(TaskRecovery.objects.values_list("task_result_id", "worker_id", "action", "at"))
    assert records == sorted(
        [
            (orphan, "dead-1", RecoveryAction.REQUEUED, NOW),
            (unknown, "db-worker-x", RecoveryAction.REQUEUED, NOW),
        ]
    )
    assert DBTaskResult.objects.get(pk=orphan).started_at is None


def test_a_task_recovered_too_often_is_marked_failed(db: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "WORKER_DEAD_AFTER": 60.0, "TASK_MAX_RECOVERIES": 2}
    task_id = running_task(worker_id="dead-1", started_at=NOW - timedelta(minutes=5))
    actions = []
    for i in range(3):
        at = NOW + timedelta(minutes=10 * i)
        DBTaskResult.objects.filter(pk=task_id).update(
            status=TaskResultStatus.RUNNING, started_at=at - timedelta(minutes=5), worker_ids=[f"dead-{i}"]
        )
        actions.append(task_recover(now=at))
    assert actions == [
        {"requeued": 1, "failed": 0},
        {"requeued": 1, "failed": 0},
        {"requeued": 0, "failed": 1},
    ]
    result = DBTaskResult.objects.get(pk=task_id)
    assert result.status == TaskResultStatus.FAILED
    assert result.exception_class_path == "sportello.core.worker.WorkerLost"
    assert result.traceback == "WorkerLost: worker dead-2 stopped while running this task, after 2 recoveries"
    assert list(TaskRecovery.objects.order_by("at").values_list("action", flat=True)) == [
        RecoveryAction.REQUEUED,
        RecoveryAction.REQUEUED,
        RecoveryAction.FAILED,
    ]


def test_a_requeued_task_is_run_by_the_next_worker(db: Any, settings: Any) -> None:
    # given an e-mail whose delivery job was running on a worker that died
    settings.SPORTELLO = {**settings.SPORTELLO, "WORKER_DEAD_AFTER": 60.0}
    item = add_email("w:orphan")
    job = DBTaskResult.objects.get(args_kwargs__kwargs__outbox_id=item.pk)
    DBTaskResult.objects.filter(pk=job.pk).update(
        status=TaskResultStatus.RUNNING, started_at=NOW - timedelta(hours=1), worker_ids=["dead-9"]
    )
    # when recovery runs and then a worker
    task_recover(now=worker_mod.clock.now())
    Runner(batch=True, heartbeat_thread=False, interval=0.01).run(install_signals=False)
    # then the e-mail went out once and the job finished
    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.get(pk=job.pk).status == TaskResultStatus.SUCCESSFUL


def test_a_running_worker_writes_its_heartbeat(db: Any, pollers: list[str]) -> None:
    seen: list[tuple[str, int]] = []
    runner = Runner(batch=True, heartbeat_thread=False, interval=0.01)

    def look(now: datetime) -> None:
        row = WorkerHeartbeat.objects.get(worker_id=runner.worker_id)
        seen.append((row.host, row.pid))

    register_poller("t-look", look)
    pollers.append("t-look")
    runner.run(install_signals=False)
    assert seen
    assert seen[0][1] == os.getpid()


# -- fair claiming -------------------------------------------------------------------------------


def queued(queue: str, *, enqueued_at: datetime, run_after: datetime | None = None) -> str:
    result = sleepy.using(queue_name=queue).enqueue()
    changes: dict[str, Any] = {"enqueued_at": enqueued_at}
    if run_after is not None:
        changes["run_after"] = run_after
    DBTaskResult.objects.filter(pk=result.id).update(**changes)
    return str(result.id)


def test_queues_are_claimed_in_turn_and_each_in_the_order_its_tasks_became_ready(db: Any) -> None:
    # given, in the webhook queue, a fresh task, a retry due before it was enqueued and a retry
    # due after; and two fresh e-mail tasks enqueued last
    now = worker_mod.clock.now()
    fresh_hook = queued("webhook", enqueued_at=now - timedelta(minutes=5))
    early_retry = queued(
        "webhook", enqueued_at=now - timedelta(hours=1), run_after=now - timedelta(minutes=10)
    )
    late_retry = queued("webhook", enqueued_at=now - timedelta(hours=2), run_after=now - timedelta(minutes=1))
    mail_1 = queued("email", enqueued_at=now - timedelta(seconds=30))
    mail_2 = queued("email", enqueued_at=now - timedelta(seconds=20))
    # when a worker claims them one by one
    runner = Runner(heartbeat_thread=False)
    order = []
    while (claimed := runner._claim_task()[0]) is not None:
        order.append(str(claimed.pk))
    # then e-mail and webhook tasks alternate, and each queue goes by readiness: a retry due
    # ten minutes ago, the task enqueued five minutes ago, the retry due a minute ago
    assert order == [mail_1, early_retry, mail_2, fresh_hook, late_retry]


# -- a worker killed mid-delivery ------------------------------------------------------------------


def test_a_delivery_in_flight_on_a_worker_that_died_is_recovered_within_seconds_and_sent_once(
    db: Any, settings: Any
) -> None:
    # given an e-mail whose delivery task a worker claimed 40 s ago, and that worker's attempt
    # (its lease runs two minutes) lost with it: its last heartbeat was 40 s ago
    settings.SPORTELLO = {
        **settings.SPORTELLO,
        "WORKER_DEAD_AFTER": 30.0,
        "WORKER_RECOVER_EVERY": 10.0,
        "OUTBOX_LEASE": 120.0,
    }
    now = worker_mod.clock.now()
    item = add_email("w:killed")
    job = DBTaskResult.objects.get(args_kwargs__kwargs__outbox_id=item.pk)
    DBTaskResult.objects.filter(pk=job.pk).update(
        status=TaskResultStatus.RUNNING, started_at=now - timedelta(seconds=40), worker_ids=["dead-7"]
    )
    beat("dead-7", now - timedelta(seconds=40))
    from sportello.outbox import services as channel_services

    claim = channel_services._claim(
        outbox_id=item.pk, now=now - timedelta(seconds=40), lease_owner=str(job.pk)
    )
    assert not isinstance(claim, channel_services._Done)
    # when another worker runs its loop (no periodic job is due: the loop checks by itself)
    runner = Runner(batch=True, heartbeat_thread=False, interval=0.01)
    runner.scheduler.tick = lambda *, now: None  # type: ignore[method-assign]
    runner.run(install_signals=False)
    # then the task was re-queued and the e-mail sent, once, by the same task, now rather than
    # when the dead worker's lease runs out
    assert [m.subject for m in mail.outbox] == ["Hi"]
    item.refresh_from_db()
    assert (item.status, item.attempts, item.lease_until, item.lease_owner) == (
        OutboxStatus.SENT,
        2,
        None,
        "",
    )
    assert DBTaskResult.objects.get(pk=job.pk).status == TaskResultStatus.SUCCESSFUL
    assert list(TaskRecovery.objects.values_list("task_result_id", "worker_id", "action")) == [
        (str(job.pk), "dead-7", RecoveryAction.REQUEUED)
    ]


def test_a_lease_held_by_another_task_is_still_waited_out(db: Any) -> None:
    # given an attempt in flight under one task, and a second job for the same e-mail
    from sportello.outbox import services as channel_services

    item = add_email("w:two-jobs")
    assert not isinstance(
        channel_services._claim(outbox_id=item.pk, now=NOW, lease_owner="task-a"), channel_services._Done
    )
    # when the second job runs during the lease, it sends nothing
    assert (
        channel_services.outbox_deliver(
            outbox_id=item.pk, now=NOW + timedelta(seconds=5), lease_owner="task-b"
        )
        == OutboxStatus.PENDING
    )
    assert mail.outbox == []
    item.refresh_from_db()
    assert (item.attempts, item.lease_owner) == (1, "task-a")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_heartbeat_thread_beats_while_a_long_task_runs(settings: Any, pollers: list[str]) -> None:
    # given a beat every 50 ms and a task that blocks the loop for a second
    settings.SPORTELLO = {**settings.SPORTELLO, "WORKER_HEARTBEAT_EVERY": 0.05}
    seen: list[datetime] = []
    runner = Runner(batch=True, heartbeat_thread=True, interval=0.01)
    started = threading.Event()

    def long_poller(now: datetime) -> None:
        if started.is_set():
            return
        started.set()
        first = WorkerHeartbeat.objects.get(worker_id=runner.worker_id).last_seen
        time.sleep(1.0)
        seen.extend([first, WorkerHeartbeat.objects.get(worker_id=runner.worker_id).last_seen])

    register_poller("t-long", long_poller)
    pollers.append("t-long")
    try:
        runner.run(install_signals=False)
    finally:
        connection.close()
    # then the heartbeat moved on during it
    assert len(seen) == 2
    assert seen[1] > seen[0]

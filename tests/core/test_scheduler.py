"""The periodic scheduler: epoch-aligned slots, each enqueued exactly once however many workers
tick at once (threads on the test database: SQLite or PostgreSQL), and housekeeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.tasks import task
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import strategies as st

from sportello.core.models import ScheduledSlot, TaskRecovery, WorkerHeartbeat
from sportello.core.scheduler import (
    EPOCH,
    PeriodicJob,
    Scheduler,
    housekeeping,
    housekeeping_run,
    register_job,
    registered_jobs,
    slot_start,
)
from testing import NOW


@task()
def tick_probe() -> str:
    return "ok"


JOB = PeriodicJob(name="probe", every=timedelta(minutes=5), task=tick_probe)


def probe_jobs() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=tick_probe.module_path))


@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    seconds=st.integers(min_value=1, max_value=7 * 86400),
)
def test_a_slot_is_the_epoch_aligned_period_holding_now(now: datetime, seconds: int) -> None:
    every = timedelta(seconds=seconds)
    start = slot_start(every=every, now=now)
    assert start <= now < start + every
    assert (start - EPOCH) % every == timedelta(0)


def test_an_hourly_slot_starts_on_the_hour() -> None:
    assert slot_start(every=timedelta(hours=1), now=NOW) == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_the_housekeeping_and_recovery_jobs_are_registered() -> None:
    import sportello.core.worker  # noqa: F401  (registers the recovery job)

    jobs = {j.name: j.every for j in registered_jobs()}
    assert jobs["housekeeping"] == timedelta(hours=1)
    assert jobs["recover_tasks"] == timedelta(minutes=1)


def test_register_job_refuses_a_period_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive period"):
        register_job(name="never", every=timedelta(0), task=tick_probe)


def test_a_tick_enqueues_each_slot_once_and_says_when_the_next_starts(db: Any) -> None:
    scheduler = Scheduler(jobs=lambda: [JOB])
    # when ticking twice within one slot, then once in the next
    first = scheduler.tick(now=NOW)
    again = scheduler.tick(now=NOW + timedelta(minutes=2))
    after = scheduler.tick(now=NOW + timedelta(minutes=5))
    # then one job per slot, and each tick named the next slot's start
    slot = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert (first, again, after) == (slot + JOB.every, slot + JOB.every, slot + 2 * JOB.every)
    rows = list(ScheduledSlot.objects.order_by("slot_start").values_list("name", "slot_start"))
    assert rows == [("probe", slot), ("probe", slot + JOB.every)]
    assert len(probe_jobs()) == 2


def test_a_second_scheduler_finds_the_slot_taken_and_enqueues_nothing(db: Any) -> None:
    Scheduler(jobs=lambda: [JOB]).tick(now=NOW)
    Scheduler(jobs=lambda: [JOB]).tick(now=NOW)
    assert ScheduledSlot.objects.count() == 1
    assert len(probe_jobs()) == 1
    assert ScheduledSlot.objects.get().task_result_id == str(probe_jobs()[0].id)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_many_workers_ticking_at_once_enqueue_each_slot_exactly_once() -> None:
    # given 6 workers (threads, each with its own connection) ticking through 8 slots together
    workers, slots = 6, 8
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def worker() -> None:
        scheduler = Scheduler(jobs=lambda: [JOB])
        try:
            for i in range(slots):
                at = NOW + i * JOB.every
                barrier.wait(timeout=30)
                for _ in range(50):  # a busy database answers "later": tick again, bounded
                    if scheduler.tick(now=at) == slot_start(every=JOB.every, now=at) + JOB.every:
                        break
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then every slot has exactly one row and exactly one queued job
    assert errors == []
    assert ScheduledSlot.objects.filter(name="probe").count() == slots
    assert len(probe_jobs()) == slots
    starts = sorted(ScheduledSlot.objects.values_list("slot_start", flat=True))
    assert starts == [slot_start(every=JOB.every, now=NOW) + i * JOB.every for i in range(slots)]


def test_housekeeping_deletes_only_what_is_older_than_the_retention(db: Any, settings: Any) -> None:
    # given a 14-day retention and rows on both sides of the cutoff
    settings.SPORTELLO = {**settings.SPORTELLO, "TASK_RESULT_RETENTION_DAYS": 14}
    old, recent = NOW - timedelta(days=15), NOW - timedelta(days=13)

    def result(status: str, finished_at: datetime | None) -> str:
        r = tick_probe.enqueue()
        DBTaskResult.objects.filter(pk=r.id).update(status=status, finished_at=finished_at)
        return str(r.id)

    result(TaskResultStatus.SUCCESSFUL, old)
    result(TaskResultStatus.FAILED, old)
    kept = {
        result(TaskResultStatus.SUCCESSFUL, recent),
        result(TaskResultStatus.READY, None),
        result(TaskResultStatus.RUNNING, None),
    }
    for at in (old, recent):
        ScheduledSlot.objects.create(name=f"s{at.day}", slot_start=at, enqueued_at=at)
        WorkerHeartbeat.objects.create(worker_id=f"w{at.day}", host="h", pid=1, started_at=at, last_seen=at)
        TaskRecovery.objects.create(
            task_result_id="x", task_path="p", worker_id="w", action="requeued", at=at
        )
    # when housekeeping runs, in small batches
    deleted = housekeeping_run(now=NOW, batch_size=1)
    # then the old rows are gone and the rest is kept
    assert deleted == {"task_results": 2, "slots": 1, "heartbeats": 1, "recoveries": 1}
    remaining = {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)}
    assert remaining == kept
    assert list(ScheduledSlot.objects.values_list("slot_start", flat=True)) == [recent]
    assert list(WorkerHeartbeat.objects.values_list("last_seen", flat=True)) == [recent]
    assert list(TaskRecovery.objects.values_list("at", flat=True)) == [recent]


def test_housekeeping_is_a_task() -> None:
    assert housekeeping.module_path == "sportello.core.scheduler.housekeeping"

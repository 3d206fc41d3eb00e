"""Periodic jobs, each slot enqueued exactly once however many workers run.

A job runs every `every`, in slots aligned to the Unix epoch (an hourly job's slots start on the
hour). Each worker's scheduler loop computes the current slot of every job and, in one
transaction, inserts the unique `ScheduledSlot(name, slot_start)` row and enqueues the job's
task: the worker that loses the race gets an IntegrityError and enqueues nothing. A slot missed
while no worker ran is not caught up: the next slot runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.tasks import Task, task

from .models import ScheduledSlot, TaskRecovery, WorkerHeartbeat

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: Task[..., Any]


_JOBS: dict[str, PeriodicJob] = {}


def register_job(*, name: str, every: timedelta, task: Task[..., Any]) -> PeriodicJob:
    """Register (or replace) a periodic job. Call at import or from an AppConfig.ready()."""
    if every <= timedelta(0):
        raise ValueError("a periodic job needs a positive period")
    if not name or len(name) > 100:
        raise ValueError("a periodic job needs a name of 1 to 100 characters")
    job = PeriodicJob(name=name, every=every, task=task)
    _JOBS[name] = job
    return job


def unregister_job(name: str) -> None:
    _JOBS.pop(name, None)


def registered_jobs() -> list[PeriodicJob]:
    return sorted(_JOBS.values(), key=lambda j: j.name)


def slot_start(*, every: timedelta, now: datetime) -> datetime:
    """The start of the slot holding `now`: the latest epoch + k·every that is ≤ now."""
    return EPOCH + ((now - EPOCH) // every) * every


def slot_enqueue(*, job: PeriodicJob, slot: datetime, now: datetime) -> bool | None:
    """Claim `slot` for `job` and enqueue its task, in one transaction. True: this call
    enqueued it; False: another worker had (the slot row exists); None: the database was busy,
    try again later."""
    try:
        with transaction.atomic():
            row = ScheduledSlot.objects.create(name=job.name, slot_start=slot, enqueued_at=now)
            result = job.task.enqueue()
            row.task_result_id = str(result.id)
            row.save(update_fields=["task_result_id"])
    except IntegrityError:
        return False
    except OperationalError as exc:  # SQLite: "database is locked" under contention
        logger.info("scheduler: slot %s@%s not claimed now: %s", job.name, slot.isoformat(), exc)
        return None
    return True


class Scheduler:
    """The scheduler loop's state in one worker: which slots it has already settled, so a
    settled slot costs no query."""

    def __init__(self, *, jobs: Callable[[], list[PeriodicJob]] = registered_jobs) -> None:
        self._jobs = jobs
        self._settled: dict[str, datetime] = {}

    def tick(self, *, now: datetime) -> datetime | None:
        """Enqueue every job's current slot unless settled; return when the next slot starts."""
        next_at: datetime | None = None
        for job in self._jobs():
            slot = slot_start(every=job.every, now=now)
            if self._settled.get(job.name) != slot:
                outcome = slot_enqueue(job=job, slot=slot, now=now)
                if outcome is not None:
                    self._settled[job.name] = slot
                    if outcome:
                        logger.info("scheduler: enqueued %s for %s", job.name, slot.isoformat())
            nxt = slot + job.every if self._settled.get(job.name) == slot else now + timedelta(seconds=1)
            next_at = nxt if next_at is None else min(next_at, nxt)
        return next_at


def housekeeping_run(*, now: datetime, batch_size: int = 1000) -> dict[str, int]:
    """Delete finished task results, slot rows, stale heartbeats and recovery records older than
    `SPORTELLO["TASK_RESULT_RETENTION_DAYS"]`, in batches so no statement holds locks long."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    cutoff = now - timedelta(days=int(settings.SPORTELLO["TASK_RESULT_RETENTION_DAYS"]))
    querysets: dict[str, Any] = {
        "task_results": DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED], finished_at__lt=cutoff
        ),
        "slots": ScheduledSlot.objects.filter(slot_start__lt=cutoff),
        "heartbeats": WorkerHeartbeat.objects.filter(last_seen__lt=cutoff),
        "recoveries": TaskRecovery.objects.filter(at__lt=cutoff),
    }
    deleted: dict[str, int] = {}
    for label, qs in querysets.items():
        total = 0
        while True:
            pks = list(qs.values_list("pk", flat=True)[:batch_size])
            if not pks:
                break
            total += qs.model.objects.filter(pk__in=pks).delete()[0]
        deleted[label] = total
    return deleted


@task()
def housekeeping() -> dict[str, int]:
    from . import clock

    return housekeeping_run(now=clock.now())


register_job(name="housekeeping", every=timedelta(hours=1), task=housekeeping)

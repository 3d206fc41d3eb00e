"""What is failing in the background, and the health report.

Pollers and the scheduler (`work_failed` / `work_ok`, called by the worker loop): consecutive
failures are counted in `FailingWork`, one row per failing poller (`poller:<name>`) or the
scheduler (`scheduler`), with the last error and since when, so every process reads the same
state. A process logs only when its own view changes: ok → failing, one error with the
traceback; failing → ok, one info line "recovered after N failures". A success deletes the row
at once in the process that was failing; another process deletes it only when nobody recorded a
failure for `RECHECK` (a worker that died while failing leaves no row failing for ever).

Periodic jobs are read from their task results: a job fails when its latest finished runs
failed (`failing_jobs`).

`health_report` is what `GET /api/v1/health` shows admins; others get its `status` alone.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from .models import FailingWork, WorkerHeartbeat
from .timers import oldest_due, parked_count

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2_000
RECHECK = timedelta(seconds=60)  # how often a healthy process clears failures others left
JOB_RUNS_READ = 20  # latest finished runs of a periodic job read to count its failures
LATE_AFTER = timedelta(minutes=5)  # a due timer older than this makes the desk "degraded"

_failing: dict[str, bool] = {}  # this process' view: name -> failing
_checked: dict[str, datetime] = {}  # name -> when this process last cleared others' failures


def work_failed(name: str, *, now: datetime, exc: BaseException) -> None:
    """Count a failure of `name`; log it only if it was not failing (in this process)."""
    error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
    if not _failing.get(name):
        logger.error("%s failed: %s (logged again when it recovers)", _label(name), error, exc_info=exc)
    _failing[name] = True
    try:
        with transaction.atomic():
            row = FailingWork.objects.select_for_update().filter(name=name).first()
            if row is None:
                FailingWork.objects.create(
                    name=name, failures=1, last_error=error, failing_since=now, last_failure_at=now
                )
            else:
                row.failures += 1
                row.last_error = error
                row.last_failure_at = now
                row.save(update_fields=["failures", "last_error", "last_failure_at"])
    except DatabaseError as db_exc:  # the database itself is down: the health check says so
        logger.debug("failure of %s not recorded: %s", name, db_exc)


def work_ok(name: str, *, now: datetime) -> None:
    """A success of `name`: clear its failures (at once if this process saw it failing, else at
    most every `RECHECK` and only failures nobody recorded meanwhile). No query otherwise."""
    was_failing = _failing.get(name)
    if was_failing is False and now - _checked.get(name, now - RECHECK) < RECHECK:
        return
    _failing[name] = False
    _checked[name] = now
    rows = FailingWork.objects.filter(name=name)
    if not was_failing:
        rows = rows.filter(last_failure_at__lt=now - RECHECK)
    try:
        failures = rows.values_list("failures", flat=True).first()
        if failures is not None:
            rows.delete()
    except DatabaseError as db_exc:
        logger.debug("recovery of %s not recorded: %s", name, db_exc)
        return
    if was_failing:
        logger.info("%s recovered after %s failures", _label(name), failures or "some")


def _label(name: str) -> str:
    return name.replace(":", " ", 1)  # poller:sla -> poller sla


def forget_state() -> None:
    """Drop this process' view (tests)."""
    _failing.clear()
    _checked.clear()


def failing_jobs() -> list[dict[str, Any]]:
    """Periodic jobs whose latest finished runs failed: consecutive failures, last error, since."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from .scheduler import registered_jobs

    found = []
    for job in registered_jobs():
        runs = DBTaskResult.objects.filter(
            task_path=job.task.module_path,
            status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        ).order_by("-finished_at")
        failed = []
        for status, finished_at, error in runs.values_list("status", "finished_at", "exception_class_path")[
            :JOB_RUNS_READ
        ]:
            if status != TaskResultStatus.FAILED:
                break
            failed.append((finished_at, error))
        if failed:
            found.append({
                "name": f"job:{job.name}", "failures": len(failed), "last_error": failed[0][1],
                "failing_since": failed[-1][0], "last_failure_at": failed[0][0],
            })  # fmt: skip
    return found


def database_check() -> tuple[bool, float | None]:
    """(reachable, round-trip milliseconds)."""
    start = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return False, None
    return True, round((time.perf_counter() - start) * 1000, 2)


def health_report(*, now: datetime) -> dict[str, Any]:
    """The details for admins. `status`: failing (database unreachable), degraded (no live
    worker, a failing poller or job, a parked timer or delivery, a timer due for over `LATE_AFTER`, or
    the outbox's oldest pending message over `LATE_AFTER` late), else ok."""
    from sportello.outbox.selectors import outbox_health

    reachable, latency = database_check()
    if not reachable:
        return {"status": "failing", "database": {"reachable": False, "latency_ms": None}}
    dead_after = timedelta(seconds=float(settings.SPORTELLO["WORKER_DEAD_AFTER"]))
    beats = list(WorkerHeartbeat.objects.values_list("last_seen", flat=True))
    alive = [b for b in beats if b >= now - dead_after]
    due_timers = [(kind, due) for kind, due in oldest_due(now) if due is not None]
    timers = [
        {"kind": kind, "oldest_due_at": due, "late_seconds": max(0.0, (now - due).total_seconds())}
        for kind, due in due_timers
    ]
    outbox = outbox_health(now=now)
    failing = [
        {"name": r.name, "failures": r.failures, "last_error": r.last_error,
         "failing_since": r.failing_since, "last_failure_at": r.last_failure_at}
        for r in FailingWork.objects.order_by("name")
    ] + failing_jobs()  # fmt: skip
    parked = parked_count()
    late = any(now - due > LATE_AFTER for _, due in due_timers)
    outbox_late = outbox["pending"] > 0 and outbox["oldest_pending_age"] > LATE_AFTER.total_seconds()
    degraded = not alive or failing or parked or late or outbox_late or outbox["parked"] > 0
    return {
        "status": "degraded" if degraded else "ok",
        "database": {"reachable": True, "latency_ms": latency},
        "workers": {"alive": len(alive), "last_seen": max(beats, default=None)},
        "timers": {"due": timers, "parked": parked},
        "outbox": {
            "pending": outbox["pending"],
            "oldest_pending_seconds": outbox["oldest_pending_age"] if outbox["pending"] else None,
            "in_flight": outbox["in_flight"],
            "parked": outbox["parked"],
            "failed": outbox["failed"],
            "by_kind": outbox["by_kind"],
        },
        "failing": failing,
    }

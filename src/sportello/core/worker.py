"""`sportello worker`: task runner, scheduler loop, pollers, heartbeats and recovery, in one loop.

One loop iteration: run the scheduler (enqueue due periodic slots), call every poller (each fires
what is due and says when it next has work), then run the ready tasks through django-tasks-db's
`Worker.run_task`. When idle, sleep until the earliest instant anyone asked for, at most
`POLL_MAX_SLEEP`, so work armed by other processes is seen within a second.

Claiming is fair: the backend's queues (`TASKS[...]["QUEUES"]`: "default", "email", "webhook")
are taken in turn, one task from the next queue that has one ready, so work of one kind never
waits behind a backlog of another. Within a queue, tasks go in the order they became ready (a
retry due at 10:00 before a fresh task enqueued at 10:01, and after one enqueued at 9:59), each
claimed with `FOR UPDATE SKIP LOCKED`.

A heartbeat row, written from a thread of its own every `WORKER_HEARTBEAT_EVERY` seconds (a long
task does not stop it), says the worker is alive; every worker checks every
`WORKER_RECOVER_EVERY` seconds for tasks left RUNNING by workers not seen for
`WORKER_DEAD_AFTER` seconds, and re-queues them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection, transaction
from django.db.models import Case, F, When
from django.tasks import task
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker as TaskWorker
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from . import clock, health
from .models import RecoveryAction, TaskRecovery, WorkerHeartbeat
from .scheduler import Scheduler, register_job

logger = logging.getLogger(__name__)

type Poller = Callable[[datetime], datetime | None]

_POLLERS: dict[str, Poller] = {}

TASKS_PER_ROUND = 50  # tasks run back to back before the scheduler and pollers get a turn


def _refresh_connections() -> None:
    """Drop broken or expired connections between rounds (as Django does between requests);
    never inside a transaction the caller holds open."""
    if not connection.in_atomic_block:
        close_old_connections()


def register_poller(name: str, fn: Poller) -> None:
    """Register (or replace) a poller: `fn(now)` does the work due at `now` and returns when it
    next has work (or None if it does not know). Called on every loop iteration."""
    _POLLERS[name] = fn


def unregister_poller(name: str) -> None:
    _POLLERS.pop(name, None)


def pollers_run(*, now: datetime) -> datetime | None:
    """Call every poller; return the earliest instant they asked for. A poller that raises is
    skipped (the others still run) and its failure counted (`core.health`: logged once when it
    starts failing and once when it recovers, not every round)."""
    earliest: datetime | None = None
    for name, fn in list(_POLLERS.items()):
        try:
            at = fn(now)
        except Exception as exc:
            _refresh_connections()
            health.work_failed(f"poller:{name}", now=now, exc=exc)
            continue
        health.work_ok(f"poller:{name}", now=now)
        if at is not None and (earliest is None or at < earliest):
            earliest = at
    return earliest


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"[:64]


def heartbeat_beat(*, worker_id: str, now: datetime, started_at: datetime) -> None:
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=now):
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            started_at=started_at,
            last_seen=now,
        )


class WorkerLost(Exception):
    """Recorded on a task that was recovered too many times."""


def task_recover(*, now: datetime) -> dict[str, int]:
    """Re-queue tasks left RUNNING by a worker not seen for `WORKER_DEAD_AFTER` seconds (or
    mark them failed after `TASK_MAX_RECOVERIES`), recording each decision."""
    cfg = settings.SPORTELLO
    dead_after = timedelta(seconds=float(cfg["WORKER_DEAD_AFTER"]))
    max_recoveries = int(cfg["TASK_MAX_RECOVERIES"])
    cutoff = now - dead_after
    alive = set(WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("worker_id", flat=True))
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    candidates = running.values_list("pk", "worker_ids")
    done = {"requeued": 0, "failed": 0}
    for pk, worker_ids in list(candidates):
        owner = worker_ids[-1] if worker_ids else ""
        if owner in alive:
            continue
        with transaction.atomic():
            result = DBTaskResult.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if result is None or result.status != TaskResultStatus.RUNNING:
                continue
            if (result.worker_ids[-1] if result.worker_ids else "") != owner:
                continue
            previous = TaskRecovery.objects.filter(task_result_id=str(pk)).count()
            if previous >= max_recoveries:
                result.status = TaskResultStatus.FAILED
                result.finished_at = now
                result.exception_class_path = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"
                result.traceback = (
                    f"WorkerLost: worker {owner or '?'} stopped while running this task, "
                    f"after {previous} recoveries"
                )
                result.return_value = None
                result.save(
                    update_fields=[
                        "status",
                        "finished_at",
                        "exception_class_path",
                        "traceback",
                        "return_value",
                    ]
                )
                action = RecoveryAction.FAILED
            else:
                result.status = TaskResultStatus.READY
                result.started_at = None
                result.save(update_fields=["status", "started_at"])
                action = RecoveryAction.REQUEUED
            TaskRecovery.objects.create(
                task_result_id=str(pk), task_path=result.task_path, worker_id=owner, action=action, at=now
            )
            logger.warning("recovery: %s task %s of dead worker %s", action, pk, owner)
            done[str(action)] += 1
    return done


@task()
def recover_tasks() -> dict[str, int]:
    return task_recover(now=clock.now())


register_job(name="recover_tasks", every=timedelta(minutes=1), task=recover_tasks)


class Runner:
    """The worker loop. `batch=True` exits once no task is ready and no poller has due work."""

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        interval: float = 0.5,
        batch: bool = False,
        backend_name: str = "default",
        heartbeat_thread: bool = True,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self.interval = interval
        self.batch = batch
        self.now = now
        self.scheduler = Scheduler()
        self.running = True
        self.tasks_run = 0
        self._wake = threading.Event()
        self._saved_handlers: dict[int, Any] = {}
        self._heartbeat_thread = heartbeat_thread
        self._started_at = now()
        self._last_beat: datetime | None = None
        self._next_queue = 0
        self._last_recovery: datetime | None = None
        self._tasks = TaskWorker(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=False,
            max_tasks=None,
            worker_id=self.worker_id,
            excluded_queue_names=[],
        )

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        self.running = False
        self._wake.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.running:  # a second signal: stop now, the current task is marked failed
            self._restore_signals()
            raise KeyboardInterrupt
        logger.warning("received %s: stopping after the current task", signal.strsignal(signum))
        self.stop()

    def _install_signals(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved_handlers[signum] = signal.signal(signum, self._on_signal)

    def _restore_signals(self) -> None:
        for signum, handler in self._saved_handlers.items():
            signal.signal(signum, handler)
        self._saved_handlers.clear()

    def _beat(self, now: datetime) -> None:
        try:
            heartbeat_beat(worker_id=self.worker_id, now=now, started_at=self._started_at)
            self._last_beat = now
        except OperationalError as exc:
            logger.warning("heartbeat not written: %s", exc)

    def _beat_loop(self) -> None:
        every = float(settings.SPORTELLO["WORKER_HEARTBEAT_EVERY"])
        try:
            while not self._wake.wait(every) and self.running:
                self._beat(self.now())
        finally:
            connection.close()

    def _recover(self, now: datetime) -> datetime:
        """Every `WORKER_RECOVER_EVERY` seconds, re-queue the tasks of dead workers, so they are
        back about `WORKER_DEAD_AFTER` seconds after their worker's last beat (the periodic
        `recover_tasks` job is the backstop); returns when to look next."""
        every = timedelta(seconds=float(settings.SPORTELLO["WORKER_RECOVER_EVERY"]))
        last = self._last_recovery
        if last is None or now - last >= every or now < last:
            self._last_recovery = last = now
            try:
                task_recover(now=now)
            except Exception:
                logger.exception("recovery check failed")
                _refresh_connections()
        return last + every

    # -- the loop ----------------------------------------------------------------------------

    def _queue_names(self) -> list[str]:
        backend = settings.TASKS.get(self._tasks.backend_name, {})
        return list(dict.fromkeys(backend.get("QUEUES") or ["default"]))

    def _claim_task(self) -> tuple[DBTaskResult[Any, Any] | None, bool]:
        """Claim one ready task (SKIP LOCKED), from the queues in turn starting after the one last
        claimed from; (task or None, whether the queues were read)."""
        ready = DBTaskResult.objects.ready()
        # When a task became ready: its run_after, or when it was enqueued if it had none.
        ready_at = Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))
        tasks = (
            ready.filter(backend_name=self._tasks.backend_name)
            .annotate(ready_at=ready_at)
            .order_by(F("priority").desc(), "ready_at", "enqueued_at")
        )
        queues = self._queue_names()
        for step in range(len(queues)):
            index = (self._next_queue + step) % len(queues)
            with exclusive_transaction(tasks.db):
                try:
                    result = tasks.filter(queue_name=queues[index]).get_locked()
                    if result is not None:
                        result.claim(self.worker_id)
                except OperationalError as exc:
                    if is_locked_database_exception(exc):
                        return None, False
                    raise
            if result is not None:
                self._next_queue = (index + 1) % len(queues)
                return result, True
        return None, True

    def run_once(self) -> tuple[int, bool, datetime | None]:
        """One iteration: (tasks run, whether the queue was found empty, earliest wake-up)."""
        _refresh_connections()
        now = self.now()
        every = timedelta(seconds=float(settings.SPORTELLO["WORKER_HEARTBEAT_EVERY"]))
        if not self._heartbeat_thread and (self._last_beat is None or now - self._last_beat >= every):
            self._beat(now)
        wake: datetime | None = None
        try:
            wake = self.scheduler.tick(now=now)
        except Exception as exc:
            _refresh_connections()
            health.work_failed("scheduler", now=now, exc=exc)
        else:
            health.work_ok("scheduler", now=now)
        for due in (pollers_run(now=now), self._recover(now)):
            if due is not None and (wake is None or due < wake):
                wake = due
        ran, empty = 0, False
        while self.running and ran < TASKS_PER_ROUND:
            result, read = self._claim_task()
            if result is None:
                empty = read
                break
            self._tasks.run_task(result)
            ran += 1
        self.tasks_run += ran
        return ran, empty, wake

    def run(self, *, install_signals: bool = True) -> None:
        main = threading.current_thread() is threading.main_thread()
        if install_signals and main:
            self._install_signals()
        self._beat(self._started_at)
        beat_thread: threading.Thread | None = None
        if self._heartbeat_thread:
            beat_thread = threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True)
            beat_thread.start()
        logger.info("worker %s started", self.worker_id)
        try:
            while self.running:
                ran, empty, wake = self.run_once()
                if ran:
                    continue
                now = self.now()
                if self.batch and empty and (wake is None or wake > now):
                    logger.info("worker %s: nothing left to do", self.worker_id)
                    break
                cap = min(self.interval, float(settings.SPORTELLO["POLL_MAX_SLEEP"]))
                pause = cap if wake is None else max(0.0, min(cap, (wake - now).total_seconds()))
                if pause and self.running:
                    self._wake.wait(pause)
        finally:
            self.running = False
            self._wake.set()
            if beat_thread is not None:
                beat_thread.join(timeout=5)
            with contextlib.suppress(OperationalError):
                WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
            self._restore_signals()
            logger.info("worker %s stopped after %s tasks", self.worker_id, self.tasks_run)


def worker_run(**options: Any) -> Runner:
    runner = Runner(**options)
    runner.run()
    return runner

"""Cross-cutting tables: named counters, the scheduler's slots, workers' heartbeats, and the
abstract rows of exact timers and their firings."""

from __future__ import annotations

from django.db import models


class Sequence(models.Model):
    """A gap-free counter (ticket numbers). Incremented with one UPDATE ... RETURNING under the
    row lock, inside the caller's transaction."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class ScheduledSlot(models.Model):
    """One periodic job's slot, inserted in the transaction that enqueues the job: the unique
    key makes each slot run once however many workers run the scheduler."""

    name = models.CharField(max_length=100)
    slot_start = models.DateTimeField()
    enqueued_at = models.DateTimeField()
    task_result_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "slot_start"], name="scheduled_slot_once")]
        indexes = [models.Index(fields=["slot_start"], name="scheduled_slot_start")]

    def __str__(self) -> str:
        return f"{self.name}@{self.slot_start.isoformat()}"


class WorkerHeartbeat(models.Model):
    """A running `sportello worker`: written at start and every few seconds while it lives."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["last_seen"], name="worker_last_seen")]

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.host}:{self.pid})"


class RecoveryAction(models.TextChoices):
    REQUEUED = "requeued", "Re-queued"
    FAILED = "failed", "Marked failed"


class TaskRecovery(models.Model):
    """What the recovery check did to a task left running by a worker that stopped beating."""

    task_result_id = models.CharField(max_length=64)
    task_path = models.TextField()
    worker_id = models.CharField(max_length=64)
    action = models.CharField(max_length=10, choices=RecoveryAction.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["task_result_id"], name="task_recovery_result"),
            models.Index(fields=["at"], name="task_recovery_at"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.task_result_id}"


class RetriedTimer(models.Model):
    """What every kind of exact timer records when firing it fails (`core.timers.fire_due`):
    the attempts so far, when the next one may run, the last error, since when it fails, and
    when it was parked (no further attempt until an admin retries it)."""

    attempts = models.PositiveSmallIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


class TicketTimer(RetriedTimer):
    """An exact timer of a ticket (`core.timers`): due at `due_at`; the kind adds what names it
    (a key). Disarming deletes the row."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()

    class Meta:
        abstract = True


class TicketTimerFiring(models.Model):
    """What fired for a ticket (`core.timers`): the kind adds the key it is unique on, the
    guarantee that what fired once never fires again; `outcome` and the mutation it made, if
    any (`change_id`)."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    fired_at = models.DateTimeField()
    outcome = models.CharField(max_length=200)  # e.g. "applied", "stale", "error: ..."
    change_id = models.UUIDField(null=True, blank=True)

    class Meta:
        abstract = True


class FailingWork(models.Model):
    """A poller, periodic job or the scheduler that is failing: consecutive failures, the last
    error, since when. A row exists only while it fails (the first success deletes it), so every
    process (the health endpoint, other workers) reads the same state."""

    name = models.CharField(max_length=120, primary_key=True)  # poller:<name> | job:<name> | scheduler
    failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    failing_since = models.DateTimeField()
    last_failure_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.failures} failures"


class RateWindow(models.Model):
    """Requests counted under one key (an API token) in one fixed window of time, shared by every
    web process: one upsert per request (`core.ratelimit`)."""

    key = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="rate_window_once")]

    def __str__(self) -> str:
        return f"{self.key}@{self.window_start.isoformat()}: {self.count}"


class ConfigSnapshot(models.Model):
    """One saved definition of a configured thing that has no version table of its own
    (departments, statuses, custom fields, layouts, canned responses, agents, teams): `kind` and
    `key` name the thing, `name` is how it was called then. Immutable, numbered from 1 per thing
    without gaps (`core.snapshots`)."""

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True, default="")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    objects: models.Manager[ConfigSnapshot] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key", "version"], name="config_snapshot_version_once")
        ]
        indexes = [models.Index(fields=["created_at"], name="config_snapshot_created")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.key}@{self.version}"

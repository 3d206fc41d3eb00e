"""What every kind of exact timer shares (time rules, SLA levels, blueprint limits, task
reminders): claiming a due row without waiting on another worker, when to poll again, and what
happens when firing one fails.

A failing timer (`fire_due`): its firing raises something other than a domain error (those are
outcomes, recorded on the firing). Its transaction is rolled back alone, the failure is written
on the timer row (`core.models.RetriedTimer`: attempts, last error, since when) and the next
attempt waits an exponential back-off (`TIMER_RETRY_BASE` seconds doubled per attempt, at most
`TIMER_RETRY_CAP`); after `TIMER_MAX_ATTEMPTS` attempts the timer is parked: not fired again
until an admin retries it (`timer_retry`) or discards it (`timer_discard`), through
`/api/v1/timers/failing`. The other due timers fire meanwhile: one never blocks the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.db.models import Q

logger = logging.getLogger(__name__)

IDLE_RECHECK = timedelta(seconds=1)  # timers armed by other processes are seen this soon
BATCH = 100  # due timers read at once
ERROR_MAX_CHARS = 2_000


def claim(qs: Any) -> Any:
    """`qs` locked for this transaction, rows held by another skipped (PostgreSQL: `FOR UPDATE
    SKIP LOCKED OF` the queryset's table; SQLite: the transaction holds the write lock)."""
    if connection.vendor == "postgresql":
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def next_poll(now: datetime, upcoming: datetime | None) -> datetime:
    """When a poller should look again: the next due instant, at most `IDLE_RECHECK` away."""
    recheck = now + IDLE_RECHECK
    return recheck if upcoming is None or upcoming > recheck else max(upcoming, now)


# --------------------------------------------------------------------------------------------
# Timer kinds


@dataclass(frozen=True, slots=True)
class TimerKind:
    """One kind of exact timer, as the shared failure handling and the health report see it."""

    name: str  # time_rule | sla | blueprint_limit | task_reminder
    model: type[models.Model]  # a `RetriedTimer`
    due_field: str  # the column holding the due instant
    ticket_field: str  # the path to the ticket's id
    pending: Q = field(default_factory=Q)  # rows still to fire (a sent reminder stays as a record)
    related: tuple[str, ...] = ()  # select_related for `describe`
    describe: Callable[[Any], str] = str  # what fires: the rule, policy level, limit or task

    def due(self, now: datetime) -> Any:
        """The rows due at `now` that may be attempted now (not parked, back-off over)."""
        return fireable(
            self.model._default_manager.filter(self.pending, **{f"{self.due_field}__lte": now}), now=now
        )


_KINDS: dict[str, TimerKind] = {}


def register_timer_kind(kind: TimerKind) -> TimerKind:
    """Register (or replace) a timer kind. Call from an AppConfig.ready()."""
    _KINDS[kind.name] = kind
    return kind


def timer_kinds() -> list[TimerKind]:
    return sorted(_KINDS.values(), key=lambda k: k.name)


def timer_kind(name: str) -> TimerKind | None:
    return _KINDS.get(name)


def fireable(qs: Any, *, now: datetime) -> Any:
    """`qs` without the parked timers and those whose back-off runs past `now`."""
    return qs.filter(parked_at__isnull=True).filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))


# --------------------------------------------------------------------------------------------
# Firing with retries


def retry_delay(attempts: int) -> timedelta:
    """The back-off after `attempts` failed attempts: BASE · 2^(attempts-1), at most CAP."""
    cfg = settings.SPORTELLO
    base, cap = float(cfg["TIMER_RETRY_BASE"]), float(cfg["TIMER_RETRY_CAP"])
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _is_contention(exc: BaseException) -> bool:
    """SQLite's "database is locked": another writer, not a fault of the timer."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def fire_due[R](
    kind: TimerKind, *, now: datetime, fire: Callable[[int], R | None], limit: int, batch: int = BATCH
) -> list[R]:
    """Fire the timers of `kind` due at `now` (at most `limit`) with `fire(pk)`, which claims
    and fires one in its own transaction and returns None when it is gone, not due or held.
    A firing that raises is rolled back alone and recorded (`timer_failed`); the round goes on
    with the others. Returns the outcomes of the timers fired."""
    done: list[R] = []
    skipped: set[int] = set()
    while len(done) < limit:
        ids = list(
            kind.due(now)
            .exclude(pk__in=skipped)
            .order_by(kind.due_field, "id")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        for pk in ids:
            result = _fire_one(kind, pk, now, fire)
            if result is None:
                skipped.add(pk)
            else:
                done.append(result)
            if len(done) >= limit:
                break
        if len(skipped) >= batch * 10:
            break  # heavily contended: let the other workers have it
    return done


def _fire_one[R](kind: TimerKind, pk: int, now: datetime, fire: Callable[[int], R | None]) -> R | None:
    try:
        return fire(pk)
    except Exception as exc:
        if _is_contention(exc):
            return None  # held: tried again next round
        timer_failed(kind, pk, now=now, exc=exc)
        return None


def timer_failed(kind: TimerKind, pk: int, *, now: datetime, exc: BaseException) -> None:
    """Record a failed attempt on the timer: back off, or park it after the last attempt. The
    first failure is logged with its traceback, parking as an error, retries as one line."""
    max_attempts = int(settings.SPORTELLO["TIMER_MAX_ATTEMPTS"])
    error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
    with transaction.atomic():
        row: Any = claim(kind.model._default_manager.filter(pk=pk)).first()
        if row is None:
            return  # disarmed meanwhile
        row.attempts += 1
        row.last_error = error
        row.failing_since = row.failing_since or now
        if row.attempts >= max_attempts:
            row.parked_at, row.retry_at = now, None
        else:
            row.retry_at = now + retry_delay(row.attempts)
        row.save(update_fields=["attempts", "last_error", "failing_since", "parked_at", "retry_at"])
    where = f"{kind.name} timer {pk}"
    if row.parked_at is not None:
        logger.error("%s parked after %s failed attempts: %s", where, row.attempts, error)
    elif row.attempts == 1:
        logger.error("%s failed, retrying at %s", where, row.retry_at.isoformat(), exc_info=exc)
    else:
        logger.warning("%s failed again (attempt %s), retrying at %s: %s", where, row.attempts,
                       row.retry_at.isoformat(), error)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Failing timers, for admins


@dataclass(frozen=True, slots=True)
class FailingTimer:
    kind: str
    id: int
    ticket_id: int
    what: str
    due_at: datetime
    attempts: int
    last_error: str
    failing_since: datetime
    retry_at: datetime | None
    parked_at: datetime | None


def failing_timers(*, parked: bool | None = None, limit: int = 200) -> list[FailingTimer]:
    """The timers of every kind that failed at least once (parked, or retrying), oldest failure
    first, at most `limit`. `parked`: only the parked (True) or only the retrying (False)."""
    found: list[FailingTimer] = []
    for kind in timer_kinds():
        qs = kind.model._default_manager.filter(kind.pending, attempts__gt=0)
        if parked is not None:
            qs = qs.filter(parked_at__isnull=not parked)
        if kind.related:
            qs = qs.select_related(*kind.related)
        for row in qs.order_by("failing_since", "id")[:limit]:
            found.append(_failing(kind, row))
    found.sort(key=lambda t: (t.failing_since, t.kind, t.id))
    return found[:limit]


def _failing(kind: TimerKind, row: Any) -> FailingTimer:
    ticket_id = row
    for part in kind.ticket_field.split("__"):
        ticket_id = getattr(ticket_id, part)
    return FailingTimer(
        kind=kind.name, id=row.pk, ticket_id=ticket_id, what=kind.describe(row),
        due_at=getattr(row, kind.due_field), attempts=row.attempts, last_error=row.last_error,
        failing_since=row.failing_since, retry_at=row.retry_at, parked_at=row.parked_at,
    )  # fmt: skip


def _failing_row(kind_name: str, pk: int) -> tuple[TimerKind, Any]:
    from .errors import NotFound

    kind = timer_kind(kind_name)
    if kind is None:
        raise NotFound("no timer kind with this name", field="kind")
    row = claim(kind.model._default_manager.filter(kind.pending, pk=pk, attempts__gt=0)).first()
    if row is None:
        raise NotFound("no failing timer with this id")
    return kind, row


def timer_retry(*, kind: str, pk: int, actor_id: int | None, now: datetime) -> FailingTimer:
    """Un-park (or stop the back-off of) a failing timer: it is attempted at the next round,
    with its attempts counted afresh. Returns it as it was."""
    with transaction.atomic():
        timer_kind_, row = _failing_row(kind, pk)
        before = _failing(timer_kind_, row)
        row.attempts, row.retry_at, row.parked_at, row.failing_since, row.last_error = 0, None, None, None, ""
        row.save(update_fields=["attempts", "retry_at", "parked_at", "failing_since", "last_error"])
    logger.warning("%s timer %s retried by admin %s (%s attempts, last error: %s)", kind, pk, actor_id,
                   before.attempts, before.last_error)  # fmt: skip
    return before


def timer_discard(*, kind: str, pk: int, actor_id: int | None, now: datetime) -> FailingTimer:
    """Delete a failing timer: it never fires. Returns it as it was."""
    with transaction.atomic():
        timer_kind_, row = _failing_row(kind, pk)
        before = _failing(timer_kind_, row)
        row.delete()
    logger.warning("%s timer %s of ticket %s discarded by admin %s (%s attempts, last error: %s)", kind, pk,
                   before.ticket_id, actor_id, before.attempts, before.last_error)  # fmt: skip
    return before


def next_attempt(kind: TimerKind, now: datetime) -> datetime | None:
    """The earliest due instant of a timer of `kind` that may be attempted at `now` (a timer in
    back-off is seen by the poller's one-second recheck once its retry instant passed)."""
    qs = fireable(kind.model._default_manager.filter(kind.pending), now=now)
    return qs.order_by(kind.due_field).values_list(kind.due_field, flat=True).first()  # type: ignore[no-any-return]


def oldest_due(now: datetime) -> Iterator[tuple[str, datetime | None]]:
    """Per kind, the due instant of the oldest timer due at `now` that may fire (None: none)."""
    for kind in timer_kinds():
        yield kind.name, kind.due(now).order_by(kind.due_field).values_list(kind.due_field, flat=True).first()


def parked_count() -> int:
    return sum(
        kind.model._default_manager.filter(kind.pending, parked_at__isnull=False).count()
        for kind in timer_kinds()
    )

"""Exact timers: one mechanism for every kind (time rules, SLA levels, blueprint limits, task
reminders). A kind registers a `TimerKind` — its timer rows (a `core.models.RetriedTimer`), the
rows that record what fired (a unique key: what fired once never fires again), its plan (which
timers a ticket should have: `arm`) and its action (`fire`, on one claimed timer) — and the
mechanism does the rest, the same for all.

Arming (`arm`): the kind's plan says which timer rows its owner (a ticket, a task) should have;
the armed ones are diffed against it (one query): those gone or moved are deleted in bulk, the
new ones inserted in bulk, the rest kept (their retry state too); a key that already fired is
not armed again.

Firing (`fire_due`, the worker's pollers through `poll`): due timers are fired in rounds of up
to `ROUND` timers, one transaction per round. A round reads the due timers (not parked, back-off
over), locks their tickets with `FOR UPDATE SKIP LOCKED` (a ticket held by a change under way is
left for a later round, so the two never wait on each other), then claims the timers of the
tickets it holds (`SKIP LOCKED` again: another worker's round skips them) and reads once which
of their keys already fired. Each timer then fires in a savepoint of its own: its firing row is
inserted (the key is taken, so arming during the action does not arm it again), then the kind's
action runs, typically a mutation through the pipeline (`fire_as_mutation`: actor the rule, SLA
policy or blueprint). The outcomes are written to the firing rows in one statement, the fired
timers deleted in one, and the round commits: a crash before the commit leaves every timer of
the round to be fired again, and the unique key of the firing rows keeps a step from firing
twice whatever crashes or how many workers run. A round that fails as a whole (a deadlock, a
lost connection) is rolled back and its timers fired again one per transaction. On SQLite the
round's transaction holds the database's write lock and workers take turns.

A failing timer: its action raises something other than a domain error (those are outcomes,
recorded on the firing). Its savepoint is rolled back alone, the failure is written on the timer
row (`core.models.RetriedTimer`: attempts, last error, since when) and the next attempt waits an
exponential back-off (`TIMER_RETRY_BASE` seconds doubled per attempt, at most
`TIMER_RETRY_CAP`); after `TIMER_MAX_ATTEMPTS` attempts the timer is parked: not fired again
until an admin retries it (`timer_retry`) or discards it (`timer_discard`), through
`/api/v1/timers/failing`. The other timers of the round fire meanwhile: one never blocks the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.db.models import Q

from . import config
from .errors import DomainError

logger = logging.getLogger(__name__)

IDLE_RECHECK = timedelta(seconds=1)  # timers armed by other processes are seen this soon
ROUND = 25  # timers fired per transaction (their tickets stay locked until it commits)
ROUND_MAX = 1_000  # timers fired per poller call before the worker's other work gets a turn
ERROR_MAX_CHARS = 2_000
OUTCOME_MAX_CHARS = 200


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
    """One kind of exact timer: its rows, its action, and how the mechanism reads them."""

    name: str  # time_rule | sla | blueprint_limit | task_reminder
    model: type[models.Model]  # the timer rows: a `RetriedTimer`
    # The kind's action on one claimed timer, in a savepoint of the round: returns what the
    # caller of `fire_due` gets for it (None: nothing to report) and says through the round
    # what became of the row (`Round.record`, `Round.sent`, `Round.drop`). Raising anything
    # but a contention error makes it a failed attempt (retried with back-off, then parked).
    fire: Callable[[Any, Round], Any]
    key: tuple[str, ...]  # the fields naming what fires once (shared with the firing rows)
    firing: type[models.Model] | None = None  # the rows recording what fired (unique on `key`)
    compare: tuple[str, ...] = ("due_at",)  # an armed timer is kept while these are unchanged
    due_field: str = "due_at"  # the column holding the due instant
    ticket_field: str = "ticket_id"  # the path to the ticket's id
    sent_field: str | None = None  # without firing rows: the row's "fired at" column (kept)
    # The model of the rows `ticket_field` points to, locked (SKIP LOCKED) before the timers
    # are claimed: the ticket, which the action changes. None: the action changes no ticket.
    lock: type[models.Model] | None = None
    # Called with the ids of the rows the round locked (`lock`), around the round's firings: the
    # tickets app reads them at once for the changes the firings make (`tickets.locks.tickets_held`).
    held: Callable[[set[int]], AbstractContextManager[Any]] | None = None
    load: tuple[str, ...] = ()  # select_related for `fire`
    related: tuple[str, ...] = ()  # select_related for `describe`
    describe: Callable[[Any], str] = str  # what fires: the rule, policy level, limit or task
    pending: Q = field(default_factory=Q)  # rows still to fire (a sent reminder stays as a record)

    def due(self, now: datetime) -> Any:
        """The rows due at `now` that may be attempted now (not parked, back-off over)."""
        return fireable(
            self.model._default_manager.filter(self.pending, **{f"{self.due_field}__lte": now}), now=now
        )

    def key_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, f) for f in self.key)


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
# Arming


def arm(
    kind: TimerKind,
    *,
    scope: dict[str, Any],
    wanted: Iterable[models.Model],
    new: bool = False,
    replace: bool = False,
    disarm_fired: bool = False,
) -> None:
    """Make the pending timers of `kind` under `scope` (e.g. `{"ticket_id": 7}`) those of
    `wanted` (unsaved rows, the kind's plan): unchanged ones are kept, the others deleted, the
    missing ones inserted unless their key already fired. `new`: the owner was just created,
    nothing is armed or fired yet (no lookup). `replace`: the plan's keys are all new (a state
    entered anew): the armed timers are deleted and the planned ones inserted, with no lookup.
    `disarm_fired`: the fired keys are read first (when anything is planned) and an armed timer
    whose key fired is disarmed too, not only left to be dropped when it comes due."""
    manager = kind.model._default_manager
    planned = {kind.key_of(row): row for row in wanted}
    if new or replace:
        if replace:
            manager.filter(kind.pending, **scope).delete()
        if planned:
            manager.bulk_create(list(planned.values()))
        return
    checked = False
    if disarm_fired and planned and kind.firing is not None:
        planned = _unfired(kind, scope, planned)
        checked = True
    stale: list[int] = []
    for pk, *values in manager.filter(kind.pending, **scope).values_list("pk", *kind.key, *kind.compare):
        key, compared = tuple(values[: len(kind.key)]), tuple(values[len(kind.key) :])
        want = planned.get(key)
        if want is not None and tuple(getattr(want, f) for f in kind.compare) == compared:
            del planned[key]
        else:
            stale.append(pk)
    if stale:
        manager.filter(pk__in=stale).delete()
    if not planned:
        return
    if kind.firing is None:  # the sent rows hold the keys that fired: the unique key skips them
        manager.bulk_create(list(planned.values()), ignore_conflicts=True)
        return
    if not checked:
        planned = _unfired(kind, scope, planned)
    manager.bulk_create(list(planned.values()))


def _unfired[M: models.Model](
    kind: TimerKind, scope: dict[str, Any], planned: dict[tuple[Any, ...], M]
) -> dict[tuple[Any, ...], M]:
    assert kind.firing is not None
    fired = set(kind.firing._default_manager.filter(**scope).values_list(*kind.key))
    return {key: row for key, row in planned.items() if key not in fired}


# --------------------------------------------------------------------------------------------
# Firing


@dataclass(slots=True)
class Round:
    """One round of firings, in one transaction: what the kind's action reports through it is
    written in bulk when the round ends."""

    kind: TimerKind
    now: datetime
    fired_keys: set[tuple[Any, ...]]
    memo: dict[str, Any] = field(default_factory=dict)  # read once per round (active rules, ...)
    _firings: list[models.Model] = field(default_factory=list)
    _deleted: list[int] = field(default_factory=list)
    _sent: list[int] = field(default_factory=list)

    def already_fired(self, row: Any) -> bool:
        """Whether the key of `row` fired (before this round, or earlier in it)."""
        return self.kind.key_of(row) in self.fired_keys

    def record[F: models.Model](self, row: Any, firing: F) -> F:
        """`row` fires: its firing row is inserted now, before the action runs (arming during
        the action sees its key taken and does not arm it again); the outcome the action sets on
        it is written, and the timer deleted, with the round."""
        assert self.kind.firing is not None
        firing.save(force_insert=True)
        self.fired_keys.add(self.kind.key_of(row))
        self._firings.append(firing)
        self._deleted.append(row.pk)
        return firing

    def sent(self, row: Any) -> None:
        """`row` fired (a kind whose rows record it themselves): marked sent with the round."""
        assert self.kind.sent_field is not None
        self.fired_keys.add(self.kind.key_of(row))
        self._sent.append(row.pk)

    def drop(self, row: Any) -> None:
        """`row` is not to fire (stale, disarmed, already fired): deleted."""
        self._deleted.append(row.pk)

    def mark(self) -> tuple[int, int, int, int]:
        return len(self._firings), len(self._deleted), len(self._sent), len(self.fired_keys)

    def undo(self, mark: tuple[int, int, int, int], key: tuple[Any, ...]) -> None:
        """Forget what a failed firing reported (its savepoint was rolled back)."""
        firings, deleted, sent, keys = mark
        del self._firings[firings:], self._deleted[deleted:], self._sent[sent:]
        if len(self.fired_keys) > keys:
            self.fired_keys.discard(key)

    def write(self) -> None:
        manager = self.kind.model._default_manager
        if self._firings:
            assert self.kind.firing is not None
            self.kind.firing._default_manager.bulk_update(self._firings, ["outcome", "change_id"])
        if self._deleted:
            manager.filter(pk__in=self._deleted).delete()
        if self._sent:
            assert self.kind.sent_field is not None
            manager.filter(pk__in=self._sent).update(**{self.kind.sent_field: self.now})


def retry_delay(attempts: int) -> timedelta:
    """The back-off after `attempts` failed attempts: BASE · 2^(attempts-1), at most CAP."""
    cfg = settings.SPORTELLO
    base, cap = float(cfg["TIMER_RETRY_BASE"]), float(cfg["TIMER_RETRY_CAP"])
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _is_contention(exc: BaseException) -> bool:
    """SQLite's "database is locked": another writer, not a fault of the timer."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def fire_due(kind: TimerKind, *, now: datetime, limit: int = ROUND_MAX, size: int = ROUND) -> list[Any]:
    """Fire the timers of `kind` due at `now` (at most `limit`), in rounds of `size` (see the
    module doc). Returns what the kind's action returned for each timer fired."""
    done: list[Any] = []
    held: set[int] = set()  # timers whose ticket a change holds: the next call's
    while len(done) < limit:
        tried: list[int] = []
        try:
            read, results = _round(kind, now=now, size=min(size, limit - len(done)), held=held, tried=tried)
        except Exception as exc:
            if _is_contention(exc):
                break  # another worker has the database: next time
            # The round failed as a whole (a deadlock, a lost connection): its timers are fired
            # again one per transaction, a failing one recorded alone, and not tried again here.
            logger.warning("%s timers: a round of %s failed (%s); firing them one by one", kind.name,
                           len(tried), exc)  # fmt: skip
            read, results = len(tried), _singly(kind, tried, now=now)
            held.update(tried)
        done.extend(results)
        if not read or len(held) >= size * 10:
            break  # nothing more due, or heavily contended: let the other workers have it
    return done


def fire_one(kind: TimerKind, pk: int, *, now: datetime) -> Any:
    """Fire the timer `pk` of `kind` if it is due and free, in one transaction; None when it is
    gone, not due, held by another worker (or its ticket by a change), or failed (recorded)."""
    results = _round(kind, now=now, size=1, held=set(), tried=[], only=pk)[1]
    return results[0] if results else None


def _singly(kind: TimerKind, pks: list[int], *, now: datetime) -> list[Any]:
    done: list[Any] = []
    for pk in pks:
        try:
            result = fire_one(kind, pk, now=now)
        except Exception as exc:
            if _is_contention(exc):
                break
            timer_failed(kind, pk, now=now, exc=exc)
            continue
        if result is not None:
            done.append(result)
    return done


def _round(
    kind: TimerKind, *, now: datetime, size: int, held: set[int], tried: list[int], only: int | None = None
) -> tuple[int, list[Any]]:
    """One round in one transaction: (timers read as due, what their firings returned)."""
    results: list[Any] = []
    due = kind.due(now)
    due = due.filter(pk=only) if only is not None else due.exclude(pk__in=held)
    due = due.order_by(kind.due_field, "id")
    # Read before the transaction: a poll with nothing due costs this one statement.
    candidates = list(due.values_list("pk", kind.ticket_field if kind.lock is not None else "pk")[:size])
    if not candidates:
        return 0, results
    with transaction.atomic():
        mine = [pk for pk, _ in candidates]
        locked: set[int] = set()
        if kind.lock is not None:
            ids = sorted({ticket for _, ticket in candidates})
            locked = set(claim(kind.lock._default_manager.filter(pk__in=ids)).values_list("pk", flat=True))
            mine = [pk for pk, ticket in candidates if ticket in locked]
            held.update(pk for pk, ticket in candidates if ticket not in locked)
        claimed = due.filter(pk__in=mine)
        rows = list(claim(claimed.select_related(*kind.load) if kind.load else claimed)) if mine else []
        if not rows:
            return len(candidates), results
        tried.extend(row.pk for row in rows)
        fired: set[tuple[Any, ...]] = set()
        if kind.firing is not None:
            tickets = {getattr(row, "ticket_id") for row in rows}  # noqa: B009  (every firing row has a ticket)
            fired = set(kind.firing._default_manager.filter(ticket_id__in=tickets).values_list(*kind.key))
        rnd = Round(kind=kind, now=now, fired_keys=fired)
        held_rows = kind.held(locked) if kind.held is not None and locked else nullcontext()
        with config.read_once(), held_rows:
            _fire_rows(kind, rows, rnd, now=now, held=held, results=results)
        rnd.write()
    return len(candidates), results


def _fire_rows(
    kind: TimerKind, rows: list[Any], rnd: Round, *, now: datetime, held: set[int], results: list[Any]
) -> None:
    """Each claimed timer fired in a savepoint of its own (see the module doc)."""
    for row in rows:
        mark = rnd.mark()
        try:
            with transaction.atomic():
                result = kind.fire(row, rnd)
        except Exception as exc:
            rnd.undo(mark, kind.key_of(row))
            if _is_contention(exc):
                raise
            if isinstance(exc, IntegrityError) and _fired_meanwhile(kind, row):
                held.add(row.pk)  # another worker fired its key: dropped by the next round
                continue
            timer_failed(kind, row.pk, now=now, exc=exc)
            held.add(row.pk)
            continue
        if result is not None:
            results.append(result)
        if rnd.mark()[1:3] == mark[1:3]:
            held.add(row.pk)  # neither fired nor dropped: not tried again in this call


def _fired_meanwhile(kind: TimerKind, row: Any) -> bool:
    if kind.firing is None:
        return False
    return kind.firing._default_manager.filter(**{f: getattr(row, f) for f in kind.key}).exists()


def fire_as_mutation(
    apply: Callable[..., Any], *, ticket_id: int, mutation: Any, now: datetime, what: str
) -> tuple[str, Any]:
    """Fire a timer as a mutation of its ticket (`apply`: the pipeline's `ticket_apply`; the
    mutation's actor is the rule, SLA policy or blueprint): ("applied", the pipeline's outcome),
    or ("error: ...", None) when the pipeline refuses it (a domain error: the mutation is rolled
    back, the error is the firing's outcome)."""
    try:
        out = apply(ticket_id=ticket_id, mutation=mutation, now=now)
    except DomainError as exc:
        logger.warning("%s on ticket %s failed: %s", what, ticket_id, exc)
        return f"error: {exc}"[:OUTCOME_MAX_CHARS], None
    return "applied", out


def poll(kind: TimerKind, now: datetime, *, limit: int = ROUND_MAX) -> datetime:
    """A worker's poller for `kind`: fire what is due, then say when to look again (at once if
    more is due; else the next due instant, at most a second away, so timers armed meanwhile by
    other processes are not missed)."""
    if len(fire_due(kind, now=now, limit=limit)) >= limit:
        return now
    return next_poll(now, next_attempt(kind, now))


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
    return qs.order_by(kind.due_field).values_list(kind.due_field, flat=True).first()


def oldest_due(now: datetime) -> Iterator[tuple[str, datetime | None]]:
    """Per kind, the due instant of the oldest timer due at `now` that may fire (None: none)."""
    for kind in timer_kinds():
        yield kind.name, kind.due(now).order_by(kind.due_field).values_list(kind.due_field, flat=True).first()


def parked_count() -> int:
    return sum(
        kind.model._default_manager.filter(kind.pending, parked_at__isnull=False).count()
        for kind in timer_kinds()
    )

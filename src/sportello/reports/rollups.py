"""Keeping the reports' tables (`TicketFacts`, `DailyRollup`, `TicketCount`) equal to the audit
trail.

- `on_change(ctx)`: the pipeline's part (`reports.extension`): the change's events folded into the
  ticket's facts, and a roll-up row (and a ticket-count row, for drill-downs) appended per
  dimension key it counts under. A ticket whose
  facts are missing (it was opened before reports existed) is folded from its whole history then,
  so its past counts too.
- `compute(ticket_ids)`: the from-scratch computation — each ticket's history folded from the
  empty state — which `rebuild` writes and the tests compare the kept tables with.
- `rebuild()`: everything recomputed (after a change of the reports' time zone or of business
  calendars, or to repair): `sportello reports rebuild`.
- `compact()`: a past day's rows folded into one per key (the housekeeping job).

Days are local dates in `SPORTELLO["REPORTS_TIME_ZONE"]`. Business time is measured in the
department's active calendar when the figure is recorded; a rebuild measures with the calendars
active then.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum

from sportello.core import rows
from sportello.engine import calendars as engine_calendars
from sportello.engine import reporting as engine
from sportello.sla.active_calendars import active_calendars
from sportello.tickets.audit import expand
from sportello.tickets.models import Ticket, TicketEvent

from .models import DailyRollup, TicketCount, TicketFacts

if TYPE_CHECKING:
    from sportello.tickets.context import Context

# The event kinds the figures read; a change without any is not folded.
KINDS = frozenset({"created", "field", "message", "tier"})
FIELDS = frozenset({"department", "team", "assignee", "channel", "priority", "status_category"})
BATCH = 500


def zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.SPORTELLO["REPORTS_TIME_ZONE"])


def day_of(at: datetime) -> date:
    return at.astimezone(zone()).date()


def business(memo: dict[str, Any] | None = None) -> engine.Business:
    calendars = active_calendars(memo)

    def measure(department_id: int | None, a: datetime, b: datetime) -> int:
        if b <= a:
            return 0
        calendar = calendars.for_department(department_id)
        if calendar is None:
            return round((b - a).total_seconds())
        return round(engine_calendars.elapsed(calendar, a, b).total_seconds())

    return measure


def _relevant(e: TicketEvent) -> bool:
    return e.kind in KINDS and (e.kind != "field" or e.field in FIELDS)


def _event(e: TicketEvent) -> engine.Event:
    return engine.Event(kind=e.kind, field=e.field, new=e.new_value, at=e.at, cause=e.cause)


def changes_of(events: Iterable[TicketEvent]) -> list[list[engine.Event]]:
    """A ticket's events (in the order written) as its changes, openings expanded, each change the
    events the figures read (changes with none left out)."""
    out: list[list[engine.Event]] = []
    for _, group in groupby(expand(events), key=lambda e: e.change_id):
        kept = [_event(e) for e in group if _relevant(e)]
        if kept:
            out.append(kept)
    return out


# -- facts rows <-> states --------------------------------------------------------------------------

_STATE_FIELDS = [f for f in engine.TicketState.__slots__ if f not in ("key", "tier_path")]


def state_of(row: TicketFacts) -> engine.TicketState:
    values = {name: getattr(row, name) for name in _STATE_FIELDS}
    key = engine.Key(
        department=row.department_id,
        team=row.team_id,
        assignee=row.assignee_id,
        channel=row.channel,
        priority=row.priority,
        tier=row.tier,
    )
    return engine.TicketState(key=key, tier_path=tuple(row.tier_path or ()), **values)


def facts_row(ticket_id: int, state: engine.TicketState) -> TicketFacts:
    assert state.created_at is not None
    k = state.key
    return TicketFacts(
        ticket_id=ticket_id,
        department_id=k.department,
        team_id=k.team,
        assignee_id=k.assignee,
        channel=k.channel,
        priority=k.priority,
        tier=k.tier,
        tier_path=list(state.tier_path),
        **{name: getattr(state, name) for name in _STATE_FIELDS},
    )


_FACT_COLUMNS = [f.attname for f in TicketFacts._meta.concrete_fields if not f.primary_key]


@dataclass(frozen=True, slots=True)
class RollupKey:
    day: date
    key: engine.Key


def rollup_rows(deltas: Iterable[engine.Delta]) -> list[DailyRollup]:
    """The deltas summed per day and key, as unsaved rows."""
    sums: dict[RollupKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(engine.COUNTERS, 0))
    for d in deltas:
        bucket = sums[RollupKey(day=day_of(d.at), key=d.key)]
        for name, value in d.counts.items():
            bucket[name] += value
    return [
        DailyRollup(
            day=rk.day,
            department_id=rk.key.department,
            team_id=rk.key.team,
            assignee_id=rk.key.assignee,
            channel=rk.key.channel,
            priority=rk.key.priority,
            tier=rk.key.tier,
            **counts,
        )
        for rk, counts in sorted(sums.items(), key=lambda item: (item[0].day, astuple_key(item[0].key)))
        if any(counts.values())
    ]


def astuple_key(k: engine.Key) -> tuple[Any, ...]:
    return tuple(asdict(k).values())


def count_rows(ticket_id: int, deltas: Iterable[engine.Delta]) -> list[TicketCount]:
    """The deltas of one ticket as they are, one row each."""
    out = []
    for d in deltas:
        k = d.key
        counts = dict.fromkeys(engine.COUNTERS, 0) | d.counts
        out.append(
            TicketCount(
                ticket_id=ticket_id,
                at=d.at,
                day=day_of(d.at),
                department_id=k.department,
                team_id=k.team,
                assignee_id=k.assignee,
                channel=k.channel,
                priority=k.priority,
                tier=k.tier,
                **counts,
            )
        )
    return out


# -- the pipeline's part ----------------------------------------------------------------------------


def on_change(ctx: Context) -> None:
    events = [e for e in ctx.written_events if _relevant(e)]
    if not events:
        return
    ticket_id = ctx.ticket.pk
    row = None if ctx.created else TicketFacts.objects.filter(pk=ticket_id).first()
    measure = business(ctx.memo)
    if row is None and not ctx.created:
        # Opened before reports kept its facts: its whole history counts now.
        state, deltas = engine.fold_history(_history(ticket_id), business=measure)
    else:
        before = state_of(row) if row is not None else engine.TicketState()
        changes = changes_of(events)
        state, deltas = engine.fold_change(before, changes[0] if changes else [], business=measure)
    if state.created_at is None:
        return
    new_row = facts_row(ticket_id, state)
    if row is None:
        rows.insert_rows([new_row])
    else:
        changed = [c for c in _FACT_COLUMNS if getattr(row, c) != getattr(new_row, c)]
        if changed:
            rows.update_row(new_row, changed)
    rows.insert_rows(rollup_rows(deltas))
    rows.insert_rows(count_rows(ticket_id, deltas))


def _history(ticket_id: int) -> list[list[engine.Event]]:
    return changes_of(TicketEvent.objects.filter(ticket_id=ticket_id).order_by("id"))


# -- from scratch -----------------------------------------------------------------------------------


def compute(
    ticket_ids: Iterable[int], *, measure: engine.Business | None = None
) -> Iterator[tuple[int, engine.TicketState, list[engine.Delta]]]:
    """Each ticket's state and deltas folded from its whole history (tickets without an opening
    event are left out), reading the events of `BATCH` tickets at a time."""
    measure = measure or business()
    ids = sorted(set(ticket_ids))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        events = TicketEvent.objects.filter(ticket_id__in=chunk).order_by("ticket_id", "id")
        for ticket_id, group in groupby(events.iterator(chunk_size=2000), key=lambda e: e.ticket_id):
            state, deltas = engine.fold_history(changes_of(group), business=measure)
            if state.created_at is not None:
                yield ticket_id, state, deltas


def rebuild(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute every ticket's facts and every roll-up from the audit trail, in one transaction.
    Changes made meanwhile wait for it (PostgreSQL: the roll-ups are locked first), so none is
    counted twice or lost. Returns the number of tickets folded."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {DailyRollup._meta.db_table}, {TicketFacts._meta.db_table}, "
                    f"{TicketCount._meta.db_table} IN EXCLUSIVE MODE"
                )
        # Deleting first also takes SQLite's write lock before anything is read.
        DailyRollup.objects.all().delete()
        TicketCount.objects.all().delete()
        TicketFacts.objects.all().delete()
        ids = list(Ticket.objects.order_by("id").values_list("id", flat=True))
        measure = business()
        done = 0
        pending_facts: list[TicketFacts] = []
        pending_deltas: list[engine.Delta] = []
        pending_counts: list[TicketCount] = []
        for ticket_id, state, deltas in compute(ids, measure=measure):
            pending_facts.append(facts_row(ticket_id, state))
            pending_deltas.extend(deltas)
            pending_counts.extend(count_rows(ticket_id, deltas))
            done += 1
            if len(pending_facts) >= BATCH:
                _flush(pending_facts, pending_deltas, pending_counts)
                pending_facts, pending_deltas, pending_counts = [], [], []
                if progress is not None:
                    progress(done, len(ids))
        _flush(pending_facts, pending_deltas, pending_counts)
        if progress is not None:
            progress(len(ids), len(ids))
        compact(before=None)
    return done


def _flush(facts: list[TicketFacts], deltas: list[engine.Delta], counts: list[TicketCount]) -> None:
    TicketFacts.objects.bulk_create(facts, batch_size=BATCH)
    DailyRollup.objects.bulk_create(rollup_rows(deltas), batch_size=BATCH)
    TicketCount.objects.bulk_create(counts, batch_size=BATCH)


# -- compaction -------------------------------------------------------------------------------------

KEY_COLUMNS = ("day", "department_id", "team_id", "assignee_id", "channel", "priority", "tier")


def compact(*, before: date | None = None) -> int:
    """Fold the rows of days before `before` (None: every day) into one row per day and key.
    Rows appended meanwhile are not touched (only the rows read are replaced). Returns the number
    of rows removed."""
    qs = DailyRollup.objects.all()
    if before is not None:
        qs = qs.filter(day__lt=before)
    crowded = (
        qs.order_by()
        .values(*KEY_COLUMNS)
        .annotate(rows=Count("id"))
        .filter(rows__gt=1)
        .values_list(*KEY_COLUMNS)
    )
    removed = 0
    with transaction.atomic():
        for key in crowded.iterator(chunk_size=1000):
            match = dict(zip(KEY_COLUMNS, key, strict=True))
            group = list(DailyRollup.objects.select_for_update().filter(**match).values_list("id", flat=True))
            if len(group) < 2:
                continue
            totals = DailyRollup.objects.filter(id__in=group).aggregate(
                **{name: Sum(name) for name in engine.COUNTERS}
            )
            DailyRollup.objects.filter(id__in=group).delete()
            rows.insert_rows([DailyRollup(**match, **totals)])
            removed += len(group) - 1
    return removed


def compact_yesterday(now: datetime) -> int:
    """The housekeeping job's call: every day before yesterday (yesterday may still receive rows
    of changes that were in flight at midnight)."""
    return compact(before=day_of(now) - timedelta(days=1))

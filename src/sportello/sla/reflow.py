"""Reflow: after an SLA policy or a business calendar changes, recompute the due instants of the
open clocks that follow it, without rewriting their history (consumed time and past breaches
stay; `engine.sla.reflow`).

Whether a change reflows is the desk's setting `SPORTELLO["SLA_ON_CHANGE"]` (`keep`: running
clocks keep their due instants, only clocks started afterwards see the change — Zendesk's way;
`reflow`), which a save may override (`?reflow=true|false` on the API). A reflow runs in the
worker, batch by batch (`tasks.reflow_clocks`), or from `sportello sla reflow` with progress and
an ETA. Each batch locks its tickets in id order (as changes do, one ticket at a time: no
deadlock), writes the new clocks and timers in bulk, and records a `reflowed` SLA event on every
ticket whose due instants moved.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from sportello.core.actors import Actor, ActorKind, Via
from sportello.engine import sla as engine
from sportello.tickets import audit
from sportello.tickets.models import EventKind, StatusCategory, Ticket, TicketEvent

from .active_calendars import clocks_for
from .active_policies import ActivePolicy, active_policies
from .models import SlaFiring, SlaTimer, TicketSla
from .timers import timer_key

BATCH = 500


def reflow_wanted(requested: bool | None) -> bool:
    if requested is not None:
        return requested
    return str(settings.SPORTELLO.get("SLA_ON_CHANGE", "keep")) == "reflow"


def _policies(*, policy: str | None, calendar: str | None) -> dict[int, ActivePolicy]:
    return {
        p.id: p
        for p in active_policies()
        if (policy is not None and p.parsed.key == policy)
        or (calendar is not None and p.parsed.calendar == calendar)
    }


def _rows(policies: dict[int, ActivePolicy], after: int) -> Any:
    # The id range applies to the tickets too (a plain join would read the tickets' key from
    # the first id on every batch).
    open_after = Ticket.objects.filter(pk__gt=after).exclude(status_category=StatusCategory.CLOSED)
    return TicketSla.objects.filter(
        policy_id__in=list(policies), ticket_id__gt=after, ticket_id__in=open_after.values("pk")
    ).order_by("ticket_id")


def reflow_count(*, policy: str | None = None, calendar: str | None = None) -> int:
    return int(_rows(_policies(policy=policy, calendar=calendar), 0).count())


def reflow_batch(
    *,
    policy: str | None = None,
    calendar: str | None = None,
    after: int = 0,
    now: datetime,
    batch: int = BATCH,
) -> tuple[int | None, int, int]:
    """Reflow the next `batch` tickets (by id, after `after`) following `policy` or a policy
    counting in `calendar`. Returns the last ticket id done (None: finished), how many tickets
    the batch held and how many of them had their due instants moved."""
    policies = _policies(policy=policy, calendar=calendar)
    if not policies:
        return None, 0, 0
    with transaction.atomic():
        ids = list(_rows(policies, after).values_list("ticket_id", flat=True)[:batch])
        if not ids:
            return None, 0, 0
        list(
            Ticket.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
        )
        rows = list(
            TicketSla.objects.filter(ticket_id__in=ids, policy_id__in=list(policies)).order_by("ticket_id")
        )
        # `now` was read before these locks were held: a change committed meanwhile may have
        # moved a clock later. The batch happens no earlier than its tickets' last clock change.
        now = max([now, *(r.updated_at for r in rows)])
        changed: list[TicketSla] = []
        events: list[TicketEvent] = []
        timers: list[SlaTimer] = []
        fired = set(SlaFiring.objects.filter(ticket_id__in=ids).values_list("ticket_id", "key"))
        memo: dict[str, Any] = {}  # the configuration signatures, read once per batch
        for row in rows:
            active = policies[row.policy_id]  # type: ignore[index]
            state = engine.state_from_data(row.state)
            if state.policy != active.parsed.key:
                continue
            clocks = clocks_for({c.calendar for c in state.clocks} | {active.parsed.calendar}, memo)
            new_state, new_events = engine.reflow(state, policy=active.parsed, clocks=clocks, now=now)
            if new_state == state:
                continue
            row.state = engine.state_to_data(new_state)
            row.policy_version = active.version
            row.next_breach_at = engine.next_breach(new_state)
            row.breached = any(c.breached_at is not None for c in new_state.clocks)
            row.updated_at = now
            changed.append(row)
            cause = f"sla:{active.parsed.key}@{active.version}:reflow"
            events += [_event(row.ticket_id, active, e, cause, now) for e in new_events]
            timers += [
                SlaTimer(ticket_id=row.ticket_id, key=timer_key(t), due_at=t.due_at)
                for t in engine.timers_for(new_state, active.parsed, clocks=clocks)
                if (row.ticket_id, timer_key(t)) not in fired
            ]
        if changed:
            _write_clocks(changed, now)
            SlaTimer.objects.filter(ticket_id__in=[r.ticket_id for r in changed]).delete()
            SlaTimer.objects.bulk_create(timers)
            TicketEvent.objects.bulk_create(events)
    return ids[-1], len(ids), len(changed)


def _write_clocks(rows: list[TicketSla], now: datetime) -> None:
    """The batch's new clocks in one statement: on PostgreSQL an UPDATE from arrays (Django's
    bulk_update builds a CASE per row and field, most of a batch's time); elsewhere bulk_update."""
    if connection.vendor != "postgresql":
        TicketSla.objects.bulk_update(
            rows, ["state", "policy_version", "next_breach_at", "breached", "updated_at"]
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sla_ticketsla AS s SET state = v.state, policy_version = v.pv, next_breach_at = v.nb, "
            "breached = v.br, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::jsonb[], %s::int[], %s::timestamptz[], %s::bool[]) "
            "AS v(id, state, pv, nb, br) WHERE s.ticket_id = v.id",
            [
                now,
                [r.ticket_id for r in rows],
                [json.dumps(r.state) for r in rows],
                [r.policy_version for r in rows],
                [r.next_breach_at for r in rows],
                [r.breached for r in rows],
            ],
        )


def _event(
    ticket_id: int, policy: ActivePolicy, e: engine.SlaEvent, cause: str, now: datetime
) -> TicketEvent:
    return audit.event(
        ticket_id=ticket_id, at=now, kind=EventKind.SLA, field=e.kind.removeprefix("sla."),
        new=engine.event_to_data(e),
        actor=Actor(kind=ActorKind.SLA, id=policy.id, label=f"SLA policy {policy.name}"),
        via=Via.SYSTEM, cause=cause,
    )  # fmt: skip


def reflow_all(
    *,
    policy: str | None = None,
    calendar: str | None = None,
    now: datetime,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Reflow every ticket following `policy` (or counting in `calendar`), batch by batch.
    `on_batch(done, moved)` after each. Returns how many tickets' due instants moved."""
    after, moved = 0, 0
    while True:
        last, done, n = reflow_batch(policy=policy, calendar=calendar, after=after, now=now)
        if last is None:
            return moved
        moved += n
        after = last
        if on_batch is not None:
            on_batch(done, n)

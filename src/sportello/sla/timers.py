"""SLA timers: warnings, breaches and escalation levels at their exact instants.

Arming (`timers_arm`, after every change that moved a ticket's clocks): the timers the clocks
call for (`engine.sla.timers_for`) replace the ticket's armed ones; a key that already fired
(`SlaFiring`) is not armed again.

Firing (`sla_fire_due`, the worker's poller `sla_poll`, through the one timer mechanism,
`core.timers`): a due timer is claimed with its ticket (`FOR UPDATE SKIP LOCKED`; SQLite: the
write lock), its key recorded in `SlaFiring` (unique: a level fires once per clock instance),
and a mutation runs through the pipeline with the SLA as actor (cause
`sla:<policy>@<version>:<metric>#<instance>:<kind><level>`): a warning is recorded as an event
(`sla` / `warning`); a breach is stamped by the SLA hook of that mutation at its true instant;
an escalation level's actions run like an event rule's (notify, reassign, raise the priority,
tags, a macro) and the level is recorded (`sla` / `escalated`). A timer whose clock moved on
(paused, fulfilled, retargeted) since it was armed is dropped as stale.
One that fails unexpectedly is rolled back alone, retried with back-off, then parked
(`core.timers`); the others fire meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sportello.core import timers as mechanism
from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import ValidationFailed
from sportello.core.timers import Round, TimerKind, register_timer_kind
from sportello.engine import sla as engine
from sportello.tickets.locks import tickets_held
from sportello.tickets.models import EventKind, Ticket

from .active_calendars import clocks_for
from .active_policies import active_policies
from .models import SlaFiring, SlaTimer, TicketSla

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context

logger = logging.getLogger(__name__)
ROUND_MAX = mechanism.ROUND_MAX


def timer_key(t: engine.SlaTimer) -> str:
    return f"{t.metric}:{t.instance}:{t.kind}:{t.level}"


def timers_arm(
    ticket: Ticket, state: engine.SlaState, policy: engine.SlaPolicy | None, clocks: Any, *, new: bool = False
) -> None:
    """`new`: the ticket was just created: nothing is armed or fired yet (no lookups)."""
    wanted = (
        [
            SlaTimer(ticket=ticket, key=timer_key(t), due_at=t.due_at)
            for t in engine.timers_for(state, policy, clocks=clocks)
        ]
        if policy
        else []
    )
    mechanism.arm(SLA_TIMERS, scope={"ticket_id": ticket.pk}, wanted=wanted, new=new, disarm_fired=True)


@dataclass(frozen=True, slots=True)
class Fired:
    timer_id: int
    outcome: str  # applied | stale | already_fired | error: ...
    change_id: Any = None


def sla_fire_due(*, now: datetime, limit: int = ROUND_MAX) -> list[Fired]:
    """Fire the SLA timers due at `now`; a failing one is retried, then parked (`core.timers`)."""
    return mechanism.fire_due(SLA_TIMERS, now=now, limit=limit)


def sla_fire(*, timer_id: int, now: datetime) -> Fired | None:
    """Fire one due timer, in one transaction; None when it is gone, not due or held."""
    return mechanism.fire_one(SLA_TIMERS, timer_id, now=now)


def _fire(timer: SlaTimer, rnd: Round) -> Fired:
    """The SLA kind's action on one claimed timer (`core.timers`)."""
    row = TicketSla.objects.filter(ticket_id=timer.ticket_id).first()
    memo = rnd.memo  # the configuration signatures, read once per round
    policy = next((p for p in active_policies(memo) if row is not None and p.id == row.policy_id), None)
    current = _current(row, policy, timer.key, memo)
    if current is None or current.due_at > rnd.now:
        rnd.drop(timer)
        return Fired(timer.pk, "stale")
    if rnd.already_fired(timer):
        rnd.drop(timer)
        return Fired(timer.pk, "already_fired")
    assert policy is not None
    firing = rnd.record(timer, SlaFiring(ticket_id=timer.ticket_id, key=timer.key, due_at=timer.due_at,
                                         fired_at=rnd.now, outcome="pending"))  # fmt: skip
    firing.outcome, firing.change_id = _run(policy, current, timer, rnd.now)
    return Fired(timer.pk, firing.outcome, firing.change_id)


def _current(row: TicketSla | None, policy: Any, key: str, memo: dict[str, Any]) -> engine.SlaTimer | None:
    """The timer `key` as the ticket's clocks call for it now (None: no longer wanted)."""
    if row is None or policy is None:
        return None
    state = engine.state_from_data(row.state)
    if state.policy != policy.parsed.key:
        return None
    clocks = clocks_for({c.calendar for c in state.clocks}, memo)
    return next(
        (t for t in engine.timers_for(state, policy.parsed, clocks=clocks) if timer_key(t) == key), None
    )


def _run(policy: Any, timer: engine.SlaTimer, row: SlaTimer, now: datetime) -> tuple[str, Any]:
    from sportello.automation import event_rules
    from sportello.tickets import pipeline

    parsed: engine.SlaPolicy = policy.parsed
    cause = f"sla:{parsed.key}@{policy.version}:{timer.metric}#{timer.instance}:{timer.kind}{timer.level}"
    actor = Actor(kind=ActorKind.SLA, id=policy.id, label=f"SLA policy {policy.name}"[:200])
    record = {"metric": timer.metric, "instance": timer.instance, "level": timer.level,
              "due_at": timer.due_at.isoformat()}  # fmt: skip

    def fire(ctx: Context) -> None:
        if timer.kind == "warning":
            _record(ctx, actor, cause, "warning", record)
        elif timer.kind == "escalation":
            level = parsed.escalations[timer.level]
            error = event_rules.run_actions(
                ctx, key=f"sla-{parsed.key}", name=policy.name, owner_id=policy.id, version=policy.version,
                actions=level.actions, cause=cause, actor_kind=ActorKind.SLA,
            )  # fmt: skip
            if error is not None:
                raise ValidationFailed(error)
            _record(ctx, actor, cause, "escalated", record)
        # a breach: the SLA hook of this very mutation stamps it at its true instant

    mutation = pipeline.Mutation(actor=actor, via=Via.SYSTEM, cause=cause, automation=fire)
    outcome, out = mechanism.fire_as_mutation(
        pipeline.ticket_apply,
        ticket_id=row.ticket_id,
        mutation=mutation,
        now=now,
        what=f"SLA timer {row.key}",
    )
    return outcome, out.change_id if out is not None else None


def _record(ctx: Context, actor: Actor, cause: str, field: str, data: dict[str, Any]) -> None:
    ctx.record(EventKind.SLA, field, new=data, actor=actor, via=Via.SYSTEM, cause=cause)


def sla_poll(now: datetime) -> datetime | None:
    return mechanism.poll(SLA_TIMERS, now)


SLA_TIMERS = TimerKind(
    name="sla",
    model=SlaTimer,
    fire=lambda timer, rnd: _fire(timer, rnd),  # late-bound: tests wrap `_run`
    key=("ticket_id", "key"),
    firing=SlaFiring,
    lock=Ticket,
    held=tickets_held,
    related=("ticket__sla__policy",),
    describe=lambda t: f"SLA {_policy_name(t)} {t.key}",
)


def _policy_name(timer: SlaTimer) -> str:
    row = getattr(timer.ticket, "sla", None)
    return row.policy.key if row is not None and row.policy is not None else "?"


def register() -> None:
    from sportello.core.worker import register_poller

    register_timer_kind(SLA_TIMERS)
    register_poller("sla", sla_poll)

"""State time limits: the escalations of a blueprint state, at their exact instants.

Arming (`timers_arm`, after the change that moved the run): entering a state with a
`time_limit` arms one timer per escalation (`after` counts from the limit, negative = before
it), in business time when the state says so (the ticket's calendar); every other timer of the
ticket is dropped — leaving the state disarms them, entering it again arms new ones.

Firing (`limits_fire_due`, the worker's poller, through the one timer mechanism, `core.timers`):
a due timer is claimed with its ticket (`FOR
UPDATE SKIP LOCKED`), checked against the run (still active, in that state since that instant),
its key recorded once (`BlueprintFiring`, unique), and the escalation's actions run through the
pipeline as the blueprint (cause `blueprint:<key>@<version>:limit:<state>#<n>`), like an event
rule's; a `blueprint` / `time_limit` event records it.
One that fails unexpectedly is rolled back alone, retried with back-off, then parked
(`core.timers`); the others fire meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sportello.core import timers as mechanism
from sportello.core.actors import ActorKind, Via
from sportello.core.errors import ValidationFailed
from sportello.core.timers import Round, TimerKind, register_timer_kind
from sportello.engine import blueprints as engine
from sportello.tickets.locks import tickets_held
from sportello.tickets.models import Ticket

from . import definitions
from .models import BlueprintFiring, BlueprintTimer, BlueprintVersion, TicketBlueprint

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context

logger = logging.getLogger(__name__)


def _key(state: str, entered_at: datetime, index: int) -> str:
    return f"{state}:{entered_at.timestamp():.6f}:{index}"


def _add_business(ticket: Ticket) -> Any:
    from sportello.engine import calendars
    from sportello.sla.calendars import active_calendars

    calendar = active_calendars().for_department(ticket.department_id)
    if calendar is None:
        return None
    return lambda start, span: calendars.add(calendar, start, span)


def timers_arm(
    ticket: Ticket, state: engine.State | None, entered_at: datetime, *, new: bool = False
) -> None:
    """The ticket's limit timers for `state` entered at `entered_at` (None: no active run).
    `new`: a ticket just created has none to drop."""
    wanted: list[BlueprintTimer] = []
    if state is not None and state.time_limit is not None:
        business = _add_business(ticket) if state.business else None
        wanted = [
            BlueprintTimer(ticket=ticket, key=_key(t.state, entered_at, t.escalation), due_at=t.due_at)
            for t in engine.limit_timers(state, entered_at, add_business=business)
        ]
    mechanism.arm(LIMIT_TIMERS, scope={"ticket_id": ticket.pk}, wanted=wanted, new=new, replace=not new)


def limits_fire_due(*, now: datetime, limit: int = mechanism.ROUND_MAX) -> list[str]:
    """Fire the limit timers due at `now`; a failing one is retried, then parked (`core.timers`)."""
    return mechanism.fire_due(LIMIT_TIMERS, now=now, limit=limit)


def limit_fire(*, timer_id: int, now: datetime) -> str | None:
    """Fire one due timer, in one transaction; None when it is gone, not due or held."""
    return mechanism.fire_one(LIMIT_TIMERS, timer_id, now=now)


def _fire(timer: BlueprintTimer, rnd: Round) -> str:
    """The blueprint-limit kind's action on one claimed timer (`core.timers`)."""
    run = (
        TicketBlueprint.objects.filter(ticket_id=timer.ticket_id, active=True)
        .select_related("blueprint")
        .first()
    )
    state_key, _entered, index = timer.key.rsplit(":", 2)
    if (
        run is None
        or run.state != state_key
        or _key(run.state, run.entered_state_at, int(index)) != timer.key
    ):
        rnd.drop(timer)
        return "stale"
    if rnd.already_fired(timer):
        rnd.drop(timer)
        return "already_fired"
    firing = rnd.record(timer, BlueprintFiring(ticket_id=timer.ticket_id, key=timer.key, fired_at=rnd.now,
                                               outcome="pending"))  # fmt: skip
    firing.outcome, firing.change_id = _run(run, state_key, int(index), timer, rnd.now)
    return firing.outcome


def _run(
    run: TicketBlueprint, state_key: str, index: int, timer: BlueprintTimer, now: datetime
) -> tuple[str, Any]:
    from sportello.automation import event_rules
    from sportello.automation.facts import field_specs
    from sportello.tickets import pipeline

    from .audit import blueprint_author, record

    version = BlueprintVersion.objects.get(blueprint_id=run.blueprint_id, version=run.version)
    parsed = definitions.parsed(version.definition, field_specs)
    state = parsed.blueprint.state(state_key) if parsed is not None else None
    if state is None or index >= len(state.escalations):
        return "stale", None
    escalation = state.escalations[index]
    author = blueprint_author(blueprint_id=run.blueprint_id, name=run.blueprint.name, key=run.blueprint.key,
                              version=run.version, suffix=f":limit:{state_key}#{index}")  # fmt: skip

    def fire(ctx: Context) -> None:
        error = event_rules.run_actions(
            ctx, key=f"bp-{run.blueprint.key}", name=run.blueprint.name, owner_id=run.blueprint_id,
            version=run.version, actions=escalation.actions, cause=author.cause,
            actor_kind=ActorKind.BLUEPRINT,
        )  # fmt: skip
        if error is not None:
            raise ValidationFailed(error)
        record(ctx, "time_limit", {"blueprint": run.blueprint.key, "version": run.version, "state": state_key,
                                   "escalation": index, "due_at": timer.due_at.isoformat()},
               author.actor, author.cause)  # fmt: skip

    mutation = pipeline.Mutation(actor=author.actor, via=Via.SYSTEM, cause=author.cause, automation=fire)
    outcome, out = mechanism.fire_as_mutation(
        pipeline.ticket_apply, ticket_id=run.ticket_id, mutation=mutation, now=now,
        what=f"blueprint limit {timer.key}",
    )  # fmt: skip
    return outcome, out.change_id if out is not None else None


def limits_poll(now: datetime) -> datetime | None:
    return mechanism.poll(LIMIT_TIMERS, now)


LIMIT_TIMERS = TimerKind(
    name="blueprint_limit",
    model=BlueprintTimer,
    fire=lambda timer, rnd: _fire(timer, rnd),  # late-bound: tests wrap `_run`
    key=("ticket_id", "key"),
    firing=BlueprintFiring,
    lock=Ticket,
    held=tickets_held,
    describe=lambda t: f"blueprint state limit {t.key}",
)


def register() -> None:
    from sportello.core.worker import register_poller

    register_timer_kind(LIMIT_TIMERS)
    register_poller("blueprint_limits", limits_poll)

"""State time limits: the escalations of a blueprint state, at their exact instants.

Arming (`timers_arm`, after the change that moved the run): entering a state with a
`time_limit` arms one timer per escalation (`after` counts from the limit, negative = before
it), in business time when the state says so (the ticket's calendar); every other timer of the
ticket is dropped — leaving the state disarms them, entering it again arms new ones.

Firing (`limits_fire_due`, the worker's poller): a due timer is claimed with its ticket (`FOR
UPDATE SKIP LOCKED`), checked against the run (still active, in that state since that instant),
its key recorded once (`BlueprintFiring`, unique), and the escalation's actions run through the
pipeline as the blueprint (cause `blueprint:<key>@<version>:limit:<state>#<n>`), like an event
rule's; a `blueprint` / `time_limit` event records it.
One that fails unexpectedly is rolled back alone, retried with back-off, then parked
(`core.timing.fire_due`); the others fire meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from sportello.core.actors import ActorKind, Via
from sportello.core.errors import DomainError, ValidationFailed
from sportello.core.timing import TimerKind, claim, fire_due, next_attempt, next_poll, register_timer_kind
from sportello.engine import blueprints as engine
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
    if not new:
        BlueprintTimer.objects.filter(ticket=ticket).delete()
    if state is None or state.time_limit is None:
        return
    timers = engine.limit_timers(
        state, entered_at, add_business=_add_business(ticket) if state.business else None
    )
    BlueprintTimer.objects.bulk_create(
        [
            BlueprintTimer(ticket=ticket, key=_key(t.state, entered_at, t.escalation), due_at=t.due_at)
            for t in timers
        ]
    )


def limits_fire_due(*, now: datetime, limit: int = 1_000) -> list[str]:
    """Fire the limit timers due at `now`; a failing one is retried, then parked (`core.timing`)."""
    return fire_due(LIMIT_TIMERS, now=now, fire=lambda pk: limit_fire(timer_id=pk, now=now), limit=limit)


def limit_fire(*, timer_id: int, now: datetime) -> str | None:
    with transaction.atomic():
        timer = claim(LIMIT_TIMERS.due(now).filter(pk=timer_id)).first()
        if timer is None:
            return None
        if claim(Ticket.objects.filter(pk=timer.ticket_id)).values_list("pk").first() is None:
            return None
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
            timer.delete()
            return "stale"
        try:
            with transaction.atomic():
                firing = BlueprintFiring.objects.create(
                    ticket_id=timer.ticket_id, key=timer.key, fired_at=now, outcome="pending"
                )
        except IntegrityError:
            timer.delete()
            return "already_fired"
        firing.outcome, firing.change_id = _run(run, state_key, int(index), timer, now)
        firing.save(update_fields=["outcome", "change_id"])
        timer.delete()
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
    try:
        with transaction.atomic():
            out = pipeline.ticket_apply(ticket_id=run.ticket_id, mutation=mutation, now=now)
    except DomainError as exc:
        logger.warning("blueprint limit %s of ticket %s failed: %s", timer.key, run.ticket_id, exc)
        return f"error: {exc}"[:200], None
    return "applied", out.change_id


def limits_poll(now: datetime) -> datetime | None:
    limits_fire_due(now=now)
    return next_poll(now, next_attempt(LIMIT_TIMERS, now))


LIMIT_TIMERS = TimerKind(
    name="blueprint_limit",
    model=BlueprintTimer,
    due_field="due_at",
    ticket_field="ticket_id",
    describe=lambda t: f"blueprint state limit {t.key}",
)


def register() -> None:
    from sportello.core.worker import register_poller

    register_timer_kind(LIMIT_TIMERS)
    register_poller("blueprint_limits", limits_poll)

"""Who a blueprint acts as, and the `blueprint` events of a change: shared by the pipeline's
blueprint extension (`blueprints.hooks`), transitions (`blueprints.services`) and state limits
(`blueprints.timers`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets.change import Author
from sportello.tickets.models import EventKind

if TYPE_CHECKING:
    from sportello.tickets.context import Context

CAUSE_PREFIX = "blueprint:"
AUTOMATION_KINDS = (ActorKind.RULE, ActorKind.SLA, ActorKind.BLUEPRINT)
EVENT_KIND = EventKind.BLUEPRINT


def blueprint_author(*, blueprint_id: int, name: str, key: str, version: int, suffix: str = "") -> Author:
    return Author(
        actor=Actor(kind=ActorKind.BLUEPRINT, id=blueprint_id, label=name[:200]),
        cause=f"{CAUSE_PREFIX}{key}@{version}{suffix}",
    )


def record(ctx: Context, field: str, new: Mapping[str, Any], actor: Actor, cause: str) -> None:
    """An event of the change, written with its other events."""
    via = Via.RULE if actor.kind in AUTOMATION_KINDS else ctx.mutation.via
    ctx.record(EVENT_KIND, field, new=dict(new), actor=actor, via=via, cause=cause)

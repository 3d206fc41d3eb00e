"""The SLA's part in every ticket change (`tickets.extensions`): policy choice and clock
start/pause/stop before the write (`sla.hooks`); and tier paths within event rules (entry
before and after the rules' cycle, the `escalate_tier` action: `sla.tiers`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sportello.engine import actions as act
from sportello.engine.placeholders import render

from . import hooks, tiers

if TYPE_CHECKING:
    from sportello.tickets.change import Author
    from sportello.tickets.context import Context

REASON_MAX = 500


class SlaClocks:
    def before_write(self, ctx: Context) -> None:
        if ctx.records_only:
            return  # an event beside the ticket (a task completed) moves no clock
        hooks.update_sla_clocks(ctx)


class Tiers:
    """A ticket entering a department's tier path joins its first tier's team before the event
    rules' cycle (so rules see the team), or after it when a rule moved it there; rules escalate
    with `escalate_tier`."""

    def before_rules(self, ctx: Context) -> None:
        tiers.enter_path(ctx)

    def after_rules(self, ctx: Context) -> None:
        tiers.enter_path(ctx)

    def rule_actions(self) -> dict[type, Callable[..., Callable[[], None]]]:
        return {act.EscalateTier: escalate_tier}


def escalate_tier(
    ctx: Context, action: act.EscalateTier, author: Author, context: dict[str, Any]
) -> Callable[[], None]:
    """An `escalate_tier` action: its reason rendered now, the escalation carried out after the
    cycle (a refusal is recorded, the change stands)."""
    reason = " ".join(render(action.reason, context).split())[:REASON_MAX]
    return lambda: tiers.escalation_effect(ctx, reason=reason, to=action.to, author=author)

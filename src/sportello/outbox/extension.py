"""The outbox's part in every ticket change (`tickets.extensions`): the change's outbound effects
(notifications, webhooks, the agent's reply by e-mail) written to the outbox in its transaction;
workers deliver them after commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import services as outbox

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class Outbox:
    def written(self, ctx: Context) -> None:
        ticket = ctx.ticket
        for effect in ctx.effects:
            if "ticket_number" in effect["payload"]:
                effect["payload"]["ticket_number"] = ticket.number
            outbox.outbox_add(
                kind=effect["kind"],
                ticket=ticket,
                change_id=ctx.change_id,
                dedupe_key=effect["dedupe_key"],
                payload=effect["payload"],
                now=ctx.now,
            )

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
        if not ctx.effects:
            return
        ticket = ctx.ticket
        for effect in ctx.effects:
            if "ticket_number" in effect["payload"]:
                effect["payload"]["ticket_number"] = ticket.number
        # All of the change's effects at once: two statements, however many there are.
        outbox.outbox_add_all(effects=ctx.effects, ticket=ticket, change_id=ctx.change_id, now=ctx.now)

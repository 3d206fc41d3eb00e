"""The inbox's part in every ticket change (`tickets.extensions`): once the change is written,
in-app notifications for the agents it concerns (assigned, SLA warning or breach, @mentioned in
a note), in the same transaction (`inbox.hooks`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import hooks

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class AgentNotifications:
    def after_write(self, ctx: Context) -> None:
        hooks.notify_agents(ctx, ctx.changes)

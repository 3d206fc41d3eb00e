"""Automation's part in every ticket change (`tickets.extensions`): event rules before the
write, time-rule timers once the ticket row is written, round-robin capacity after it; and
waiting tickets finding an agent who came online."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import assignment, event_rules, timers

if TYPE_CHECKING:
    from sportello.accounts.models import User
    from sportello.tickets.context import Context


class EventRules:
    """Event rules (triggers) run on (ctx.before, the ticket now): they change the ticket
    through `ctx.change`, add notes and outbound effects (`automation.event_rules`)."""

    def before_write(self, ctx: Context) -> None:
        if ctx.records_only:
            return  # an event beside the ticket (a task completed) changes nothing rules look at
        event_rules.run(ctx)


class TimeRuleTimers:
    """Timers of time rules are armed or disarmed once the ticket row is written (a new ticket
    needs its id), still inside the transaction (`automation.timers`)."""

    def saved(self, ctx: Context) -> None:
        timers.timers_arm(ctx)


class Assignment:
    """After the change is written: a ticket that left its assignee's counted statuses, or was
    unassigned or reassigned, frees capacity; round-robin backlogs are drained here
    (`automation.assignment`). An agent coming online takes waiting tickets."""

    def after_write(self, ctx: Context) -> None:
        if ctx.created or not any(c.field in ("assignee", "status") for c in ctx.changes):
            return
        assignment.capacity_released(ctx, ctx.changes)

    def agent_online(self, *, agent: User, now: datetime) -> None:
        assignment.agent_came_online(agent=agent, now=now)

"""The pipeline's extension protocol. An extension is a class listed in
`settings.SPORTELLO_TICKET_EXTENSIONS` (loaded once, in order: `core.extensions`); it defines any
of these methods, each called on every change in the list's order, inside the change's
transaction, with the change context (`tickets.context.Context`):

- `before_write(ctx)`: the caller's change is applied, nothing is written yet. Change the ticket
  (`ctx.change`), add notes, events and effects; what it does is saved, audited and indexed with
  the rest. E.g. event rules, SLA clocks, blueprints.
- `saved(ctx)`: the ticket row is written (a new ticket has its id); its messages and events are
  not yet. E.g. time-rule timers.
- `written(ctx)`: the messages, events and search document are written (`ctx.written_events`).
  E.g. the agent's reply by e-mail, the outbox, the reports' roll-ups.
- `after_write(ctx)`: the work queued with `ctx.after_write` ran; `ctx.changes` says what the
  change did. E.g. capacity released, agents notified.

Other hooks called from below the apps: `agent_online(agent=, now=)` (an agent came online,
`accounts.services`).

`TicketExtension` documents the signatures; an extension need not inherit from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sportello.accounts.models import User

    from .context import Context

PHASES = ("before_write", "saved", "written", "after_write")


class TicketExtension(Protocol):
    def before_write(self, ctx: Context) -> None: ...

    def saved(self, ctx: Context) -> None: ...

    def written(self, ctx: Context) -> None: ...

    def after_write(self, ctx: Context) -> None: ...

    def agent_online(self, *, agent: User, now: datetime) -> None: ...

"""Reports' part in every ticket change (`tickets.extensions`): once the change's events are
written, they are folded into the ticket's facts and the day's roll-ups, in the same
transaction (`reports.rollups.on_change`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import rollups

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class Rollups:
    def written(self, ctx: Context) -> None:
        rollups.on_change(ctx)

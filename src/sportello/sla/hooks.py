"""The SLA's part of the change pipeline (`tickets.pipeline.update_sla_clocks`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context


def update_sla_clocks(ctx: Context) -> None:
    """Choose the ticket's SLA policy and move its clocks with the change."""

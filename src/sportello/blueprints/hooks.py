"""The blueprint's part of the change pipeline (`tickets.pipeline.enforce_blueprint`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Context


def enforce_blueprint(ctx: Context) -> None:
    """Attach a blueprint to an eligible ticket; refuse a status change that is no transition."""

"""Blueprints' part in every ticket change (`tickets.extensions`): blueprint entry, and status
changes only by transitions, before the write (`blueprints.hooks`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import hooks

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class Blueprints:
    def before_write(self, ctx: Context) -> None:
        hooks.enforce_blueprint(ctx)

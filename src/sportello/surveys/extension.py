"""Surveys' part in every ticket change (`tickets.extensions`): once the ticket row is written,
a ticket entering the solved category arms its survey; leaving it before the survey is sent
disarms it (`surveys.services.survey_on_change`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import services

if TYPE_CHECKING:
    from sportello.tickets.context import Context


class Surveys:
    def saved(self, ctx: Context) -> None:
        if ctx.records_only:
            return
        services.survey_on_change(ctx)

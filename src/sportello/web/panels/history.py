"""Ticket page panel: the history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sportello.tickets import selectors
from sportello.tickets.models import Ticket

from ..timeline import changes


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    return {"changes": changes(selectors.event_list(principal=request.user, ticket=ticket))}  # type: ignore[arg-type]

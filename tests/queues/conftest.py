"""Fixtures for the queue page: tickets opened through the service, browsers signed in per role
(as in tests/web), and a pinned clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> datetime:
    """The views read the clock once per request; pin it a little after the tickets were opened."""
    from sportello.core import clock

    later = now + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    return later


@pytest.fixture
def solve(desk: Any) -> Callable[[Any, datetime], None]:
    """Solves a ticket through the service at the given instant (as the admin)."""
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_update

    def solve(ticket: Any, at: datetime) -> None:
        ticket.refresh_from_db()
        ticket_update(
            principal=desk.admin,
            ticket_id=ticket.pk,
            via=Via.WEB,
            data={"status": "solved", "version": ticket.version},
            now=at,
        )

    return solve

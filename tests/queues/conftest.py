"""Fixtures for the queue page: tickets opened through the service, browsers signed in per role
(as in tests/web), and a pinned clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def open_ticket(desk: Any, now: datetime) -> Callable[..., Any]:
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_open

    def make(
        subject: str,
        *,
        department: Any = None,
        priority: str = "normal",
        minutes_ago: int = 0,
        by: Any = None,
        **data: Any,
    ) -> Any:
        outcome = ticket_open(
            principal=by or desk.admin,
            via=Via.WEB,
            data={
                "subject": subject,
                "description": data.pop("description", f"About: {subject}"),
                "department_id": (department or desk.books).pk,
                "requester_id": data.pop("requester", desk.alice).pk,
                "priority": priority,
                **data,
            },
            now=now - timedelta(minutes=minutes_ago),
        )
        return outcome.ticket

    return make


@pytest.fixture
def browser() -> Callable[..., Client]:
    def make(user: Any, **headers: Any) -> Client:
        client = Client(headers=headers)
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> datetime:
    """The views read the clock once per request; pin it a little after the tickets were opened."""
    from sportello.core import clock

    later = now + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    return later

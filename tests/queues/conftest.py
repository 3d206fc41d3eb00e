"""Fixtures for the queue page: tickets opened through the service, browsers signed in per role
(as in tests/web), and a pinned clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> datetime:
    """The views read the clock once per request; pin it a little after the tickets were opened."""
    from sportello.core import clock

    later = now + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    return later

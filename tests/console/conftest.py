"""Fixtures for the Console's pages: the views read the clock once per request; it is pinned."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> datetime:
    from sportello.core import clock

    later = now + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    return later

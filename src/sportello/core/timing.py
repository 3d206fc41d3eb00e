"""What every kind of exact timer shares (time rules, SLA levels, blueprint limits, task
reminders): claiming a due row without waiting on another worker, and when to poll again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection

IDLE_RECHECK = timedelta(seconds=1)  # timers armed by other processes are seen this soon


def claim(qs: Any) -> Any:
    """`qs` locked for this transaction, rows held by another skipped (PostgreSQL: `FOR UPDATE
    SKIP LOCKED OF` the queryset's table; SQLite: the transaction holds the write lock)."""
    if connection.vendor == "postgresql":
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def next_poll(now: datetime, upcoming: datetime | None) -> datetime:
    """When a poller should look again: the next due instant, at most `IDLE_RECHECK` away."""
    recheck = now + IDLE_RECHECK
    return recheck if upcoming is None or upcoming > recheck else max(upcoming, now)

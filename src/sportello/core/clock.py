"""The one place that reads the wall clock. Edges call `now()` once and pass it down."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)

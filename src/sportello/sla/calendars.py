"""Business calendars as the SLA's clocks. Until calendars are configured in the desk, only
calendar time (24/7) exists: a policy that names a calendar is refused when saved."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sportello.engine import sla as engine


def calendar_exists(key: str) -> bool:
    return False


def clocks_for(keys: Iterable[str | None]) -> Mapping[str, engine.Clock]:
    """The clock of each named calendar (calendar time needs none)."""
    return {}

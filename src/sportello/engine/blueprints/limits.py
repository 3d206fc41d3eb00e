"""State time limits: when a ticket has been too long in a state (calendar or business time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sportello.engine.actions import (
    Action,
)
from sportello.engine.blueprints.definition import State

# -- state time limits -----------------------------------------------------------------------------

AddBusiness = Callable[[datetime, timedelta], datetime]
BusinessElapsed = Callable[[datetime, datetime], timedelta]


@dataclass(frozen=True, slots=True)
class LimitTimer:
    state: str
    escalation: int  # index in the state's escalations
    due_at: datetime
    actions: tuple[Action, ...]


def limit_due(
    state: State, entered_at: datetime, *, add_business: AddBusiness | None = None
) -> datetime | None:
    """When the ticket's time in the state runs out, or None when the state has no limit.
    Business time goes through `add_business` when the state counts it and one is given."""
    if state.time_limit is None:
        return None
    return _add(state, entered_at, state.time_limit, add_business)


def _add(state: State, start: datetime, span: timedelta, add_business: AddBusiness | None) -> datetime:
    if state.business and add_business is not None:
        return add_business(start, span)
    return start + span


def limit_timers(
    state: State, entered_at: datetime, *, add_business: AddBusiness | None = None
) -> list[LimitTimer]:
    """The escalation timers entering the state arms (leaving it disarms them; entering again
    arms new ones), in order."""
    if state.time_limit is None:
        return []
    return [
        LimitTimer(state.key, i, _add(state, entered_at, state.time_limit + e.after, add_business), e.actions)
        for i, e in enumerate(state.escalations)
    ]

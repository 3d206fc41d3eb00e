"""The exact-timer mechanism under its former name: everything lives in `core.timers`."""

from __future__ import annotations

from .timers import (
    FailingTimer,
    TimerKind,
    claim,
    failing_timers,
    fire_due,
    fireable,
    next_attempt,
    next_poll,
    oldest_due,
    parked_count,
    register_timer_kind,
    retry_delay,
    timer_discard,
    timer_failed,
    timer_kind,
    timer_kinds,
    timer_retry,
)

__all__ = [
    "FailingTimer", "TimerKind", "claim", "failing_timers", "fire_due", "fireable", "next_attempt",
    "next_poll", "oldest_due", "parked_count", "register_timer_kind", "retry_delay", "timer_discard",
    "timer_failed", "timer_kind", "timer_kinds", "timer_retry",
]  # fmt: skip

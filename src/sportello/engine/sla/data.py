"""A ticket's SLA state and events as JSON-able data, and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sportello.engine.sla.clocks import ClockState, ClockStatus, SlaEvent, SlaState
from sportello.engine.sla.policy import METRICS, check_category, check_priority, microseconds

# -- persistence -----------------------------------------------------------------------------


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_dt(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    raise ValueError(f"{name} must be an ISO 8601 instant with an offset")


def _required_dt(value: object, name: str) -> datetime:
    moment = _parse_dt(value, name)
    if moment is None:
        raise ValueError(f"{name} is required")
    return moment


def _parse_us(value: object, name: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer number of microseconds")
    return timedelta(microseconds=value)


def clock_to_data(c: ClockState) -> dict[str, Any]:
    """The JSON-able form of a clock instance; durations in integer microseconds."""
    return {
        "metric": c.metric,
        "instance": c.instance,
        "status": c.status.value,
        "started_at": _dt(c.started_at),
        "calendar": c.calendar,
        "target_us": None if c.target is None else microseconds(c.target),
        "consumed_us": microseconds(c.consumed),
        "runs": [[_dt(a), _dt(b)] for a, b in c.runs],
        "running_since": _dt(c.running_since),
        "paused_since": _dt(c.paused_since),
        "due_at": _dt(c.due_at),
        "breached_at": _dt(c.breached_at),
        "fulfilled_at": _dt(c.fulfilled_at),
        "superseded_at": _dt(c.superseded_at),
    }


def clock_from_data(data: Mapping[str, Any]) -> ClockState:
    """The inverse of `clock_to_data`; ValueError on malformed data."""
    metric = data.get("metric")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    instance = data.get("instance")
    if isinstance(instance, bool) or not isinstance(instance, int) or instance < 1:
        raise ValueError("instance must be a positive integer")
    calendar = data.get("calendar")
    if calendar is not None and not isinstance(calendar, str):
        raise ValueError("calendar must be a key or null")
    runs = data.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, list) and len(r) == 2 for r in runs):
        raise ValueError("runs must be a list of [start, end] pairs")
    target = data.get("target_us")
    return ClockState(
        metric=str(metric),
        instance=instance,
        status=ClockStatus(str(data.get("status"))),
        started_at=_required_dt(data.get("started_at"), "started_at"),
        calendar=calendar,
        target=None if target is None else _parse_us(target, "target_us"),
        consumed=_parse_us(data.get("consumed_us"), "consumed_us"),
        runs=tuple((_required_dt(a, "runs"), _required_dt(b, "runs")) for a, b in runs),
        running_since=_parse_dt(data.get("running_since"), "running_since"),
        paused_since=_parse_dt(data.get("paused_since"), "paused_since"),
        due_at=_parse_dt(data.get("due_at"), "due_at"),
        breached_at=_parse_dt(data.get("breached_at"), "breached_at"),
        fulfilled_at=_parse_dt(data.get("fulfilled_at"), "fulfilled_at"),
        superseded_at=_parse_dt(data.get("superseded_at"), "superseded_at"),
    )


def state_to_data(state: SlaState) -> dict[str, Any]:
    """The JSON-able form of a ticket's SLA state: `state_from_data(state_to_data(s)) == s`."""
    return {
        "policy": state.policy,
        "priority": state.priority,
        "category": state.category,
        "clocks": [clock_to_data(c) for c in state.clocks],
    }


def state_from_data(data: Mapping[str, Any]) -> SlaState:
    policy = data.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise ValueError("policy must be a key or null")
    priority = data.get("priority")
    category = data.get("category")
    if not isinstance(priority, str) or not isinstance(category, str):
        raise ValueError("priority and category are required")
    check_priority(priority)
    check_category(category)
    clocks = data.get("clocks", [])
    if not isinstance(clocks, list):
        raise ValueError("clocks must be a list")
    return SlaState(policy, priority, category, tuple(clock_from_data(c) for c in clocks))


def event_to_data(event: SlaEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "metric": event.metric,
        "instance": event.instance,
        "at": _dt(event.at),
        "cause": event.cause,
        "target_us": None if event.target is None else microseconds(event.target),
        "due_at": None if event.due_at is None else _dt(event.due_at),
    }

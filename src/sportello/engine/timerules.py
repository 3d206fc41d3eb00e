"""Time rules as exact timers: when each step of each rule is due for one ticket.

The caller knows the anchor instants of a ticket (`created`, `status_entered:pending`,
`assigned`, `last_customer_message`, `last_agent_reply`, `last_update`, `due_date`) and passes
them in; a missing or None anchor means the rule has no clock running for that ticket.
`plan_timers` returns the full set of timers the ticket should have now; the caller diffs it
against its stored timers: rows whose (anchor_key, step_index) are planned stay as they are,
new ones are armed, the others deleted. A new anchor instant (the ticket re-entered pending) is a
new `anchor_key`, so a step fires once per anchor instance.

Steps already past due when planned are planned all the same: the worker fires them at once
(and re-checks the rule's `when` on the current ticket, as for any timer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sportello.engine.rules import TimeRule, TimeStep

AddBusiness = Callable[[datetime, timedelta], datetime]


@dataclass(frozen=True, slots=True)
class PlannedTimer:
    rule_key: str
    rule_version: int | None
    step_index: int
    anchor_key: str
    due_at: datetime


def anchor_instant(rule: TimeRule, anchors: Mapping[str, datetime | None]) -> datetime | None:
    """The instant the rule's clock started for this ticket, or None when it is not running."""
    instant = anchors.get(rule.anchor)
    if instant is not None and instant.tzinfo is None:
        raise ValueError(f"anchor {rule.anchor!r} must be an aware datetime")
    return instant


def step_due(
    anchor_at: datetime, step: TimeStep, *, business: bool, add_business: AddBusiness | None = None
) -> datetime:
    """When a step is due: `anchor_at + step.after` in calendar time, or through `add_business`
    (business calendars) when the rule counts business time and a calendar is given. Without a
    calendar, business time is calendar time."""
    if business and add_business is not None:
        return add_business(anchor_at, step.after)
    return anchor_at + step.after


def anchor_key(rule_key: str, ticket_id: int, anchor_name: str, anchor_at: datetime) -> str:
    """A stable key of one anchor instance: the same in every process and on every run."""
    if anchor_at.tzinfo is None:
        raise ValueError("anchor_at must be an aware datetime")
    parts = (rule_key, str(ticket_id), anchor_name, anchor_at.astimezone(UTC).isoformat())
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def plan_timers(
    rules: Iterable[TimeRule],
    ticket_id: int,
    anchors: Mapping[str, datetime | None],
    *,
    add_business: AddBusiness | None = None,
) -> list[PlannedTimer]:
    """Every timer the ticket should have now, for its active rules, ordered by due instant,
    then rule key and step."""
    planned: list[PlannedTimer] = []
    for rule in rules:
        if not rule.active:
            continue
        start = anchor_instant(rule, anchors)
        if start is None:
            continue
        key = anchor_key(rule.key, ticket_id, rule.anchor, start)
        for index, step in enumerate(rule.steps):
            due = step_due(start, step, business=rule.business, add_business=add_business)
            planned.append(PlannedTimer(rule.key, rule.version, index, key, due))
    planned.sort(key=lambda t: (t.due_at, t.rule_key, t.step_index))
    return planned

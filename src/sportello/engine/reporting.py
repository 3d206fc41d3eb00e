"""The reports' figures, folded from a ticket's audit trail one change at a time. Pure Python.

A ticket's *report state* (`TicketState`) is what its history so far says about it: when it was
created, its dimensions now (department, team, assignee, channel, priority, tier), its status
category, the customer message still waiting for an answer, its first reply, solves, reopens and
responses. `fold_change` takes the state before a change and the change's events (in the order
they were recorded) and returns the state after it with the *deltas* the change adds to the daily
roll-ups: each a dimension key, the instant it counts at, and counters.

The same function serves both ways the roll-ups are made: the change pipeline folds each change as
it is written (`reports.extension`), and a rebuild folds every ticket's whole history from the
empty state (`reports.rollups.rebuild`). Whatever the sequence of changes, the two agree (a
property test checks it); the figures' meaning is in docs/metrics.md:

- created: a ticket opened (counted where it opened).
- solved: the status category went from unresolved (new, open, pending) to solved or closed —
  except a merge, which closes the merged ticket without solving it (`merged`; the change that
  closes it has the cause `merge:#<number>`).
- reopened: from solved or closed back to unresolved.
- backlog: an unresolved ticket is in the backlog of its dimension key; entering (opened,
  reopened, moved in from another key) counts `backlog_in`, leaving `backlog_out`, so the
  backlog at a day's end is the sum of ins minus outs up to it.
- first reply: the first public reply by an agent after the ticket opened (a message that opens
  the ticket never counts), measured from the ticket's creation.
- responses: each public agent reply that answers customer messages, measured from the earliest
  customer message it answers (every customer message since the previous agent reply is
  answered by it).
- resolution: each solve, measured from the ticket's creation.
- one-touch: a first solve with exactly one public agent reply.
Times are kept in calendar seconds and in business seconds (the department's calendar, through
the `business` function the caller passes; no calendar: calendar time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

UNRESOLVED = frozenset({"new", "open", "pending"})
RESOLVED = frozenset({"solved", "closed"})
DIMENSIONS = ("department", "team", "assignee", "channel", "priority", "tier")
COUNTERS = (
    "created",
    "solved",
    "merged",
    "reopened",
    "backlog_in",
    "backlog_out",
    "first_replies",
    "first_reply_seconds",
    "first_reply_business_seconds",
    "responses",
    "response_seconds",
    "response_business_seconds",
    "resolution_seconds",
    "resolution_business_seconds",
    "one_touch",
)

# The cause of the change that closes a ticket merged into another (`tickets.merge`).
MERGE_CAUSE = "merge:"

# `business(department_id, start, end)`: business seconds between two instants in the calendar of
# the department (calendar seconds when it has none).
Business = Callable[[int | None, datetime, datetime], int]


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event as the fold reads it (`tickets.models.TicketEvent`, opening expanded)."""

    kind: str
    field: str
    new: Any
    at: datetime
    cause: str = ""


@dataclass(frozen=True, slots=True)
class Key:
    """A roll-up's dimensions: ids (0 for none), channel, priority name, tier key ('' for none)."""

    department: int = 0
    team: int = 0
    assignee: int = 0
    channel: str = ""
    priority: str = ""
    tier: str = ""


@dataclass(slots=True)
class Delta:
    key: Key
    at: datetime
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


@dataclass(frozen=True, slots=True)
class TicketState:
    created_at: datetime | None = None
    key: Key = Key()
    category: str = ""
    # The earliest customer message no agent reply has answered yet.
    waiting_since: datetime | None = None
    first_reply_at: datetime | None = None
    first_reply_seconds: int | None = None
    first_reply_business_seconds: int | None = None
    resolution_seconds: int | None = None  # to the latest solve
    resolution_business_seconds: int | None = None
    solves: int = 0
    reopens: int = 0
    agent_replies: int = 0
    replies: int = 0  # responses: agent replies that answered customer messages
    response_seconds: int = 0
    response_business_seconds: int = 0
    one_touch: bool = False
    merged: bool = False
    tier_path: tuple[str, ...] = ()


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_KEY_FIELDS: Mapping[str, Callable[[Key, Any], Key]] = {
    "department": lambda k, v: replace(k, department=_int(v)),
    "team": lambda k, v: replace(k, team=_int(v)),
    "assignee": lambda k, v: replace(k, assignee=_int(v)),
    "channel": lambda k, v: replace(k, channel=str(v or "")),
    "priority": lambda k, v: replace(k, priority=str(v or "")),
}


def _seconds(a: datetime, b: datetime) -> int:
    return max(0, round((b - a).total_seconds()))


def fold_change(
    state: TicketState, events: Iterable[Event], *, business: Business
) -> tuple[TicketState, list[Delta]]:
    """The state after one change and the deltas it adds (at most one per key, in order)."""
    events = list(events)
    if not events:
        return state, []
    at = events[-1].at
    before = state
    key, category = state.key, state.category
    created_at = state.created_at
    created = False
    merged = state.merged
    tier_path = list(state.tier_path)
    messages: list[Event] = []
    for e in events:
        if e.cause.startswith(MERGE_CAUSE):
            merged = True
        if e.kind == "created":
            created = True
            created_at = e.at
        elif e.kind == "field" and e.field in _KEY_FIELDS:
            key = _KEY_FIELDS[e.field](key, e.new)
        elif e.kind == "field" and e.field == "status_category":
            category = str(e.new or "")
        elif e.kind == "tier" and isinstance(e.new, dict):
            tier = e.new.get("to") if e.field == "escalated" else e.new.get("tier")
            if e.field in ("entered", "escalated") and isinstance(tier, str) and tier:
                key = replace(key, tier=tier)
                tier_path.append(tier)
        elif e.kind == "message":
            messages.append(e)
    if created_at is None:  # a history that does not start with its opening: nothing to count
        return state, []
    deltas: dict[Key, Delta] = {}

    def delta(k: Key) -> Delta:
        found = deltas.get(k)
        if found is None:
            found = deltas[k] = Delta(key=k, at=at)
        return found

    dept = key.department or None
    new = replace(state, created_at=created_at, key=key, category=category, merged=merged)
    if created:
        delta(key).add("created")
    # Messages: customer messages wait; an agent's public reply answers them.
    waiting = state.waiting_since
    agent_replies = state.agent_replies
    for m in messages:
        author = m.new.get("author_kind") if isinstance(m.new, dict) else None
        if m.field != "public":
            continue
        if author == "contact":
            if waiting is None:
                waiting = m.at
        elif author == "agent":
            agent_replies += 1
            if new.first_reply_at is None and not created:
                seconds = _seconds(created_at, m.at)
                busy = business(dept, created_at, m.at)
                new = replace(
                    new,
                    first_reply_at=m.at,
                    first_reply_seconds=seconds,
                    first_reply_business_seconds=busy,
                )
                d = delta(key)
                d.add("first_replies")
                d.add("first_reply_seconds", seconds)
                d.add("first_reply_business_seconds", busy)
            if waiting is not None and not created:
                seconds = _seconds(waiting, m.at)
                busy = business(dept, waiting, m.at)
                new = replace(
                    new,
                    replies=new.replies + 1,
                    response_seconds=new.response_seconds + seconds,
                    response_business_seconds=new.response_business_seconds + busy,
                )
                d = delta(key)
                d.add("responses")
                d.add("response_seconds", seconds)
                d.add("response_business_seconds", busy)
            waiting = None
    new = replace(new, waiting_since=waiting, agent_replies=agent_replies, tier_path=tuple(tier_path))
    # Status: solves, merges, reopens.
    was_open = not created and before.category in UNRESOLVED
    now_open = category in UNRESOLVED
    if category in RESOLVED and (created or before.category in UNRESOLVED):
        if merged:
            delta(key).add("merged")
        else:
            seconds = _seconds(created_at, at)
            busy = business(dept, created_at, at)
            first_solve = new.solves == 0
            new = replace(
                new,
                solves=new.solves + 1,
                resolution_seconds=seconds,
                resolution_business_seconds=busy,
                one_touch=new.reopens == 0 and agent_replies == 1,
            )
            d = delta(key)
            d.add("solved")
            d.add("resolution_seconds", seconds)
            d.add("resolution_business_seconds", busy)
            if first_solve and agent_replies == 1:
                d.add("one_touch")
    elif not created and before.category in RESOLVED and now_open:
        new = replace(new, reopens=new.reopens + 1, one_touch=False)
        delta(key).add("reopened")
    # Backlog: out of the key it was in, into the key it is in.
    if was_open and (not now_open or before.key != key):
        delta(before.key).add("backlog_out")
    if now_open and (not was_open or before.key != key):
        delta(key).add("backlog_in")
    return new, [d for d in deltas.values() if any(d.counts.values())]


def fold_history(
    changes: Iterable[Iterable[Event]], *, business: Business, state: TicketState | None = None
) -> tuple[TicketState, list[Delta]]:
    """A ticket's whole history, change by change, from the empty state (or `state`)."""
    current = state or TicketState()
    out: list[Delta] = []
    for events in changes:
        current, deltas = fold_change(current, events, business=business)
        out.extend(deltas)
    return current, out

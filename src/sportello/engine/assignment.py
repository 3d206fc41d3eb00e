"""Round-robin assignment, as a pure choice over candidates the caller has counted.

The caller builds the candidates of a policy's pool (agent id, online, open tickets in the
policy's counted status categories, last assignment instant, eligible: may see the ticket) and
holds the locks that keep the counts true while it assigns. The choice: the least-loaded
candidate under the cap; ties go to the least recently assigned (never assigned first), then to
the lowest id. Every candidate is listed in the decision with why it was or was not chosen, so
"why was this assigned to me?" has an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

from sportello.engine.conditions import PRIORITY_ORDER


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: int
    online: bool
    open_count: int
    last_assigned_at: datetime | None = None
    eligible: bool = True


class PolicyLike(Protocol):
    @property
    def max_open_per_agent(self) -> int | None: ...
    @property
    def offline(self) -> str: ...  # "skip": offline agents get none; "assign": they do


class Considered(TypedDict):
    agent: int
    open: int
    cap: int | None
    online: bool
    last_assigned: str | None  # ISO 8601
    excluded_because: str | None  # "not eligible", "offline", "at capacity"; None: a candidate


@dataclass(frozen=True, slots=True)
class Decision:
    agent_id: int | None
    reason: str
    considered: list[Considered]


def _excluded(c: Candidate, policy: PolicyLike) -> str | None:
    if not c.eligible:
        return "not eligible"
    if not c.online and policy.offline == "skip":
        return "offline"
    cap = policy.max_open_per_agent
    if cap is not None and c.open_count >= cap:
        return "at capacity"
    return None


def _rank(c: Candidate) -> tuple[int, int, datetime | None, int]:
    never = c.last_assigned_at is None
    return (c.open_count, 0 if never else 1, c.last_assigned_at, c.agent_id)


def choose_agent(candidates: Sequence[Candidate], policy: PolicyLike) -> Decision:
    """The agent a round-robin policy picks, or None with the reason nobody could be picked."""
    considered: list[Considered] = []
    pickable: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: c.agent_id):
        why = _excluded(c, policy)
        considered.append(
            Considered(
                agent=c.agent_id,
                open=c.open_count,
                cap=policy.max_open_per_agent,
                online=c.online,
                last_assigned=None if c.last_assigned_at is None else c.last_assigned_at.isoformat(),
                excluded_because=why,
            )
        )
        if why is None:
            pickable.append(c)
    if not pickable:
        if not candidates:
            reason = "the pool has no agents"
        elif all(x["excluded_because"] == "not eligible" for x in considered):
            reason = "no agent in the pool may take this ticket"
        elif all(x["excluded_because"] in ("not eligible", "offline") for x in considered):
            reason = "no eligible agent is online"
        else:
            reason = "every eligible agent is at capacity"
        return Decision(None, reason, considered)
    best = min(pickable, key=_rank)
    load = f"least loaded ({best.open_count} open)"
    ties = [c for c in pickable if c.open_count == best.open_count]
    recency = "never assigned before" if best.last_assigned_at is None else "least recently assigned"
    if len(ties) == 1:
        reason = load
    elif sum(1 for c in ties if c.last_assigned_at == best.last_assigned_at) == 1:
        reason = f"{load}, {recency}"
    else:
        reason = f"{load}, {recency}, lowest id"
    return Decision(best.agent_id, reason, considered)


@dataclass(frozen=True, slots=True)
class BacklogItem:
    ticket_id: int
    priority: str  # low | normal | high | urgent
    created_at: datetime


def backlog_order[T: BacklogItem](items: Iterable[T]) -> list[T]:
    """Waiting tickets in hand-out order: most urgent first, then oldest, then lowest id.
    An unknown priority sorts as `normal`."""
    rank = {p: i for i, p in enumerate(PRIORITY_ORDER)}
    normal = rank["normal"]
    return sorted(items, key=lambda t: (-rank.get(t.priority, normal), t.created_at, t.ticket_id))

"""The blueprint dashboard's figures from state changes: time per state, transitions, overdue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sportello.engine.blueprints.definition import Blueprint
from sportello.engine.blueprints.limits import BusinessElapsed

# -- metrics -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChange:
    """One line of a blueprint's event log."""

    ticket: int
    at: datetime
    from_state: str | None  # None: the ticket entered the blueprint
    to_state: str | None  # None: the blueprint was removed from the ticket
    transition: str | None  # None: entry, removal, or a bypass outside transitions


@dataclass(frozen=True, slots=True)
class Overdue:
    ticket: int
    state: str
    entered_at: datetime
    over_by: timedelta


@dataclass(frozen=True, slots=True)
class BlueprintMetrics:
    active: int  # tickets in a non-terminal state at the end of the period
    active_per_state: Mapping[str, int]  # every non-terminal state, in definition order
    overdue: tuple[Overdue, ...]  # active tickets over their state's time limit, most overdue first
    completed: int  # runs from entry to a terminal state, completed in the period
    average_completion: timedelta | None
    average_per_state: Mapping[str, timedelta | None]  # visits of non-terminal states ended in the period
    transition_counts: tuple[tuple[str, int], ...]  # most frequent first, ties by key
    limit_violations: int  # visits over their state's limit: ended in the period, or still open
    tickets_with_violations: int
    # The same averages in business time, when a business clock was given (else None).
    average_completion_business: timedelta | None = None
    average_per_state_business: Mapping[str, timedelta | None] = field(default_factory=dict)


def _average(spans: Sequence[timedelta]) -> timedelta | None:
    return sum(spans, timedelta(0)) / len(spans) if spans else None


def blueprint_metrics(
    blueprint: Blueprint,
    records: Iterable[StateChange],
    now: datetime,
    *,
    since: datetime | None = None,
    business_elapsed: BusinessElapsed | None = None,
) -> BlueprintMetrics:
    """The dashboard of a blueprint from its log, over the period [since, now) (all of the log
    before `now` without `since`). Records are read in time order (ties in the given order); each
    ends the ticket's current visit and starts a visit of its `to_state`; records at or after
    `now` are ignored. The log before `since` is replayed to know where tickets were, and only
    what happened in the period is counted: transitions, visits that ended, runs that completed
    (timed from their entry, however early) and visits that ended over their limit; tickets
    still in a state at `now` are active, and overdue when over its limit then. A run whose
    entry is not in the log is not counted in `average_completion`.

    Time is calendar time; with `business_elapsed` (the department's business clock) the
    averages are also given in business time, and a state counting business time measures its
    limit with it."""
    states = {s.key: s for s in blueprint.states}
    terminal = {s.key for s in blueprint.states if s.terminal}
    working = [s.key for s in blueprint.states if not s.terminal]

    def over(state_key: str, start: datetime, end: datetime) -> timedelta | None:
        state = states.get(state_key)
        if state is None or state.time_limit is None:
            return None
        if state.business and business_elapsed is not None:
            spent = business_elapsed(start, end)
        else:
            spent = end - start
        return spent - state.time_limit if spent > state.time_limit else None

    visits: dict[int, tuple[str, datetime]] = {}
    run_start: dict[int, datetime] = {}
    spans: dict[str, list[tuple[datetime, datetime]]] = {key: [] for key in working}
    completions: list[tuple[datetime, datetime]] = []
    counts: Counter[str] = Counter()
    violations = 0
    violators: set[int] = set()
    ordered = sorted(enumerate(records), key=lambda pair: (pair[1].at, pair[0]))
    for _, r in ordered:
        if r.at >= now:
            break
        counted = since is None or r.at >= since
        if r.transition is not None and counted:
            counts[r.transition] += 1
        visit = visits.pop(r.ticket, None)
        if visit is not None and visit[0] not in terminal and counted:
            state_key, entered = visit
            spans.setdefault(state_key, []).append((entered, r.at))
            if over(state_key, entered, r.at) is not None:
                violations += 1
                violators.add(r.ticket)
        if r.from_state is None:
            run_start[r.ticket] = r.at
        if r.to_state is None:
            run_start.pop(r.ticket, None)
            continue
        visits[r.ticket] = (r.to_state, r.at)
        if r.to_state in terminal:
            start = run_start.pop(r.ticket, None)
            if start is not None and counted:
                completions.append((start, r.at))

    active_per_state: dict[str, int] = dict.fromkeys(working, 0)
    overdue: list[Overdue] = []
    for ticket, (state_key, entered) in visits.items():
        if state_key in terminal:
            continue
        active_per_state[state_key] = active_per_state.get(state_key, 0) + 1
        late = over(state_key, entered, now)
        if late is not None:
            overdue.append(Overdue(ticket, state_key, entered, late))
            violations += 1
            violators.add(ticket)
    overdue.sort(key=lambda o: (-o.over_by, o.ticket))

    def calendar_average(pairs: Sequence[tuple[datetime, datetime]]) -> timedelta | None:
        return _average([end - start for start, end in pairs])

    def business_average(pairs: Sequence[tuple[datetime, datetime]]) -> timedelta | None:
        if business_elapsed is None:
            return None
        return _average([business_elapsed(start, end) for start, end in pairs])

    return BlueprintMetrics(
        active=sum(active_per_state.values()),
        active_per_state=active_per_state,
        overdue=tuple(overdue),
        completed=len(completions),
        average_completion=calendar_average(completions),
        average_per_state={key: calendar_average(pairs) for key, pairs in spans.items()},
        transition_counts=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        limit_violations=violations,
        tickets_with_violations=len(violators),
        average_completion_business=business_average(completions),
        average_per_state_business={key: business_average(pairs) for key, pairs in spans.items()},
    )

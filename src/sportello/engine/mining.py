"""Process mining over an event log: the paths cases actually took, measured against the
designed one. Pure Python: no Django, no clock.

A *case* (a ticket) is its activities (statuses, or blueprint states) in time order, each with
the instant it was entered and who entered it, plus the support tiers it went through. From a
stream of cases (`mine` reads each once, so a caller can feed them in batches) come:

- the directly-follows graph: for every pair of activities (a, b) that followed each other
  directly in some case, how many times, and the median wait — the time from entering `a` to
  entering `b`; per activity, its visits, the cases that started and ended in it;
- the variants: each distinct sequence of activities, with its case count and share of cases,
  most frequent first (ties: the sequence's order);
- conformance against a `DesignedModel` (its allowed edges and start activities): a case
  conforms when it starts in a start activity, each step is an allowed edge, and it never fell
  back to a lower support tier. Cases are judged on what they did so far: a case not yet at an
  end activity is running, not deviating. Each deviation has one kind:
    * `reopened` — a step from a resolved activity back to an unresolved one;
    * `skipped` — a step (or a start) the model allows only through other activities: the
      target is reachable from the source (from a start activity) by allowed edges;
    * `bounced` — the case went back down to a lower support tier after going up;
    * `other` — any other step the model does not allow;
  a case is counted once per kind it shows (and once in `deviating`);
- the bottleneck: among the unresolved activities, the one whose visits took the longest median
  time (a visit: from entering the activity to entering the next one; the last, still open visit
  of a case is not counted), ties broken by the larger total time, then the designed order.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

# -- the log --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One activity of a case: entered at `at` by `resource` (a person's or rule's name)."""

    activity: str
    at: datetime
    resource: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    """A case: its id (a ticket's), its events in time order, and the levels of the support tiers
    it went through in order (0 the first tier; empty: no tier path)."""

    id: int
    events: tuple[Event, ...]
    levels: tuple[int, ...] = ()

    @property
    def trace(self) -> tuple[str, ...]:
        return tuple(e.activity for e in self.events)


@dataclass(frozen=True, slots=True)
class DesignedModel:
    """The designed process: its activities in designed order, the directly-follows steps it
    allows, where a case starts and ends, and which activities count as resolved (a step from
    one of them to an unresolved one is a reopening)."""

    activities: tuple[str, ...]
    edges: frozenset[tuple[str, str]]
    starts: frozenset[str]
    ends: frozenset[str]
    resolved: frozenset[str] = frozenset()

    def allows(self, source: str, target: str) -> bool:
        return (source, target) in self.edges

    def reachable(self, source: str) -> frozenset[str]:
        """The activities reachable from `source` by one or more allowed steps."""
        seen: set[str] = set()
        todo = [b for a, b in self.edges if a == source]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(b for a, b in self.edges if a == node and b not in seen)
        return frozenset(seen)


class DeviationKind(StrEnum):
    REOPENED = "reopened"
    BOUNCED = "bounced"
    SKIPPED = "skipped"
    OTHER = "other"


DEVIATION_KINDS = tuple(DeviationKind)

# -- the figures ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    count: int
    median_wait: timedelta
    allowed: bool


@dataclass(frozen=True, slots=True)
class ActivityStats:
    activity: str
    visits: int  # times the activity was entered
    cases: int  # cases that entered it at least once
    starts: int  # cases whose first activity it is
    ends: int  # cases whose last activity (so far) it is
    finished_visits: int  # visits followed by another activity (the ones timed below)
    median_time: timedelta | None
    total_time: timedelta


@dataclass(frozen=True, slots=True)
class Variant:
    activities: tuple[str, ...]
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class Deviation:
    kind: DeviationKind
    count: int  # cases showing it
    share: float  # of all cases
    cases: tuple[int, ...]  # their ids, in the order they were read
    steps: tuple[tuple[str, str], ...]  # the steps of this kind, most frequent first


@dataclass(frozen=True, slots=True)
class Mining:
    cases: int
    events: int
    completed: int  # cases whose last activity is an end activity
    activities: tuple[ActivityStats, ...]  # designed order, then activities outside the model
    edges: tuple[Edge, ...]  # by source then target, in the activities' order
    variants: tuple[Variant, ...]  # most frequent first
    conforming: int
    conforming_share: float | None  # None: no case
    deviations: tuple[Deviation, ...]  # one per kind, in DEVIATION_KINDS order
    bottleneck: ActivityStats | None

    def deviation(self, kind: DeviationKind) -> Deviation:
        return next(d for d in self.deviations if d.kind == kind)


# -- mining ---------------------------------------------------------------------------------------


def median(spans: Sequence[timedelta]) -> timedelta | None:
    """The median of the spans (the mean of the middle two for an even count); None when empty."""
    if not spans:
        return None
    return timedelta(seconds=statistics.median(s.total_seconds() for s in spans))


def step_kind(
    model: DesignedModel, source: str | None, target: str, reach: dict[str, frozenset[str]]
) -> DeviationKind | None:
    """The kind of deviation a step is (None: the model allows it). `source` None: the case's
    start. `reach`: a memo of `model.reachable` by activity."""
    if source is None:
        if target in model.starts:
            return None
        if any(target in _reach(model, s, reach) for s in model.starts):
            return DeviationKind.SKIPPED
        return DeviationKind.OTHER
    if model.allows(source, target):
        return None
    if source in model.resolved and target not in model.resolved:
        return DeviationKind.REOPENED
    if target in _reach(model, source, reach):
        return DeviationKind.SKIPPED
    return DeviationKind.OTHER


def _reach(model: DesignedModel, source: str, memo: dict[str, frozenset[str]]) -> frozenset[str]:
    found: frozenset[str] | None = memo.get(source)
    if found is None:
        found = memo[source] = model.reachable(source)
    return found


def bounced(levels: Sequence[int]) -> bool:
    """Whether a case fell back to a lower tier: a level lower than the one before it."""
    return any(b < a for a, b in pairwise(levels))


def mine(cases: Iterable[Case], model: DesignedModel) -> Mining:
    """The figures of the module docstring, reading each case once, in the given order. Events
    of a case are taken in the given order (the caller sorts them by time)."""
    waits: dict[tuple[str, str], list[timedelta]] = {}
    visits: Counter[str] = Counter()
    in_cases: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    spent: dict[str, list[timedelta]] = {}
    variants: Counter[tuple[str, ...]] = Counter()
    kind_cases: dict[DeviationKind, list[int]] = {k: [] for k in DEVIATION_KINDS}
    kind_steps: dict[DeviationKind, Counter[tuple[str, str]]] = {k: Counter() for k in DEVIATION_KINDS}
    reach: dict[str, frozenset[str]] = {}
    total = events = completed = conforming = 0
    for case in cases:
        trace = case.trace
        total += 1
        events += len(trace)
        variants[trace] += 1
        if not trace:
            conforming += 1
            continue
        visits.update(trace)
        in_cases.update(set(trace))
        starts[trace[0]] += 1
        ends[trace[-1]] += 1
        if trace[-1] in model.ends:
            completed += 1
        kinds: set[DeviationKind] = set()
        first = step_kind(model, None, trace[0], reach)
        if first is not None:
            kinds.add(first)
            kind_steps[first][("", trace[0])] += 1  # "": the case's start
        for before, after in pairwise(case.events):
            wait = after.at - before.at
            waits.setdefault((before.activity, after.activity), []).append(wait)
            spent.setdefault(before.activity, []).append(wait)
            kind = step_kind(model, before.activity, after.activity, reach)
            if kind is not None:
                kinds.add(kind)
                kind_steps[kind][(before.activity, after.activity)] += 1
        if bounced(case.levels):
            kinds.add(DeviationKind.BOUNCED)
        for kind in kinds:
            kind_cases[kind].append(case.id)
        if not kinds:
            conforming += 1

    order = {a: i for i, a in enumerate(model.activities)}
    seen = sorted(set(visits) - set(order))
    names = list(model.activities) + seen
    rank = {a: i for i, a in enumerate(names)}
    stats = tuple(
        ActivityStats(
            activity=a,
            visits=visits[a],
            cases=in_cases[a],
            starts=starts[a],
            ends=ends[a],
            finished_visits=len(spent.get(a, [])),
            median_time=median(spent.get(a, [])),
            total_time=sum(spent.get(a, []), timedelta(0)),
        )
        for a in names
    )
    edges = tuple(
        Edge(
            source=a,
            target=b,
            count=len(w),
            median_wait=median(w) or timedelta(0),
            allowed=model.allows(a, b),
        )
        for (a, b), w in sorted(waits.items(), key=lambda kv: (rank[kv[0][0]], rank[kv[0][1]]))
    )

    def share(n: int) -> float:
        return n / total if total else 0.0

    ranked = sorted(variants.items(), key=lambda kv: (-kv[1], [rank.get(a, len(rank)) for a in kv[0]]))
    deviations = tuple(
        Deviation(
            kind=k,
            count=len(kind_cases[k]),
            share=share(len(kind_cases[k])),
            cases=tuple(kind_cases[k]),
            steps=tuple(s for s, _ in sorted(kind_steps[k].items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        for k in DEVIATION_KINDS
    )
    candidates = [s for s in stats if s.median_time is not None and s.activity not in model.resolved]
    bottleneck = (
        max(candidates, key=lambda s: (s.median_time, s.total_time, -rank[s.activity]))
        if candidates
        else None
    )
    return Mining(
        cases=total,
        events=events,
        completed=completed,
        activities=stats,
        edges=edges,
        variants=tuple(Variant(v, n, share(n)) for v, n in ranked),
        conforming=conforming,
        conforming_share=share(conforming) if total else None,
        deviations=deviations,
        bottleneck=bottleneck,
    )

"""SLA policies and the clocks they measure: a pure model of targets, pauses, breaches, warnings
and escalations for one ticket. Plain data in, plain data out; no clock, no I/O.

A policy, as admins write it (YAML or JSON, read by `parse_policy`, written back by
`policy_to_data`):

    key: vip
    name: VIP customers
    position: 10                       # first match by position (then key) wins
    when: {field: requester.vip, op: is, value: true}
    calendar: emea                     # business calendar key; none: 24/7 calendar time
    targets:                           # per metric, per priority (low, normal, high, urgent)
      first_response: {urgent: {within: 30m}, high: {within: 2h, business: true}}
      next_response:  {high: {within: 4h, business: true}}
      periodic_update: {high: {within: 1d}}
      resolution:     {high: {within: 3d, business: true}}
    warnings:                          # built-in "approaching breach" (Zendesk has none, §3.3)
      - {at_percent: 80}               # 80 % of the target consumed
      - {before: 15m, metrics: [first_response]}   # 15 minutes of the metric's time left
    escalations:                       # the ladder; offsets from the breach, in the metric's time
      - {after_breach: -30m, actions: [{notify: {template: sla_soon, to: [assignee]}}]}
      - {after_breach: 0m, actions: [{set: {field: ticket.priority, value: urgent}}]}
      - {after_breach: 2h, actions: [{assign: {team: 4}}], metrics: [resolution]}
    pause_in: [pending, on_hold]       # default; a subset of pending, on_hold
    pause_first_response: false        # default (Zendesk); true pauses it too (Zoho On Hold)

`within` uses the duration syntax of time rules (`90m`, `1h30m`, `2d`; a day is 24 hours of the
target's own time); `business` defaults to false and needs the policy's `calendar`. `when` uses
the condition language on the ticket's state: event-only facts and change operators are refused
(the policy is chosen again on every change; it must not depend on what the change was).
Escalation actions are those of rules (no `reply`: nobody signs it; no `stop`). A warning or
level applies to every metric unless `metrics` names some; the levels of one metric are in
increasing order of `after_breach`.

Time. Each clock counts its metric's own time through a `Clock`: `CalendarTime` for calendar
targets, the policy's business calendar (an adapter over `engine.calendars`) for business
ones; `clocks` maps calendar keys to them. `consumed` is always in the clock's own time.

Metrics (reference: automation-semantics.md §3.2 Zendesk, §4.4 Zoho, §7.6 the unified engine):
- first_response: starts when a customer creates the ticket (`Created(customer_message=True)`;
  a ticket an agent opens has none, as Zendesk's first reply time needs an end-user request);
  fulfilled by the first public agent reply. One instance per ticket. Not paused by status
  unless `pause_first_response` (Zendesk: "not status-paused"; Zoho freezes all timers On Hold).
- next_response: starts at a customer message when no first_response or next_response clock is
  running, so it measures from the *oldest unanswered* customer message (Zendesk); later
  messages before the reply start nothing. Fulfilled by the next public agent reply. A new
  instance per unanswered stretch.
- periodic_update: each public agent reply fulfils the running instance and starts a new one
  while the ticket is not solved: the longest silence of the agents. With `pending` in
  `pause_in` it is Zendesk's "pausable update"; leave pending out for its "periodic update".
- resolution: starts at creation, fulfilled when the ticket is solved (or closed). Reopening
  resumes the *same* instance with the time already consumed, treating Solved as a pause
  (Zendesk's work/wait metrics, §3.2 "reopen behaviour"; Zoho "old due times restored").
- Solving stops every running clock as fulfilled, reply clocks included: a solved ticket awaits
  no reply [inferred]. Messages on a solved ticket start nothing: the caller reopens it first.
- Merge: the merged ticket's running clocks are superseded (`Merged`), neither met nor missed;
  an unanswered customer message moved onto the other ticket is a `CustomerMessage` there
  whose wait began when the message arrived (`waiting_since`).
- Every clock but first_response (by default) pauses while the status category is in the
  policy's `pause_in`; resuming moves `due_at` by exactly the paused time of the clock's kind
  (Zoho On Hold: "old due time + time On Hold, over the SLA's business hours", §4.4).

Clocks follow the ticket whatever the policy: a metric without a target (no policy, or none for
the ticket's priority) is measured all the same, in calendar time, with no deadline. A target
that appears later (priority raised, another policy) then applies to the wait as it really
began: a VIP's first response is measured from the ticket's creation.

Breach. `due_at` is the instant the clock reaches its target if nothing pauses or stops it.
An active clock is breached at `due_at`, stamped as `breached_at` at that true instant by the
next change or `Tick` (§7.6: not at detection time). A target that is already exceeded when it
starts applying (priority or policy change, reflow) is breached at that change, as Zendesk
records it: the target did not apply before. A breached clock runs on until fulfilled;
`breached_at` is history and stays.

Changes and their effects on the running clocks:
- priority: the same instances, new targets: consumed stays, `due_at` is recomputed.
- policy (any change whose `policy` differs from the state's, or `PolicyChanged`): running
  clocks are superseded and new instances start with the same `started_at` and the consumed
  time carried, for every metric (§7.6 says so for cumulative metrics; a reply clock is
  cumulative too: the customer has been waiting since its start, whatever the policy).
- a target of another kind or calendar: consumed is measured again over the clock's `runs`
  (the intervals it ran) in the new kind.
- reflow (a policy or calendar edited): `due_at` of open clocks recomputed; history stays.
Callers apply status changes before the message of the same mutation (a customer reply on a
pending ticket: `StatusChanged("open")`, then `CustomerMessage()`), so clocks start in the
right state.

Timers (`timers_for`): the warnings, the breach and the escalation levels of every active
targeted clock, each at the instant the clock's consumed time reaches its threshold (a warning
at p %: p % of the target; `before: d`: target - d; a level: target + after_breach, negative
offsets walking backwards in the metric's own time). A threshold already passed when the current
run began is not planned again (it fired then); keys `(metric, instance, kind, level)` make each
fire once per clock instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sportello.engine.actions import Action, Reply, Stop, action_name, actions_to_data, parse_actions
from sportello.engine.conditions import (
    CHANGE_OPS,
    PRIORITY_ORDER,
    All,
    AnyOf,
    Condition,
    FieldSpec,
    Predicate,
    condition_to_data,
    evaluate,
    parse_condition,
)
from sportello.engine.rules import format_duration, parse_duration
from sportello.engine.schema import RuleSchemaError, at, boolean, mapping, one_line, sequence, slug

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
PERIODIC_UPDATE = "periodic_update"
RESOLUTION = "resolution"
METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, PERIODIC_UPDATE, RESOLUTION)
REPLY_METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, PERIODIC_UPDATE)
CATEGORIES = ("new", "open", "pending", "on_hold", "solved", "closed")
PAUSABLE = ("pending", "on_hold")
DEFAULT_PAUSE_IN = ("pending", "on_hold")
DONE = frozenset({"solved", "closed"})
WARNINGS_MAX = 10
ESCALATIONS_MAX = 10

STARTED = "sla.started"
PAUSED = "sla.paused"
RESUMED = "sla.resumed"
FULFILLED = "sla.fulfilled"
SUPERSEDED = "sla.superseded"
BREACHED = "sla.breached"
RETARGETED = "sla.retargeted"

_ZERO = timedelta(0)


# -- time ------------------------------------------------------------------------------------


class Clock(Protocol):
    """A way of counting time: calendar time, or the open hours of a business calendar."""

    def elapsed(self, a: datetime, b: datetime) -> timedelta: ...

    def add(self, start: datetime, duration: timedelta) -> datetime: ...


class CalendarTime:
    """Plain wall-clock time, 24/7: the clock of calendar-time targets."""

    __slots__ = ()

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        return b - a

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration


CALENDAR_TIME = CalendarTime()


# Parsing helpers shared by the document parsers (`engine.schema`).
_mapping = mapping
_slug = slug
_name = one_line
_bool = boolean


def _list(data: object, path: str, limit: int) -> list[Any]:
    return sequence(data, path, limit, absent_empty=True)


def clock_for(clocks: Mapping[str, Clock], calendar: str | None) -> Clock:
    """The clock counting a target's time: calendar time for None, else the named calendar."""
    if calendar is None:
        return CALENDAR_TIME
    try:
        return clocks[calendar]
    except KeyError:
        raise LookupError(f"no clock for calendar {calendar!r}") from None


# -- policies --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    metric: str
    priority: str
    within: timedelta
    business: bool = False


@dataclass(frozen=True, slots=True)
class SlaWarning:
    """Exactly one of `before` (time left, in the metric's time) and `at_percent` (of the target
    consumed) is set."""

    before: timedelta | None = None
    at_percent: int | None = None
    metrics: tuple[str, ...] = METRICS

    def threshold(self, target: timedelta) -> timedelta:
        """The consumed time at which the warning is due."""
        if self.at_percent is not None:
            return timedelta(microseconds=_us(target) * self.at_percent // 100)
        assert self.before is not None
        return target - self.before


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    after_breach: timedelta  # 0: at the breach; negative: before it
    actions: tuple[Action, ...]
    metrics: tuple[str, ...] = METRICS


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    key: str
    name: str
    when: Condition
    targets: tuple[Target, ...]  # in METRICS order, then priority order
    position: int = 0
    calendar: str | None = None  # None: business targets are impossible, all is calendar time
    warnings: tuple[SlaWarning, ...] = ()
    escalations: tuple[EscalationLevel, ...] = ()
    pause_in: tuple[str, ...] = DEFAULT_PAUSE_IN
    pause_first_response: bool = False

    def target(self, metric: str, priority: str) -> Target | None:
        for t in self.targets:
            if t.metric == metric and t.priority == priority:
                return t
        return None


def select_policy(
    policies: Iterable[SlaPolicy], facts: Mapping[str, Any], *, specs: Mapping[str, FieldSpec]
) -> SlaPolicy | None:
    """The first policy by position (then key) whose `when` holds on the ticket's facts."""
    for policy in sorted(policies, key=lambda p: (p.position, p.key)):
        if evaluate(policy.when, facts, specs=specs):
            return policy
    return None


# -- parsing ---------------------------------------------------------------------------------


def _int(value: object, path: str, *, minimum: int, maximum: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise RuleSchemaError(path, f"must be an integer from {minimum} to {maximum}")
    return value


def _positive_duration(value: object, path: str) -> timedelta:
    duration = parse_duration(value, path)
    if duration <= _ZERO:
        raise RuleSchemaError(path, "must be a positive duration")
    return duration


def _choices(data: object, path: str, allowed: Sequence[str], *, empty: bool) -> tuple[str, ...]:
    """A list of names among `allowed`, kept in the order of `allowed` (so it round-trips)."""
    items = _list(data, path, len(allowed) * 4)
    for i, item in enumerate(items):
        if item not in allowed:
            raise RuleSchemaError(at(path, i), f"must be one of: {', '.join(allowed)}")
    if not items and not empty:
        raise RuleSchemaError(path, "must name at least one")
    return tuple(a for a in allowed if a in items)


def _check_state_condition(cond: Condition, specs: Mapping[str, FieldSpec], path: str) -> None:
    """A policy is chosen on the ticket's state: no event-only facts, no change operators."""
    if isinstance(cond, Predicate):
        spec = specs.get(cond.field)
        if spec is not None and spec.event_only:
            raise RuleSchemaError(
                at(path, "field"), f"{cond.field} exists only during an event; a policy cannot use it"
            )
        if cond.op in CHANGE_OPS:
            raise RuleSchemaError(at(path, "op"), f"{cond.op} compares a change; a policy cannot use it")
    elif isinstance(cond, All | AnyOf):
        key = "all" if isinstance(cond, All) else "any"
        for i, item in enumerate(cond.items):
            _check_state_condition(item, specs, at(at(path, key), i))
    else:
        _check_state_condition(cond.item, specs, at(path, "not"))


def _parse_targets(data: object, path: str, calendar: str | None) -> tuple[Target, ...]:
    per_metric = _mapping(data, path, (), METRICS)
    targets: list[Target] = []
    for metric in METRICS:
        if metric not in per_metric:
            continue
        mpath = at(path, metric)
        per_priority = _mapping(per_metric[metric], mpath, (), PRIORITY_ORDER)
        if not per_priority:
            raise RuleSchemaError(
                mpath, f"must set a target for at least one of: {', '.join(PRIORITY_ORDER)}"
            )
        for priority in PRIORITY_ORDER:
            if priority not in per_priority:
                continue
            ppath = at(mpath, priority)
            t = _mapping(per_priority[priority], ppath, ("within",), ("business",))
            within = _positive_duration(t["within"], at(ppath, "within"))
            business = _bool(t.get("business", False), at(ppath, "business"))
            if business and calendar is None:
                raise RuleSchemaError(at(ppath, "business"), "business time needs the policy's calendar")
            targets.append(Target(metric, priority, within, business))
    if not targets:
        raise RuleSchemaError(path, "must set at least one target")
    return tuple(targets)


def _parse_warning(data: object, path: str) -> SlaWarning:
    w = _mapping(data, path, (), ("before", "at_percent", "metrics"))
    if ("before" in w) == ("at_percent" in w):
        raise RuleSchemaError(path, "must have exactly one of: before, at_percent")
    metrics = _choices(w.get("metrics", list(METRICS)), at(path, "metrics"), METRICS, empty=False)
    if "before" in w:
        return SlaWarning(before=_positive_duration(w["before"], at(path, "before")), metrics=metrics)
    percent = _int(w["at_percent"], at(path, "at_percent"), minimum=1, maximum=99)
    return SlaWarning(at_percent=percent, metrics=metrics)


def _parse_escalations(
    data: object, specs: Mapping[str, FieldSpec], path: str
) -> tuple[EscalationLevel, ...]:
    levels: list[EscalationLevel] = []
    last: dict[str, timedelta] = {}
    for i, raw in enumerate(_list(data, path, ESCALATIONS_MAX)):
        lpath = at(path, i)
        e = _mapping(raw, lpath, ("after_breach", "actions"), ("metrics",))
        after = parse_duration(e["after_breach"], at(lpath, "after_breach"))
        metrics = _choices(e.get("metrics", list(METRICS)), at(lpath, "metrics"), METRICS, empty=False)
        for metric in metrics:
            if metric in last and after <= last[metric]:
                raise RuleSchemaError(
                    at(lpath, "after_breach"),
                    f"the levels of {metric} must be in increasing order of after_breach",
                )
            last[metric] = after
        apath = at(lpath, "actions")
        actions = parse_actions(e["actions"], specs=specs, path=apath)
        if not actions:
            raise RuleSchemaError(apath, "must have at least one action")
        for j, action in enumerate(actions):
            if isinstance(action, Reply | Stop):
                raise RuleSchemaError(
                    at(at(apath, j), action_name(action)), "an SLA escalation cannot use this action"
                )
        levels.append(EscalationLevel(after_breach=after, actions=actions, metrics=metrics))
    return tuple(levels)


def parse_policy(data: object, *, specs: Mapping[str, FieldSpec], path: str = "") -> SlaPolicy:
    """Parse one SLA policy from its plain-data form; raise RuleSchemaError at the bad part."""
    d = _mapping(
        data,
        path,
        ("key", "name", "targets"),
        ("when", "position", "calendar", "warnings", "escalations", "pause_in", "pause_first_response"),
    )
    calendar = d.get("calendar")
    if calendar is not None:
        calendar = _slug(calendar, at(path, "calendar"))
    # No `when`: every ticket (a desk's catch-all policy, last by position).
    when = parse_condition(d.get("when", {"all": []}), specs=specs, path=at(path, "when"))
    _check_state_condition(when, specs, at(path, "when"))
    wpath = at(path, "warnings")
    return SlaPolicy(
        key=_slug(d["key"], at(path, "key")),
        name=_name(d["name"], at(path, "name")),
        position=_int(d.get("position", 0), at(path, "position"), minimum=0),
        when=when,
        calendar=calendar,
        targets=_parse_targets(d["targets"], at(path, "targets"), calendar),
        warnings=tuple(
            _parse_warning(w, at(wpath, i))
            for i, w in enumerate(_list(d.get("warnings"), wpath, WARNINGS_MAX))
        ),
        escalations=_parse_escalations(d.get("escalations"), specs, at(path, "escalations")),
        pause_in=_choices(
            d.get("pause_in", list(DEFAULT_PAUSE_IN)), at(path, "pause_in"), PAUSABLE, empty=True
        ),
        pause_first_response=_bool(d.get("pause_first_response", False), at(path, "pause_first_response")),
    )


def parse_policies(
    data: object, *, specs: Mapping[str, FieldSpec], path: str = "sla_policies"
) -> tuple[SlaPolicy, ...]:
    """Parse a list of policies; keys must be unique."""
    policies = tuple(
        parse_policy(item, specs=specs, path=at(path, i)) for i, item in enumerate(_list(data, path, 1_000))
    )
    seen: set[str] = set()
    for i, policy in enumerate(policies):
        if policy.key in seen:
            raise RuleSchemaError(at(at(path, i), "key"), f"duplicate key {policy.key!r}")
        seen.add(policy.key)
    return policies


def policy_to_data(policy: SlaPolicy) -> dict[str, Any]:
    """The plain-data form of a policy, every field written: `parse_policy(policy_to_data(p)) == p`."""
    targets: dict[str, dict[str, Any]] = {}
    for t in policy.targets:
        targets.setdefault(t.metric, {})[t.priority] = {
            "within": format_duration(t.within),
            "business": t.business,
        }
    warnings: list[dict[str, Any]] = []
    for w in policy.warnings:
        if w.before is not None:
            warnings.append({"before": format_duration(w.before), "metrics": list(w.metrics)})
        else:
            warnings.append({"at_percent": w.at_percent, "metrics": list(w.metrics)})
    return {
        "key": policy.key,
        "name": policy.name,
        "position": policy.position,
        "when": condition_to_data(policy.when),
        "calendar": policy.calendar,
        "targets": targets,
        "warnings": warnings,
        "escalations": [
            {
                "after_breach": format_duration(e.after_breach),
                "actions": actions_to_data(e.actions),
                "metrics": list(e.metrics),
            }
            for e in policy.escalations
        ],
        "pause_in": list(policy.pause_in),
        "pause_first_response": policy.pause_first_response,
    }


def policies_to_data(policies: Sequence[SlaPolicy]) -> list[dict[str, Any]]:
    return [policy_to_data(p) for p in policies]


# -- clock state -----------------------------------------------------------------------------


class ClockStatus(StrEnum):
    ACTIVE = "active"  # running (breached or not)
    PAUSED = "paused"  # the ticket waits in a pause category
    FULFILLED = "fulfilled"  # stopped by its fulfilling event (a solved resolution may resume)
    SUPERSEDED = "superseded"  # replaced by an instance of another policy


RUNNING = frozenset({ClockStatus.ACTIVE, ClockStatus.PAUSED})


@dataclass(frozen=True, slots=True)
class ClockState:
    """One instance of one metric's clock on a ticket."""

    metric: str
    instance: int  # 1, 2, ... per metric and ticket
    status: ClockStatus
    started_at: datetime
    calendar: str | None  # the business calendar counting its time; None: calendar time
    target: timedelta | None  # None: measured, no deadline
    consumed: timedelta = _ZERO  # over the closed `runs`, in the clock's own time
    runs: tuple[tuple[datetime, datetime], ...] = ()  # closed intervals the clock ran
    running_since: datetime | None = None  # ACTIVE: start of the current run
    paused_since: datetime | None = None  # PAUSED: since when
    due_at: datetime | None = None  # ACTIVE with a target: when consumed reaches the target
    breached_at: datetime | None = None
    fulfilled_at: datetime | None = None
    superseded_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    def used(self, clock: Clock, now: datetime) -> timedelta:
        """Consumed time at `now`, current run included."""
        if self.running_since is None or now <= self.running_since:
            return self.consumed
        return self.consumed + clock.elapsed(self.running_since, now)


@dataclass(frozen=True, slots=True)
class SlaState:
    """Every clock instance of one ticket, oldest first, with what the clocks depend on."""

    policy: str | None  # key of the policy the targets come from
    priority: str
    category: str  # status category
    clocks: tuple[ClockState, ...] = ()

    def running(self, metric: str) -> ClockState | None:
        """The running (active or paused) instance of a metric, if any."""
        for c in reversed(self.clocks):
            if c.metric == metric and c.running:
                return c
        return None


# -- changes and events ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    priority: str
    category: str = "new"
    customer_message: bool = True  # False: an agent opened it (no first_response clock)


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The status category became `category` (from the state's). Into solved/closed solves,
    out of them reopens."""

    category: str


@dataclass(frozen=True, slots=True)
class AgentReply:
    """A public agent reply (internal notes are not SLA changes)."""


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """A message from the requester (or another end user) on the ticket.

    `waiting_since`: the customer has been waiting since then, before this change — a merge
    moved their unanswered message here. A next-response clock it starts begins at that
    instant (the time since counts, as if the message had arrived on this ticket); a target
    that the wait already exceeded is breached at this change."""

    waiting_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Merged:
    """The ticket was merged into another and closed: every running clock stops, superseded —
    neither met nor missed here, the conversation (and the wait) goes on on the other ticket."""


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    priority: str


@dataclass(frozen=True, slots=True)
class PolicyChanged:
    """Another policy applies (the `policy` argument); any change switches it as well."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed (an SLA timer fired): stamp the breaches that are due."""


Change = (
    Created | StatusChanged | AgentReply | CustomerMessage | PriorityChanged | PolicyChanged | Merged | Tick
)


@dataclass(frozen=True, slots=True)
class SlaEvent:
    kind: str  # sla.started | paused | resumed | fulfilled | superseded | breached | retargeted
    metric: str
    instance: int
    at: datetime  # the instant it happened (a breach: its true instant, maybe before the change)
    cause: str  # created, status, solved, reopened, agent_reply, customer_message, priority, ...
    target: timedelta | None = None
    due_at: datetime | None = (
        None  # when the clock reaches its target, as of this event (None: paused, stopped)
    )


@dataclass(frozen=True, slots=True)
class SlaTimer:
    metric: str
    instance: int
    kind: str  # warning | breach | escalation
    level: int  # index in the policy's warnings / escalations; 0 for the breach
    due_at: datetime

    @property
    def key(self) -> tuple[str, int, str, int]:
        """Stable per clock instance: a timer with this key fires once."""
        return (self.metric, self.instance, self.kind, self.level)


@dataclass(frozen=True, slots=True)
class Remaining:
    metric_time: timedelta | None  # in the clock's own time; negative after the breach
    calendar_time: timedelta | None  # until due_at, wall clock; None while paused


# -- the transition function -----------------------------------------------------------------


def _us(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _ahead(c: ClockState, threshold: timedelta) -> bool:
    """Whether an active clock reaches `threshold` in its current run (not before it began)."""
    return threshold > c.consumed or (threshold == c.consumed and not c.runs)


def _crossing(c: ClockState, threshold: timedelta, clock: Clock) -> datetime | None:
    """The instant the clock's consumed time reaches `threshold`: in the current run (active
    clocks; maybe in the future) or in a past run. None when a stopped clock never reached it."""
    if c.running_since is not None and _ahead(c, threshold):
        return clock.add(c.running_since, threshold - c.consumed)
    done = _ZERO
    for a, b in c.runs:
        span = clock.elapsed(a, b)
        if done + span >= threshold:
            return clock.add(a, threshold - done)
        done += span
    if c.running_since is not None:  # runs measured shorter since a calendar edit
        return clock.add(c.running_since, threshold - c.consumed)
    return None


def _target_of(policy: SlaPolicy | None, metric: str, priority: str) -> tuple[timedelta | None, str | None]:
    target = policy.target(metric, priority) if policy is not None else None
    if target is None:
        return None, None
    return target.within, policy.calendar if target.business and policy is not None else None


def _pauses(policy: SlaPolicy | None, metric: str, category: str) -> bool:
    pause_in = policy.pause_in if policy is not None else DEFAULT_PAUSE_IN
    if metric == FIRST_RESPONSE and not (policy is not None and policy.pause_first_response):
        return False
    return category in pause_in


class _Work:
    """The working copy of a state during one transition; emits events as it goes."""

    def __init__(
        self, state: SlaState, policy: SlaPolicy | None, clocks: Mapping[str, Clock], now: datetime
    ) -> None:
        self.policy_key = state.policy
        self.priority = state.priority
        self.category = state.category
        self.items = list(state.clocks)
        self.policy = policy
        self.clocks = clocks
        self.now = now
        self.events: list[SlaEvent] = []

    def result(self) -> tuple[SlaState, list[SlaEvent]]:
        state = SlaState(self.policy_key, self.priority, self.category, tuple(self.items))
        return state, self.events

    def clock(self, c: ClockState) -> Clock:
        return clock_for(self.clocks, c.calendar)

    def emit(self, kind: str, c: ClockState, at_: datetime, cause: str) -> None:
        self.events.append(SlaEvent(kind, c.metric, c.instance, at_, cause, c.target, c.due_at))

    def running(self, metric: str) -> int | None:
        for i in range(len(self.items) - 1, -1, -1):
            if self.items[i].metric == metric and self.items[i].running:
                return i
        return None

    def running_indexes(self) -> list[int]:
        return [i for i, c in enumerate(self.items) if c.running]

    def _with_due(self, c: ClockState) -> ClockState:
        due = None
        if c.status is ClockStatus.ACTIVE and c.target is not None:
            due = _crossing(c, c.target, self.clock(c))
        return replace(c, due_at=due)

    def _fold(self, c: ClockState) -> ClockState:
        """Close the current run of an active clock at now."""
        if c.running_since is None:
            return c
        return replace(
            c,
            consumed=c.consumed + self.clock(c).elapsed(c.running_since, self.now),
            runs=(*c.runs, (c.running_since, self.now)),
            running_since=None,
        )

    def start(self, metric: str, cause: str, *, since: datetime | None = None) -> None:
        """A new instance of `metric`, from now or, running, from `since` (an earlier instant)."""
        target, calendar = _target_of(self.policy, metric, self.priority)
        instance = 1 + max((c.instance for c in self.items if c.metric == metric), default=0)
        paused = _pauses(self.policy, metric, self.category)
        began = min(_aware(since), self.now) if since is not None else self.now
        c = ClockState(
            metric=metric,
            instance=instance,
            status=ClockStatus.PAUSED if paused else ClockStatus.ACTIVE,
            started_at=began,
            calendar=calendar,
            target=target,
            running_since=None if paused else began,
            paused_since=self.now if paused else None,
        )
        c = self._with_due(c)
        self.items.append(c)
        self.emit(STARTED, c, self.now, cause)

    def pause(self, i: int, cause: str) -> None:
        c = replace(self._fold(self.items[i]), status=ClockStatus.PAUSED, paused_since=self.now, due_at=None)
        self.items[i] = c
        self.emit(PAUSED, c, self.now, cause)

    def resume(self, i: int, cause: str) -> None:
        c = replace(self.items[i], status=ClockStatus.ACTIVE, running_since=self.now, paused_since=None)
        self.items[i] = c = self._with_due(c)
        self.emit(RESUMED, c, self.now, cause)

    def fulfil(self, i: int, cause: str) -> None:
        c = replace(
            self._fold(self.items[i]),
            status=ClockStatus.FULFILLED,
            paused_since=None,
            due_at=None,
            fulfilled_at=self.now,
        )
        self.items[i] = c
        self.emit(FULFILLED, c, self.now, cause)

    def retarget(self, i: int, cause: str) -> None:
        """Give a running clock the target its metric has now; consumed is measured again only
        when the kind of time changes. Emits `sla.retargeted` when the target or due moves."""
        old = self.items[i]
        target, calendar = _target_of(self.policy, old.metric, self.priority)
        c = replace(old, target=target, calendar=calendar)
        if calendar != old.calendar:
            clock = self.clock(c)
            c = replace(c, consumed=sum((clock.elapsed(a, b) for a, b in c.runs), _ZERO))
        c = self._with_due(c)
        self.items[i] = c
        if (c.target, c.calendar, c.due_at) != (old.target, old.calendar, old.due_at):
            self.emit(RETARGETED, c, self.now, cause)

    def supersede(self, i: int, cause: str) -> None:
        """Stop a running clock without fulfilling it."""
        c = replace(
            self._fold(self.items[i]),
            status=ClockStatus.SUPERSEDED,
            paused_since=None,
            due_at=None,
            superseded_at=self.now,
        )
        self.items[i] = c
        self.emit(SUPERSEDED, c, self.now, cause)

    def switch_policy(self, cause: str) -> None:
        """Supersede the running clocks; new instances carry their start and consumed time."""
        self.policy_key = self.policy.key if self.policy is not None else None
        for i in self.running_indexes():
            old = self._fold(self.items[i])
            self.supersede(i, cause)
            target, calendar = _target_of(self.policy, old.metric, self.priority)
            consumed = old.consumed
            if calendar != old.calendar:
                clock = clock_for(self.clocks, calendar)
                consumed = sum((clock.elapsed(a, b) for a, b in old.runs), _ZERO)
            active = old.status is ClockStatus.ACTIVE
            new = ClockState(
                metric=old.metric,
                instance=1 + max(c.instance for c in self.items if c.metric == old.metric),
                status=old.status,
                started_at=old.started_at,
                calendar=calendar,
                target=target,
                consumed=consumed,
                runs=old.runs,
                running_since=self.now if active else None,
                paused_since=None if active else old.paused_since,
            )
            new = self._with_due(new)
            self.items.append(new)
            self.emit(STARTED, new, self.now, cause)

    def sync_pauses(self, cause: str) -> None:
        for i in self.running_indexes():
            c = self.items[i]
            paused = _pauses(self.policy, c.metric, self.category)
            if paused and c.status is ClockStatus.ACTIVE:
                self.pause(i, cause)
            elif not paused and c.status is ClockStatus.PAUSED:
                self.resume(i, cause)

    def stamp_due(self) -> None:
        """Breaches that happened since the last change, at their true instant (`due_at`)."""
        for i, c in enumerate(self.items):
            due = c.due_at
            if (
                c.status is ClockStatus.ACTIVE
                and c.breached_at is None
                and due is not None
                and due <= self.now
            ):
                self.items[i] = c = replace(c, breached_at=due)
                self.emit(BREACHED, c, due, "time")

    def stamp_exceeded(self, cause: str) -> None:
        """Targets that started applying already exceeded (an active clock past its due, a
        paused one that consumed it all): breached now, as they did not apply before."""
        for i, c in enumerate(self.items):
            if not c.running or c.breached_at is not None or c.target is None:
                continue
            if c.status is ClockStatus.ACTIVE:
                exceeded = c.due_at is not None and c.due_at <= self.now
            else:
                exceeded = c.consumed >= c.target
            if exceeded:
                self.items[i] = c = replace(c, breached_at=self.now)
                self.emit(BREACHED, c, self.now, cause)

    def check_now(self) -> None:
        for c in self.items:
            if c.running:
                last = c.running_since or c.paused_since
                if last is not None and self.now < last:
                    raise ValueError(f"now ({self.now.isoformat()}) is before the last change of {c.metric}")


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def _check_priority(priority: str) -> None:
    if priority not in PRIORITY_ORDER:
        raise ValueError(f"unknown priority {priority!r}")


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown status category {category!r}")


def apply_change(
    state: SlaState | None,
    change: Change,
    *,
    policy: SlaPolicy | None,
    clocks: Mapping[str, Clock],
    now: datetime,
) -> tuple[SlaState, list[SlaEvent]]:
    """The clocks of a ticket after one change at `now`, with the SLA events to record.

    `policy` is the policy that applies after the change (`select_policy`); when it is not the
    state's, the running clocks switch to it first. `clocks` holds the clock of every calendar
    the state's running clocks and the policy use. `state` is None only for `Created`."""
    now = _aware(now)
    if isinstance(change, Created):
        if state is not None:
            raise ValueError("the ticket already has SLA clocks")
        _check_priority(change.priority)
        _check_category(change.category)
        work = _Work(
            SlaState(policy.key if policy else None, change.priority, change.category), policy, clocks, now
        )
        work.start(RESOLUTION, "created")
        if change.customer_message and change.category not in DONE:
            work.start(FIRST_RESPONSE, "created")
        if change.category in DONE:
            for i in work.running_indexes():
                work.fulfil(i, "solved")
        return work.result()
    if state is None:
        raise ValueError("a ticket without SLA clocks must start with Created")
    work = _Work(state, policy, clocks, now)
    work.check_now()
    work.stamp_due()
    switched = (policy.key if policy is not None else None) != state.policy
    if switched:
        work.switch_policy("policy")
    match change:
        case StatusChanged(category=category):
            _check_category(category)
            _status(work, category)
        case AgentReply():
            if work.category not in DONE:
                for metric in REPLY_METRICS:
                    index = work.running(metric)
                    if index is not None:
                        work.fulfil(index, "agent_reply")
                work.start(PERIODIC_UPDATE, "agent_reply")
        case CustomerMessage(waiting_since=since):
            if (
                work.category not in DONE
                and work.running(FIRST_RESPONSE) is None
                and work.running(NEXT_RESPONSE) is None
            ):
                work.start(NEXT_RESPONSE, "merged" if since is not None else "customer_message", since=since)
        case Merged():
            work.category = "closed"
            for i in work.running_indexes():
                work.supersede(i, "merged")
        case PriorityChanged(priority=priority):
            _check_priority(priority)
            if priority != work.priority:
                work.priority = priority
                for i in work.running_indexes():
                    work.retarget(i, "priority")
        case PolicyChanged() | Tick():
            pass
    # Only a status or a policy change moves clocks in or out of the pause categories, and only
    # a new target (priority, policy, reopening, a wait moved in by a merge) can be exceeded the
    # moment it applies.
    work.sync_pauses("status" if isinstance(change, StatusChanged) else "policy")
    if switched:
        work.stamp_exceeded("policy")
    elif isinstance(change, PriorityChanged):
        work.stamp_exceeded("priority")
    elif isinstance(change, CustomerMessage) and change.waiting_since is not None:
        work.stamp_exceeded("merged")
    else:
        work.stamp_exceeded("reopened")
    return work.result()


def _status(work: _Work, category: str) -> None:
    before = work.category
    work.category = category
    if category in DONE and before not in DONE:
        for i in work.running_indexes():
            work.fulfil(i, "solved")
    elif before in DONE and category not in DONE:
        # Solved was a pause of the resolution clock: the same instance resumes, under the
        # target that applies now.
        for i in range(len(work.items) - 1, -1, -1):
            c = work.items[i]
            if c.metric == RESOLUTION:
                if c.status is ClockStatus.FULFILLED:
                    work.items[i] = replace(
                        c, status=ClockStatus.PAUSED, paused_since=c.fulfilled_at, fulfilled_at=None
                    )
                    work.retarget(i, "reopened")
                    if _pauses(work.policy, RESOLUTION, category):
                        work.emit(PAUSED, work.items[i], work.now, "reopened")
                    else:
                        work.resume(i, "reopened")
                break


def reflow(
    state: SlaState, *, policy: SlaPolicy | None, clocks: Mapping[str, Clock], now: datetime
) -> tuple[SlaState, list[SlaEvent]]:
    """Recompute the targets and `due_at` of the open clocks after the state's policy or its
    calendar was edited (§7.6 `reflow_open`). Consumed time and past breaches stay; the current
    run counts under the new calendar. A switch to another policy is `apply_change`'s job."""
    now = _aware(now)
    if (policy.key if policy is not None else None) != state.policy:
        raise ValueError("reflow keeps the policy; use apply_change with PolicyChanged to switch")
    work = _Work(state, policy, clocks, now)
    work.check_now()
    work.stamp_due()
    for i in work.running_indexes():
        work.retarget(i, "reflow")
    work.sync_pauses("reflow")
    work.stamp_exceeded("reflow")
    return work.result()


# -- reading the clocks ----------------------------------------------------------------------


def timers_for(state: SlaState, policy: SlaPolicy | None, *, clocks: Mapping[str, Clock]) -> list[SlaTimer]:
    """Every SLA timer the ticket should have now: warnings, breach and escalation levels of its
    active targeted clocks, ordered by due instant then key. Paused and stopped clocks have
    none; thresholds passed before the current run began are left out (they fired then)."""
    if policy is None:
        return []
    if policy.key != state.policy:
        raise ValueError(f"the state's clocks follow policy {state.policy!r}, not {policy.key!r}")
    timers: list[SlaTimer] = []
    for c in state.clocks:
        if c.status is not ClockStatus.ACTIVE or c.target is None or c.running_since is None:
            continue
        clock = clock_for(clocks, c.calendar)
        planned: list[tuple[str, int, timedelta]] = []
        if c.breached_at is None:
            planned += [
                ("warning", i, w.threshold(c.target))
                for i, w in enumerate(policy.warnings)
                if c.metric in w.metrics
            ]
            planned.append(("breach", 0, c.target))
        planned += [
            ("escalation", i, c.target + e.after_breach)
            for i, e in enumerate(policy.escalations)
            if c.metric in e.metrics
        ]
        for kind, level, threshold in planned:
            if threshold >= _ZERO and _ahead(c, threshold):
                due = clock.add(c.running_since, threshold - c.consumed)
                timers.append(SlaTimer(c.metric, c.instance, kind, level, due))
    order = {m: i for i, m in enumerate(METRICS)}
    kinds = {"warning": 0, "breach": 1, "escalation": 2}
    timers.sort(key=lambda t: (t.due_at, order[t.metric], t.instance, kinds[t.kind], t.level))
    return timers


def remaining(clock_state: ClockState, clock: Clock, now: datetime) -> Remaining:
    """Time left before the breach, in the metric's own time and in calendar time (the display
    shows both, §7.6.7). Negative after the breach; None when there is nothing to count down
    (no target, stopped, or paused for the calendar time)."""
    c = clock_state
    if c.target is None or not c.running:
        return Remaining(None, None)
    left = c.target - c.used(clock, _aware(now))
    if c.status is ClockStatus.PAUSED or c.due_at is None:
        return Remaining(left, None)
    return Remaining(left, c.due_at - now)


def next_breach(state: SlaState) -> datetime | None:
    """The earliest `due_at` of the active targeted clocks not yet breached (a view's "next SLA
    breach")."""
    dues = [
        c.due_at
        for c in state.clocks
        if c.status is ClockStatus.ACTIVE and c.due_at is not None and c.breached_at is None
    ]
    return min(dues, default=None)


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
        "target_us": None if c.target is None else _us(c.target),
        "consumed_us": _us(c.consumed),
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
    _check_priority(priority)
    _check_category(category)
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
        "target_us": None if event.target is None else _us(event.target),
        "due_at": None if event.due_at is None else _dt(event.due_at),
    }

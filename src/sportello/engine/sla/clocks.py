"""The clocks of one ticket under a policy: state, the changes that move it, breaches, timers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sportello.engine.sla.policy import (
    BREACHED,
    DEFAULT_PAUSE_IN,
    DONE,
    FIRST_RESPONSE,
    FULFILLED,
    METRICS,
    NEXT_RESPONSE,
    PAUSED,
    PERIODIC_UPDATE,
    REPLY_METRICS,
    RESOLUTION,
    RESUMED,
    RETARGETED,
    STARTED,
    SUPERSEDED,
    Clock,
    SlaPolicy,
    check_category,
    check_priority,
    clock_for,
)

_ZERO = timedelta(0)


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
        check_priority(change.priority)
        check_category(change.category)
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
            check_category(category)
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
            check_priority(priority)
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

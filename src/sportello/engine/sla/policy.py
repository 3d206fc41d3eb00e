"""SLA policies as admins write them: targets per metric and priority, warnings, escalation
ladders, pause categories; parsed from and written back to plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
            return timedelta(microseconds=microseconds(target) * self.at_percent // 100)
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


def microseconds(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def check_priority(priority: str) -> None:
    if priority not in PRIORITY_ORDER:
        raise ValueError(f"unknown priority {priority!r}")


def check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown status category {category!r}")

"""Rules as code: the versioned document that holds event rules, time rules, macros and
assignment policies, as YAML or JSON.

    schema: sportello/rules/v1
    categories: [routing, notifications]      # order of event-rule categories (optional)
    event_rules:
      - key: phone-heat
        name: Phone heats up
        category: routing                     # default: default
        position: 10                          # default 0
        active: true                          # default true
        on: [ticket.created, message.added]   # default: every event, timer.fired included
        when: {field: message.body, op: contains, value: the phone heats up}
        actions: [{set: {field: ticket.priority, value: high}}]
        max_fires_per_ticket: null            # default null: no limit
        stop_processing: false                # default false
    time_rules:
      - key: team-idle
        name: Team ticket idle for a day
        anchor: last_update                   # required
        business: false                       # default false
        when: {field: ticket.team, op: present}
        steps: [{after: 1d, actions: [{notify: {to: [team], template: team_reminder}}]}]
    macros:
      - key: refund-ok
        name: Refund approved
        visibility: {scope: team, ids: [3]}
        actions: [{add_tags: [refund_approved]}]
    assignment_policies:
      - key: billing-rr
        name: Billing round robin
        pool: {team: 3}                        # or {department: id} or {agents: [ids]}
        max_open_per_agent: 15                 # default null: no cap
        count_categories: [new, open]          # default [new, open]
        offline: skip                          # skip (offline agents get none, default) | assign
        backlog: true                          # default true

Choices made here:
- Event rules run ordered by category, then position, then key. Categories follow the top-level
  `categories` list; a category not in that list comes after the listed ones, alphabetically
  (with no list at all, categories are simply alphabetical).
- `on` defaults to every event, `timer.fired` and `blueprint.transition` included: a time
  rule's firing or a blueprint transition is a change like any other and event rules see it
  unless they narrow `on`.
- A time rule must have an anchor (so the lint for anchor-less time rules has nothing to find).
  Its `when` is re-checked on the stored ticket when a step fires: it may not use event-only
  facts or change operators. Durations are `<n>d`, `<n>h`, `<n>m`, `<n>s` or a sum such as
  `1h30m`; a day is 24 hours of the rule's clock. They are written back in the largest unit
  that divides them exactly (`24h` is written `1d`). A negative step (`-1h`: before the due
  date) is allowed only with the `due_date` anchor. Steps are in increasing order of `after`.
- Macros may not `stop`, and may not `apply_macro` (an event or time rule applying a macro is
  depth 1; a macro applying a macro would be depth 2).
- `version` on event and time rules is optional and informational (the saved version a
  document was exported from); it is written back only when present.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from sportello.engine.actions import (
    Action,
    ApplyMacro,
    Reply,
    Stop,
    actions_to_data,
    parse_actions,
    positive_id,
)
from sportello.engine.conditions import (
    CHANGE_OPS,
    All,
    AnyOf,
    Condition,
    FieldSpec,
    Predicate,
    condition_to_data,
    parse_condition,
)
from sportello.engine.schema import (
    NESTING_MAX,
    RuleSchemaError,
    at,
    boolean,
    mapping,
    one_line,
    sequence,
    slug,
)

SCHEMA = "sportello/rules/v1"
DOCUMENT_MAX_BYTES = 1_000_000
RULES_MAX = 2_000  # per list
STEPS_MAX = 20
EVENTS = ("ticket.created", "ticket.updated", "message.added", "timer.fired", "blueprint.transition")
STATUS_CATEGORIES = ("new", "open", "pending", "on_hold", "solved", "closed")
PLAIN_ANCHORS = (
    "created",
    "assigned",
    "last_customer_message",
    "last_agent_reply",
    "last_update",
    "due_date",
)
STATUS_ANCHOR_PREFIX = "status_entered:"
VISIBILITY_SCOPES = ("personal", "team", "department", "everyone")
OFFLINE_RULES = ("skip", "assign")

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_DURATION = re.compile(r"(-)?(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?")
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
DURATION_MAX = timedelta(days=3_650)


@dataclass(frozen=True, slots=True)
class EventRule:
    key: str
    name: str
    when: Condition
    actions: tuple[Action, ...]
    category: str = "default"
    position: int = 0
    active: bool = True
    on: frozenset[str] = frozenset(EVENTS)
    max_fires_per_ticket: int | None = None
    stop_processing: bool = False
    version: int | None = None


@dataclass(frozen=True, slots=True)
class TimeStep:
    after: timedelta  # from the anchor; negative only before the due date
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class TimeRule:
    key: str
    name: str
    anchor: str
    when: Condition
    steps: tuple[TimeStep, ...]
    active: bool = True
    business: bool = False
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Visibility:
    scope: str  # personal (agent ids) | team | department | everyone (no ids)
    ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Macro:
    key: str
    name: str
    visibility: Visibility
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class Pool:
    department: int | None = None
    team: int | None = None
    agents: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class AssignmentPolicy:
    key: str
    name: str
    pool: Pool
    max_open_per_agent: int | None = None
    count_categories: tuple[str, ...] = ("new", "open")
    offline: str = "skip"
    backlog: bool = True


@dataclass(frozen=True, slots=True)
class RuleDocument:
    categories: tuple[str, ...] = ()
    event_rules: tuple[EventRule, ...] = ()
    time_rules: tuple[TimeRule, ...] = ()
    macros: tuple[Macro, ...] = ()
    assignment_policies: tuple[AssignmentPolicy, ...] = field(default=())


# -- durations -----------------------------------------------------------------------------


# Parsing helpers shared by the document parsers (`engine.schema`).
_mapping = mapping
_slug = slug
_name = one_line
_bool = boolean


def _list(data: object, path: str, limit: int = RULES_MAX) -> list[Any]:
    return sequence(data, path, limit, absent_empty=True)


def parse_duration(value: object, path: str) -> timedelta:
    """`"90m"` → 90 minutes; `"1h30m"`, `"2d"`, `"45s"`, `"-1h"`. Exact, to the second."""
    if not isinstance(value, str):
        raise RuleSchemaError(path, "must be a duration such as 90m, 24h or 2d")
    m = _DURATION.fullmatch(value)
    if m is None or not any(m.groups()[1:]):
        raise RuleSchemaError(path, "must be a duration such as 90m, 24h or 2d")
    seconds = sum(int(n) * size for n, (_, size) in zip(m.groups()[1:], _UNITS, strict=True) if n)
    result = timedelta(seconds=-seconds if m.group(1) else seconds)
    if abs(result) > DURATION_MAX:
        raise RuleSchemaError(path, "must be at most 3650 days")
    return result


def format_duration(value: timedelta) -> str:
    """The written form of a duration: the largest unit that divides it exactly."""
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{sign}{seconds // size}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


# -- parsing helpers -----------------------------------------------------------------------


def _int(value: object, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 2**31 - 1:
        raise RuleSchemaError(path, f"must be an integer of at least {minimum}")
    return value


def _optional_int(value: object, path: str, *, minimum: int) -> int | None:
    return None if value is None else _int(value, path, minimum=minimum)


def _unique_keys(items: Sequence[Any], path: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.key in seen:
            raise RuleSchemaError(at(at(path, i), "key"), f"duplicate key {item.key!r}")
        seen.add(item.key)


def _walk(cond: Condition, path: str) -> list[tuple[Predicate, str]]:
    """Every predicate of a condition with its path in the data form."""
    if isinstance(cond, Predicate):
        return [(cond, path)]
    if isinstance(cond, All | AnyOf):
        key = "all" if isinstance(cond, All) else "any"
        return [p for i, item in enumerate(cond.items) for p in _walk(item, at(at(path, key), i))]
    return _walk(cond.item, at(path, "not"))


def predicates(cond: Condition) -> list[Predicate]:
    return [p for p, _ in _walk(cond, "")]


# -- the four kinds ------------------------------------------------------------------------


def _no_reply(actions: tuple[Action, ...], path: str) -> tuple[Action, ...]:
    """Rules answer customers through notifications; a public `reply` is for macros, which an
    agent applies (and signs)."""
    for i, action in enumerate(actions):
        if isinstance(action, Reply):
            raise RuleSchemaError(
                at(at(path, i), "reply"), "is available in macros only; rules use notify or note"
            )
    return actions


def _parse_event_rule(data: object, specs: Mapping[str, FieldSpec], path: str) -> EventRule:
    d = _mapping(
        data,
        path,
        ("key", "name", "when", "actions"),
        ("category", "position", "active", "on", "max_fires_per_ticket", "stop_processing", "version"),
    )
    on = d.get("on", list(EVENTS))
    if not isinstance(on, list) or not on:
        raise RuleSchemaError(at(path, "on"), f"must be a non-empty list of: {', '.join(EVENTS)}")
    for i, event in enumerate(on):
        if event not in EVENTS:
            raise RuleSchemaError(at(at(path, "on"), i), f"must be one of: {', '.join(EVENTS)}")
    max_fires = d.get("max_fires_per_ticket")
    version = d.get("version")
    return EventRule(
        key=_slug(d["key"], at(path, "key")),
        name=_name(d["name"], at(path, "name")),
        category=_slug(d.get("category", "default"), at(path, "category")),
        position=_int(d.get("position", 0), at(path, "position"), minimum=0),
        active=_bool(d.get("active", True), at(path, "active")),
        on=frozenset(on),
        when=parse_condition(d["when"], specs=specs, path=at(path, "when")),
        actions=_no_reply(
            parse_actions(d["actions"], specs=specs, path=at(path, "actions")), at(path, "actions")
        ),
        max_fires_per_ticket=_optional_int(max_fires, at(path, "max_fires_per_ticket"), minimum=1),
        stop_processing=_bool(d.get("stop_processing", False), at(path, "stop_processing")),
        version=_optional_int(version, at(path, "version"), minimum=1),
    )


def _anchor(value: object, path: str) -> str:
    if isinstance(value, str):
        if value in PLAIN_ANCHORS:
            return value
        if value.startswith(STATUS_ANCHOR_PREFIX) and _SLUG.fullmatch(value[len(STATUS_ANCHOR_PREFIX) :]):
            return value
    raise RuleSchemaError(
        path, f"must be one of {', '.join(PLAIN_ANCHORS)} or status_entered:<status category or status key>"
    )


def _parse_time_rule(data: object, specs: Mapping[str, FieldSpec], path: str) -> TimeRule:
    d = _mapping(data, path, ("key", "name", "anchor", "when", "steps"), ("active", "business", "version"))
    anchor = _anchor(d["anchor"], at(path, "anchor"))
    when = parse_condition(d["when"], specs=specs, path=at(path, "when"))
    for pred, ppath in _walk(when, at(path, "when")):
        spec = specs.get(pred.field)
        if spec is not None and spec.event_only:
            raise RuleSchemaError(
                at(ppath, "field"), f"{pred.field} exists only during an event; a time rule cannot use it"
            )
        if pred.op in CHANGE_OPS:
            raise RuleSchemaError(at(ppath, "op"), f"{pred.op} compares a change; a time rule cannot use it")
    steps_data = _list(d["steps"], at(path, "steps"), STEPS_MAX)
    if not steps_data:
        raise RuleSchemaError(at(path, "steps"), "must have at least one step")
    steps: list[TimeStep] = []
    for i, raw in enumerate(steps_data):
        spath = at(at(path, "steps"), i)
        s = _mapping(raw, spath, ("after", "actions"))
        after = parse_duration(s["after"], at(spath, "after"))
        if after < timedelta(0) and anchor != "due_date":
            raise RuleSchemaError(
                at(spath, "after"), "a negative step is allowed only with the due_date anchor"
            )
        if steps and after <= steps[-1].after:
            raise RuleSchemaError(at(spath, "after"), "steps must be in increasing order of `after`")
        steps.append(
            TimeStep(
                after=after,
                actions=_no_reply(
                    parse_actions(s["actions"], specs=specs, path=at(spath, "actions")), at(spath, "actions")
                ),
            )
        )
    version = d.get("version")
    return TimeRule(
        key=_slug(d["key"], at(path, "key")),
        name=_name(d["name"], at(path, "name")),
        anchor=anchor,
        when=when,
        steps=tuple(steps),
        active=_bool(d.get("active", True), at(path, "active")),
        business=_bool(d.get("business", False), at(path, "business")),
        version=_optional_int(version, at(path, "version"), minimum=1),
    )


def _parse_macro(data: object, specs: Mapping[str, FieldSpec], path: str) -> Macro:
    d = _mapping(data, path, ("key", "name", "visibility", "actions"))
    vpath = at(path, "visibility")
    v = _mapping(d["visibility"], vpath, ("scope",), ("ids",))
    scope = v["scope"]
    if scope not in VISIBILITY_SCOPES:
        raise RuleSchemaError(at(vpath, "scope"), f"must be one of: {', '.join(VISIBILITY_SCOPES)}")
    ids_data = _list(v.get("ids", []), at(vpath, "ids"), 1_000)
    ids = tuple(dict.fromkeys(positive_id(x, at(at(vpath, "ids"), i)) for i, x in enumerate(ids_data)))
    if scope == "everyone" and ids:
        raise RuleSchemaError(at(vpath, "ids"), "must be empty for scope everyone")
    if scope != "everyone" and not ids:
        raise RuleSchemaError(
            at(vpath, "ids"), f"must name at least one {'agent' if scope == 'personal' else scope}"
        )
    actions = parse_actions(d["actions"], specs=specs, path=at(path, "actions"))
    for i, action in enumerate(actions):
        if isinstance(action, Stop | ApplyMacro):
            name = "stop" if isinstance(action, Stop) else "apply_macro"
            raise RuleSchemaError(at(at(at(path, "actions"), i), name), "a macro cannot use this action")
    if not actions:
        raise RuleSchemaError(at(path, "actions"), "must have at least one action")
    return Macro(
        key=_slug(d["key"], at(path, "key")),
        name=_name(d["name"], at(path, "name")),
        visibility=Visibility(scope=scope, ids=ids),
        actions=actions,
    )


def _parse_policy(data: object, path: str) -> AssignmentPolicy:
    d = _mapping(
        data, path, ("key", "name", "pool"), ("max_open_per_agent", "count_categories", "offline", "backlog")
    )
    ppath = at(path, "pool")
    p = _mapping(d["pool"], ppath, (), ("department", "team", "agents"))
    if len(p) != 1:
        raise RuleSchemaError(ppath, "must name exactly one of: department, team, agents")
    ((kind, value),) = p.items()
    if kind == "agents":
        agents = _list(value, at(ppath, "agents"), 1_000)
        if not agents:
            raise RuleSchemaError(at(ppath, "agents"), "must name at least one agent")
        ids = tuple(dict.fromkeys(positive_id(x, at(at(ppath, "agents"), i)) for i, x in enumerate(agents)))
        pool = Pool(agents=ids)
    elif kind == "team":
        pool = Pool(team=positive_id(value, at(ppath, "team")))
    else:
        pool = Pool(department=positive_id(value, at(ppath, "department")))
    cap = d.get("max_open_per_agent")
    cats = _list(d.get("count_categories", ["new", "open"]), at(path, "count_categories"), 10)
    for i, c in enumerate(cats):
        if c not in STATUS_CATEGORIES:
            raise RuleSchemaError(
                at(at(path, "count_categories"), i), f"must be one of: {', '.join(STATUS_CATEGORIES)}"
            )
    offline = d.get("offline", "skip")
    if offline not in OFFLINE_RULES:
        raise RuleSchemaError(at(path, "offline"), f"must be one of: {', '.join(OFFLINE_RULES)}")
    return AssignmentPolicy(
        key=_slug(d["key"], at(path, "key")),
        name=_name(d["name"], at(path, "name")),
        pool=pool,
        max_open_per_agent=_optional_int(cap, at(path, "max_open_per_agent"), minimum=1),
        count_categories=tuple(dict.fromkeys(cats)),
        offline=offline,
        backlog=_bool(d.get("backlog", True), at(path, "backlog")),
    )


# -- the document --------------------------------------------------------------------------


def parse_document(data: object, *, specs: Mapping[str, FieldSpec]) -> RuleDocument:
    """Parse a rules document (already decoded from YAML or JSON); raise RuleSchemaError with
    the path of the first error."""
    d = _mapping(
        data, "", ("schema",), ("categories", "event_rules", "time_rules", "macros", "assignment_policies")
    )
    if d["schema"] != SCHEMA:
        raise RuleSchemaError("schema", f"must be {SCHEMA!r}")
    categories = tuple(
        _slug(c, at("categories", i)) for i, c in enumerate(_list(d.get("categories"), "categories"))
    )
    if len(set(categories)) != len(categories):
        raise RuleSchemaError("categories", "must not repeat a category")
    doc = RuleDocument(
        categories=categories,
        event_rules=tuple(
            _parse_event_rule(r, specs, at("event_rules", i))
            for i, r in enumerate(_list(d.get("event_rules"), "event_rules"))
        ),
        time_rules=tuple(
            _parse_time_rule(r, specs, at("time_rules", i))
            for i, r in enumerate(_list(d.get("time_rules"), "time_rules"))
        ),
        macros=tuple(
            _parse_macro(r, specs, at("macros", i)) for i, r in enumerate(_list(d.get("macros"), "macros"))
        ),
        assignment_policies=tuple(
            _parse_policy(r, at("assignment_policies", i))
            for i, r in enumerate(_list(d.get("assignment_policies"), "assignment_policies"))
        ),
    )
    _unique_keys(doc.event_rules, "event_rules")
    _unique_keys(doc.time_rules, "time_rules")
    _unique_keys(doc.macros, "macros")
    _unique_keys(doc.assignment_policies, "assignment_policies")
    return doc


def event_rule_to_data(rule: EventRule) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": rule.key,
        "name": rule.name,
        "category": rule.category,
        "position": rule.position,
        "active": rule.active,
        "on": [e for e in EVENTS if e in rule.on],
        "when": condition_to_data(rule.when),
        "actions": actions_to_data(rule.actions),
        "max_fires_per_ticket": rule.max_fires_per_ticket,
        "stop_processing": rule.stop_processing,
    }
    if rule.version is not None:
        data["version"] = rule.version
    return data


def time_rule_to_data(rule: TimeRule) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": rule.key,
        "name": rule.name,
        "active": rule.active,
        "anchor": rule.anchor,
        "business": rule.business,
        "when": condition_to_data(rule.when),
        "steps": [
            {"after": format_duration(s.after), "actions": actions_to_data(s.actions)} for s in rule.steps
        ],
    }
    if rule.version is not None:
        data["version"] = rule.version
    return data


def macro_to_data(macro: Macro) -> dict[str, Any]:
    return {
        "key": macro.key,
        "name": macro.name,
        "visibility": {"scope": macro.visibility.scope, "ids": list(macro.visibility.ids)},
        "actions": actions_to_data(macro.actions),
    }


def policy_to_data(policy: AssignmentPolicy) -> dict[str, Any]:
    pool: dict[str, Any]
    if policy.pool.agents is not None:
        pool = {"agents": list(policy.pool.agents)}
    elif policy.pool.team is not None:
        pool = {"team": policy.pool.team}
    else:
        pool = {"department": policy.pool.department}
    return {
        "key": policy.key,
        "name": policy.name,
        "pool": pool,
        "max_open_per_agent": policy.max_open_per_agent,
        "count_categories": list(policy.count_categories),
        "offline": policy.offline,
        "backlog": policy.backlog,
    }


def document_to_data(doc: RuleDocument) -> dict[str, Any]:
    """The data form of a document, every field written out:
    `parse_document(document_to_data(doc)) == doc`."""
    return {
        "schema": SCHEMA,
        "categories": list(doc.categories),
        "event_rules": [event_rule_to_data(r) for r in doc.event_rules],
        "time_rules": [time_rule_to_data(r) for r in doc.time_rules],
        "macros": [macro_to_data(m) for m in doc.macros],
        "assignment_policies": [policy_to_data(p) for p in doc.assignment_policies],
    }


class NestingTooDeep(yaml.YAMLError):
    """A YAML document nests deeper than NESTING_MAX: refused while it is read, before the
    parser's recursion could exhaust the stack."""


class RulesLoader(yaml.SafeLoader):
    """The safe loader without aliases (`&a`/`*a` could make a small text expand to a huge
    tree) and with a nesting limit."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        if self._depth >= NESTING_MAX:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise NestingTooDeep(
                f"the document is nested deeper than {NESTING_MAX} levels (line {mark.line + 1})"
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# YAML 1.2 booleans: only true/false. YAML 1.1 would read the key `on:` (and yes/no/off) as a bool.
RulesLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
RulesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str, *, specs: Mapping[str, FieldSpec]) -> RuleDocument:
    """Parse a rules document from YAML (JSON is YAML too). Syntax errors are RuleSchemaError
    with the line and column; documents over DOCUMENT_MAX_BYTES are refused unread."""
    if len(text.encode("utf-8", errors="replace")) > DOCUMENT_MAX_BYTES:
        raise RuleSchemaError("", f"the document is larger than {DOCUMENT_MAX_BYTES} bytes")
    try:
        data = yaml.load(text, Loader=RulesLoader)  # noqa: S506 - a SafeLoader subclass
    except NestingTooDeep as exc:
        raise RuleSchemaError("", str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise RuleSchemaError("", f"invalid YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise RuleSchemaError("", f"invalid YAML: {exc}") from None
    return parse_document(data, specs=specs)


def dump_yaml(doc: RuleDocument) -> str:
    """The YAML text of a document: `load_yaml(dump_yaml(doc)) == doc`."""
    return yaml.safe_dump(document_to_data(doc), sort_keys=False, allow_unicode=True, width=100)


def category_rank(categories: Sequence[str]) -> Callable[[str], tuple[int, int, str]]:
    """A sort key for category names: listed ones in list order, then the rest alphabetically."""
    index = {c: i for i, c in enumerate(categories)}

    def rank(name: str) -> tuple[int, int, str]:
        return (0, index[name], "") if name in index else (1, 0, name)

    return rank

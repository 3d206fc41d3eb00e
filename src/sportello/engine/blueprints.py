"""Blueprints: a department's process as a state machine over ticket statuses (Zoho Desk's
Blueprint; reference §4.5 and §7.7). Pure data and functions: the definition parsed from (and
dumped back to) plain dicts, entry, the transitions an agent may perform, the checks and the
plan of one transition (with the automatic chain of continuous blueprints), the automation
bypass, state time-limit timers, and the dashboard metrics computed from an event log.

Data form (JSON/YAML), read by `parse_blueprint` and written back by `blueprint_to_data`::

    key: returns
    name: Returns
    department: 4                    # id: a blueprint applies to tickets of its department
    priority: 10                     # default 0; when several match, the highest applies (ties: key)
    active: true                     # default true
    entry: {field: ticket.custom.kind, op: is, value: return}   # default {all: []}: every ticket
    initial: received                # a state key or a list of them; default: the first state
    allow_automation_bypass: false   # default false
    states:
      - {key: received, name: Received, status: open}
      - key: awaiting-item
        name: Awaiting the item
        status: pending              # a ticket status key
        time_limit: 5d               # optional; durations as in time rules
        business: true               # default false: the limit counts business time
        escalations:                 # need time_limit; `after` counts from the limit (may be < 0)
          - {after: -1h, actions: [{notify: {to: [assignee], template: bp_limit_near}}]}
          - {after: 0s, actions: [{add_tags: [bp_late]}]}
      - {key: refunded, name: Refunded, status: solved, terminal: true}
    transitions:
      - key: label-sent
        name: Send the return label
        from: received               # a state key, a list of them, or "*" (common: from any state)
        to: awaiting-item
        owners: {agents: [12], teams: [3], roles: [admin], assignee: true, departments: [7]}
        available_when: {field: ticket.custom.order_id, op: present}    # default: always
        during:
          fields:
            - {field: ticket.custom.order_id, required: true, matches: "^[A-Z]{2}[0-9]{6}$",
               min_length: 8, max_length: 8, message: An order id looks like AB123456}
            - {field: ticket.custom.refund_amount, min: 0, max: 500}    # number, date, datetime
            - {field: ticket.custom.reason, allowed_values: [damaged, wrong_item]}   # choices
          note: required             # required | optional | null (not asked; the default)
          attachment: optional       # the same
        after: [{notify: {to: [requester], template: return_label}}]
        auto: false                  # continuous blueprints: runs by itself (see plan_transition)
      - {key: refund, name: Refund, from: awaiting-item, to: refunded, owners: {roles: [admin]}}

Choices made here:
- Initial state: the first of the declared `initial` states whose status is the ticket's
  current status; else, when the current status is that of a terminal state, None (the ticket
  already stands at an end of the process: the blueprint does not attach); else the first
  declared initial state (the caller then sets the ticket's status to that state's status).
  Only declared initial states are matched by status, so a ticket whose status happens to be
  that of a middle state does not skip the steps before it. An initial state is not terminal.
- Validity is checked as a whole and every problem is an error (`RuleSchemaError` with a
  path): unknown state keys, duplicate keys, no terminal state, a transition leaving a terminal
  state, a state that no path from the initial states reaches (`states[i]`), and a non-terminal
  state with no transition out of it (tickets would be stuck there).
- Common transitions (`from: "*"`) leave every non-terminal state except their own target.
- Owners: no owner listed means any actor of the blueprint's department. Otherwise an actor is
  an owner when listed by id, a member of a listed team, of a listed role *and* of the
  blueprint's department, the ticket's assignee (with `assignee: true`), or a member of a
  listed department (a colleague of another department).
- `entry` and `available_when` describe the ticket, not a change (they are evaluated when the
  ticket is shown): no change operators and no event-only facts.
- `during.fields` name writable fields (as `set` actions do), never `ticket.status` (the
  transition sets it). A required field is satisfied by the input or, when the input leaves it
  out, by the ticket's current value; whichever applies is validated. An input of a field the
  transition does not ask for is invalid; an input of null (or blank text) clears the field.
  `matches` is `re.search` (anchor with ^ and $), on texts up to MATCH_INPUT_MAX characters.
- `after` and escalation actions may not `reply` (rules answer through notify or note), `stop`,
  or set `ticket.status` (only transitions move the status). An automatic transition cannot
  require a note or an attachment: nobody is there to give one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sportello.engine.actions import (
    WRITABLE_FIELDS,
    Action,
    AddTags,
    RemoveTags,
    Reply,
    SetField,
    Stop,
    actions_to_data,
    coerce_value,
    field_spec,
    field_writes,
    parse_actions,
    positive_id,
    value_to_data,
)
from sportello.engine.conditions import (
    CHANGE_OPS,
    MATCH_INPUT_MAX,
    All,
    AnyOf,
    Condition,
    FieldSpec,
    FieldType,
    Predicate,
    condition_to_data,
    evaluate,
    explain,
    parse_condition,
)
from sportello.engine.rules import format_duration, parse_duration
from sportello.engine.schema import RuleSchemaError, at, boolean, mapping, sequence
from sportello.engine.text import BIDI_CHARACTERS

STATES_MAX = 50
TRANSITIONS_MAX = 100
ESCALATIONS_MAX = 10
INPUT_FIELDS_MAX = 30
IDS_MAX = 200
NAME_MAX = 200
MESSAGE_MAX = 500
LENGTH_MAX = 50_000
CHAIN_MAX = 10  # transitions one request may run: the requested one and the automatic ones after it
ROLES = ("admin", "agent", "light_agent")
REQUIREMENTS = ("required", "optional")
COMMON = "*"
# Actor kinds that may change the status outside transitions when the blueprint allows it.
AUTOMATION_KINDS = frozenset({"rule", "sla", "system"})

ALWAYS: Condition = All(())  # the default entry: every ticket of the department
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_STATUS = re.compile(r"[A-Za-z0-9_-]{1,40}")
_VALIDATORS = ("matches", "min_length", "max_length", "min", "max", "allowed_values")
_VALIDATORS_BY_TYPE: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: ("matches", "min_length", "max_length"),
    FieldType.NUMBER: ("min", "max"),
    FieldType.DATE: ("min", "max"),
    FieldType.DATETIME: ("min", "max"),
    FieldType.CHOICE: ("allowed_values",),
    FieldType.ORDINAL: ("allowed_values",),
    FieldType.SET: ("allowed_values",),
    FieldType.BOOLEAN: (),
    FieldType.REF: (),
}


# -- the definition --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Escalation:
    after: timedelta  # from the instant the state's time limit runs out; negative: before it
    actions: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class State:
    key: str
    name: str
    status: str  # a ticket status key
    terminal: bool = False
    time_limit: timedelta | None = None
    business: bool = False  # the time limit counts business time
    escalations: tuple[Escalation, ...] = ()


@dataclass(frozen=True, slots=True)
class Owners:
    agents: tuple[int, ...] = ()
    teams: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()  # members of the blueprint's department with one of these roles
    assignee: bool = False  # the ticket's current assignee
    departments: tuple[int, ...] = ()  # colleagues of (other) departments

    @property
    def anyone(self) -> bool:
        """No owner listed: any actor of the blueprint's department."""
        return not (self.agents or self.teams or self.roles or self.assignee or self.departments)


@dataclass(frozen=True, slots=True)
class FieldInput:
    """A field the agent fills in during a transition, with its validation."""

    field: str
    required: bool = False
    matches: str | None = None  # text: a regular expression (re.search)
    min_length: int | None = None  # text
    max_length: int | None = None  # text
    minimum: Any = None  # number (int or Decimal), date or datetime, coerced like a `set` value
    maximum: Any = None
    allowed_values: tuple[str, ...] | None = None  # choice, ordinal and multi-select fields
    message: str | None = None  # shown instead of the default message when the value is invalid


@dataclass(frozen=True, slots=True)
class During:
    fields: tuple[FieldInput, ...] = ()
    note: str | None = None  # "required" | "optional" | None (not asked)
    attachment: str | None = None  # the same


@dataclass(frozen=True, slots=True)
class Transition:
    key: str
    name: str
    from_states: tuple[str, ...] | None  # None: a common transition ("*")
    to: str
    owners: Owners = Owners()
    available_when: Condition | None = None
    during: During = During()
    after: tuple[Action, ...] = ()
    auto: bool = False

    @property
    def common(self) -> bool:
        return self.from_states is None


@dataclass(frozen=True, slots=True)
class Blueprint:
    key: str
    name: str
    department: int
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    initial: tuple[str, ...]  # state keys, in order of preference
    entry: Condition = ALWAYS
    priority: int = 0
    active: bool = True
    allow_automation_bypass: bool = False

    def state(self, key: str) -> State | None:
        for s in self.states:
            if s.key == key:
                return s
        return None

    def transition(self, key: str) -> Transition | None:
        for t in self.transitions:
            if t.key == key:
                return t
        return None

    def leaving(self, state_key: str) -> list[Transition]:
        """The transitions that leave a state, by definition (owners and conditions aside), in
        definition order. None leaves a terminal or unknown state."""
        state = self.state(state_key)
        if state is None or state.terminal:
            return []
        return [t for t in self.transitions if _leaves(t, state_key)]


# Parsing helpers shared by the document parsers (`engine.schema`).
_mapping = mapping
_bool = boolean


def _list(data: object, path: str, limit: int) -> list[Any]:
    return sequence(data, path, limit)


def _leaves(t: Transition, state_key: str) -> bool:
    if t.from_states is None:
        return t.to != state_key
    return state_key in t.from_states


# -- parsing helpers ---------------------------------------------------------------------------


def _key(value: object, path: str) -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise RuleSchemaError(
            path, "must be a key: 1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit"
        )
    return value


def _line(value: object, path: str, limit: int) -> str:
    """One line of text for people: no control, bidirectional-override or non-XML characters
    (names end up in HTML, SVG and e-mail)."""
    if not isinstance(value, str) or not value.strip():
        raise RuleSchemaError(path, "must be a non-empty string")
    if len(value) > limit:
        raise RuleSchemaError(path, f"must be at most {limit} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CHARACTERS or ch in "\ufffe\uffff":
            raise RuleSchemaError(path, "must be one line without control characters")
    return value


def _int(value: object, path: str, *, minimum: int, maximum: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise RuleSchemaError(path, f"must be an integer from {minimum} to {maximum}")
    return value


def _ids(data: object, path: str) -> tuple[int, ...]:
    items = _list(data, path, IDS_MAX)
    return tuple(dict.fromkeys(positive_id(x, at(path, i)) for i, x in enumerate(items)))


def _requirement(value: object, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in REQUIREMENTS:
        return value
    raise RuleSchemaError(path, "must be required, optional or null")


def _predicates(cond: Condition, path: str) -> Iterable[tuple[Predicate, str]]:
    if isinstance(cond, Predicate):
        yield cond, path
    elif isinstance(cond, All | AnyOf):
        sub = at(path, "all" if isinstance(cond, All) else "any")
        for i, item in enumerate(cond.items):
            yield from _predicates(item, at(sub, i))
    else:
        yield from _predicates(cond.item, at(path, "not"))


def _ticket_condition(data: object, specs: Mapping[str, FieldSpec], path: str) -> Condition:
    """A condition on the ticket as it stands: no change operators, no event-only facts."""
    cond = parse_condition(data, specs=specs, path=path)
    for pred, ppath in _predicates(cond, path):
        spec = specs.get(pred.field)
        if spec is not None and spec.event_only:
            raise RuleSchemaError(
                at(ppath, "field"), f"{pred.field} exists only during an event; a blueprint cannot use it"
            )
        if pred.op in CHANGE_OPS:
            raise RuleSchemaError(at(ppath, "op"), f"{pred.op} compares a change; a blueprint cannot use it")
    return cond


def _blueprint_actions(data: object, specs: Mapping[str, FieldSpec], path: str) -> tuple[Action, ...]:
    actions = parse_actions(data, specs=specs, path=path)
    for i, action in enumerate(actions):
        if isinstance(action, Reply):
            raise RuleSchemaError(at(at(path, i), "reply"), "is for macros only; use notify or note")
        if isinstance(action, Stop):
            raise RuleSchemaError(at(at(path, i), "stop"), "has no meaning in a blueprint")
        if isinstance(action, SetField) and action.field == "ticket.status":
            raise RuleSchemaError(
                at(at(at(path, i), "set"), "field"), "only transitions move the status of a blueprint"
            )
    return actions


def _regex(value: object, path: str) -> str:
    """A pattern the condition language accepts for `matches` (no shapes that backtrack badly)."""
    probe = {"text": FieldSpec("text", FieldType.TEXT)}
    try:
        parse_condition({"field": "text", "op": "matches", "value": value}, specs=probe, path=path)
    except RuleSchemaError as exc:
        raise RuleSchemaError(path, exc.message) from None
    assert isinstance(value, str)
    return value


# -- parsing -----------------------------------------------------------------------------------


def parse_blueprint(
    data: object,
    *,
    specs: Mapping[str, FieldSpec],
    roles: Collection[str] = ROLES,
    statuses: Collection[str] | None = None,
    path: str = "",
) -> Blueprint:
    """Read a blueprint from its JSON/YAML form, or raise RuleSchemaError at the first bad part.
    `roles` are the role names owners may list; `statuses`, when given, the status keys states
    may map to."""
    d = _mapping(
        data,
        path,
        ("key", "name", "department", "states", "transitions"),
        ("priority", "active", "entry", "initial", "allow_automation_bypass"),
    )
    key = _key(d["key"], at(path, "key"))
    name = _line(d["name"], at(path, "name"), NAME_MAX)
    department = positive_id(d["department"], at(path, "department"))
    priority = _int(d.get("priority", 0), at(path, "priority"), minimum=0)
    active = _bool(d.get("active", True), at(path, "active"))
    entry = _ticket_condition(d.get("entry", {"all": []}), specs, at(path, "entry"))
    bypass = _bool(d.get("allow_automation_bypass", False), at(path, "allow_automation_bypass"))

    spath = at(path, "states")
    states_data = _list(d["states"], spath, STATES_MAX)
    if not states_data:
        raise RuleSchemaError(spath, "must have at least one state")
    states: list[State] = []
    for i, raw in enumerate(states_data):
        state = _parse_state(raw, specs, statuses, at(spath, i))
        if any(s.key == state.key for s in states):
            raise RuleSchemaError(at(at(spath, i), "key"), f"duplicate state key {state.key!r}")
        states.append(state)
    by_key = {s.key: s for s in states}
    if not any(s.terminal for s in states):
        raise RuleSchemaError(spath, "must have at least one terminal state (terminal: true)")

    initial = _parse_initial(d.get("initial", states[0].key), by_key, at(path, "initial"))

    tpath = at(path, "transitions")
    transitions: list[Transition] = []
    for i, raw in enumerate(_list(d["transitions"], tpath, TRANSITIONS_MAX)):
        transition = _parse_transition(raw, specs, roles, by_key, at(tpath, i))
        if any(t.key == transition.key for t in transitions):
            raise RuleSchemaError(at(at(tpath, i), "key"), f"duplicate transition key {transition.key!r}")
        transitions.append(transition)

    blueprint = Blueprint(
        key=key,
        name=name,
        department=department,
        states=tuple(states),
        transitions=tuple(transitions),
        initial=initial,
        entry=entry,
        priority=priority,
        active=active,
        allow_automation_bypass=bypass,
    )
    _check_graph(blueprint, spath)
    return blueprint


def _parse_state(
    data: object, specs: Mapping[str, FieldSpec], statuses: Collection[str] | None, path: str
) -> State:
    d = _mapping(data, path, ("key", "name", "status"), ("terminal", "time_limit", "business", "escalations"))
    status = d["status"]
    if not isinstance(status, str) or not _STATUS.fullmatch(status):
        raise RuleSchemaError(at(path, "status"), "must be a status key (1 to 40 of A-Z, a-z, 0-9, _ and -)")
    if statuses is not None and status not in statuses:
        raise RuleSchemaError(at(path, "status"), f"{status!r} is not a ticket status")
    terminal = _bool(d.get("terminal", False), at(path, "terminal"))
    raw_limit = d.get("time_limit")
    limit = None if raw_limit is None else parse_duration(raw_limit, at(path, "time_limit"))
    if limit is not None and limit <= timedelta(0):
        raise RuleSchemaError(at(path, "time_limit"), "must be longer than zero")
    if limit is not None and terminal:
        raise RuleSchemaError(at(path, "time_limit"), "a terminal state has no time limit")
    business = _bool(d.get("business", False), at(path, "business"))
    if business and limit is None:
        raise RuleSchemaError(at(path, "business"), "applies to a time_limit, and the state has none")
    epath = at(path, "escalations")
    escalations: list[Escalation] = []
    for i, raw in enumerate(_list(d.get("escalations", []), epath, ESCALATIONS_MAX)):
        if limit is None:
            raise RuleSchemaError(epath, "need a time_limit")
        e = _mapping(raw, at(epath, i), ("after", "actions"))
        after = parse_duration(e["after"], at(at(epath, i), "after"))
        if limit + after < timedelta(0):
            raise RuleSchemaError(at(at(epath, i), "after"), "falls before the ticket enters the state")
        if escalations and after <= escalations[-1].after:
            raise RuleSchemaError(
                at(at(epath, i), "after"), "escalations must be in increasing order of `after`"
            )
        actions = _blueprint_actions(e["actions"], specs, at(at(epath, i), "actions"))
        escalations.append(Escalation(after=after, actions=actions))
    return State(
        key=_key(d["key"], at(path, "key")),
        name=_line(d["name"], at(path, "name"), NAME_MAX),
        status=status,
        terminal=terminal,
        time_limit=limit,
        business=business,
        escalations=tuple(escalations),
    )


def _state_keys(
    data: object, by_key: Mapping[str, State], path: str, *, empty: str, terminal: str
) -> tuple[str, ...]:
    """A state key or a non-empty list of them, each a state of this blueprint, none terminal
    (`terminal`: the message when one is; `empty`: when the list is), without repeats."""
    if isinstance(data, str):
        items: list[tuple[object, str]] = [(data, path)]
    else:
        raw = _list(data, path, STATES_MAX)
        if not raw:
            raise RuleSchemaError(path, empty)
        items = [(x, at(path, i)) for i, x in enumerate(raw)]
    keys: list[str] = []
    for value, vpath in items:
        if not isinstance(value, str) or value not in by_key:
            raise RuleSchemaError(vpath, f"{str(value)[:60]!r} is not a state of this blueprint")
        if by_key[value].terminal:
            raise RuleSchemaError(vpath, terminal.format(value=value))
        if value in keys:
            raise RuleSchemaError(vpath, f"repeats {value!r}")
        keys.append(value)
    return tuple(keys)


def _parse_initial(data: object, by_key: Mapping[str, State], path: str) -> tuple[str, ...]:
    return _state_keys(
        data,
        by_key,
        path,
        empty="must name at least one state",
        terminal="an initial state cannot be terminal",
    )


def _parse_owners(data: object, roles: Collection[str], path: str) -> Owners:
    d = _mapping(data, path, (), ("agents", "teams", "roles", "assignee", "departments"))
    rpath = at(path, "roles")
    role_names: list[str] = []
    for i, role in enumerate(_list(d.get("roles", []), rpath, len(roles) + 10)):
        if not isinstance(role, str) or role not in roles:
            raise RuleSchemaError(at(rpath, i), f"must be one of: {', '.join(roles)}")
        if role not in role_names:
            role_names.append(role)
    return Owners(
        agents=_ids(d.get("agents", []), at(path, "agents")),
        teams=_ids(d.get("teams", []), at(path, "teams")),
        roles=tuple(role_names),
        assignee=_bool(d.get("assignee", False), at(path, "assignee")),
        departments=_ids(d.get("departments", []), at(path, "departments")),
    )


def _parse_field_input(data: object, specs: Mapping[str, FieldSpec], path: str) -> FieldInput:
    d = _mapping(data, path, ("field",), ("required", "message", *_VALIDATORS))
    spec = field_spec(d["field"], specs, at(path, "field"))
    if spec.path == "ticket.status":
        raise RuleSchemaError(at(path, "field"), "the transition sets the status itself")
    fits = _VALIDATORS_BY_TYPE[spec.type]
    for name in _VALIDATORS:
        if name in d and name not in fits:
            raise RuleSchemaError(at(path, name), f"does not apply to {spec.type.value} fields")
    matches = _regex(d["matches"], at(path, "matches")) if "matches" in d else None
    lengths: dict[str, int] = {}
    for name, least in (("min_length", 0), ("max_length", 1)):
        if name in d:
            lengths[name] = _int(d[name], at(path, name), minimum=least, maximum=LENGTH_MAX)
    min_length, max_length = lengths.get("min_length"), lengths.get("max_length")
    if min_length is not None and max_length is not None and min_length > max_length:
        raise RuleSchemaError(at(path, "max_length"), "must not be less than min_length")
    bounds: dict[str, Any] = {}
    for name in ("min", "max"):
        if name in d:
            value = coerce_value(spec, d[name], at(path, name))
            if value is None:
                raise RuleSchemaError(at(path, name), "must not be null")
            bounds[name] = value
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        raise RuleSchemaError(at(path, "max"), "must not be less than min")
    allowed: tuple[str, ...] | None = None
    if "allowed_values" in d:
        apath = at(path, "allowed_values")
        raw = _list(d["allowed_values"], apath, 1_000)
        if not raw:
            raise RuleSchemaError(apath, "must name at least one value")
        values: list[str] = []
        for i, v in enumerate(raw):
            if not isinstance(v, str) or not v:
                raise RuleSchemaError(at(apath, i), "must be a non-empty string")
            if spec.choices is not None and v not in spec.choices:
                raise RuleSchemaError(at(apath, i), f"{v[:60]!r} is not one of the field's values")
            if v not in values:
                values.append(v)
        allowed = tuple(values)
    message = _line(d["message"], at(path, "message"), MESSAGE_MAX) if "message" in d else None
    return FieldInput(
        field=spec.path,
        required=_bool(d.get("required", False), at(path, "required")),
        matches=matches,
        min_length=min_length,
        max_length=max_length,
        minimum=bounds.get("min"),
        maximum=bounds.get("max"),
        allowed_values=allowed,
        message=message,
    )


def _parse_during(data: object, specs: Mapping[str, FieldSpec], path: str) -> During:
    d = _mapping(data, path, (), ("fields", "note", "attachment"))
    fpath = at(path, "fields")
    inputs: list[FieldInput] = []
    for i, raw in enumerate(_list(d.get("fields", []), fpath, INPUT_FIELDS_MAX)):
        item = _parse_field_input(raw, specs, at(fpath, i))
        if any(f.field == item.field for f in inputs):
            raise RuleSchemaError(at(at(fpath, i), "field"), f"{item.field} is listed twice")
        inputs.append(item)
    return During(
        fields=tuple(inputs),
        note=_requirement(d.get("note"), at(path, "note")),
        attachment=_requirement(d.get("attachment"), at(path, "attachment")),
    )


def _parse_transition(
    data: object,
    specs: Mapping[str, FieldSpec],
    roles: Collection[str],
    by_key: Mapping[str, State],
    path: str,
) -> Transition:
    d = _mapping(
        data, path, ("key", "name", "from", "to"), ("owners", "available_when", "during", "after", "auto")
    )
    key = _key(d["key"], at(path, "key"))
    name = _line(d["name"], at(path, "name"), NAME_MAX)
    fpath = at(path, "from")
    raw_from = d["from"]
    from_states: tuple[str, ...] | None
    if raw_from == COMMON:
        from_states = None
    else:
        from_states = _state_keys(
            raw_from,
            by_key,
            fpath,
            empty='must name at least one state (or be "*")',
            terminal="{value!r} is terminal: no transition leaves it",
        )
    to = d["to"]
    if not isinstance(to, str) or to not in by_key:
        raise RuleSchemaError(at(path, "to"), f"{str(to)[:60]!r} is not a state of this blueprint")
    raw_when = d.get("available_when")
    when = None if raw_when is None else _ticket_condition(raw_when, specs, at(path, "available_when"))
    during = _parse_during(d.get("during", {}), specs, at(path, "during"))
    auto = _bool(d.get("auto", False), at(path, "auto"))
    if auto:
        for what in ("note", "attachment"):
            if getattr(during, what) == "required":
                raise RuleSchemaError(
                    at(at(path, "during"), what), f"an automatic transition cannot require a {what}"
                )
    return Transition(
        key=key,
        name=name,
        from_states=from_states,
        to=to,
        owners=_parse_owners(d.get("owners", {}), roles, at(path, "owners")),
        available_when=when,
        during=during,
        after=_blueprint_actions(d.get("after", []), specs, at(path, "after")),
        auto=auto,
    )


def _check_graph(bp: Blueprint, states_path: str) -> None:
    """Every state is reachable from the initial states; every non-terminal state has a way out."""
    reached = set(bp.initial)
    frontier = list(bp.initial)
    while frontier:
        for t in bp.leaving(frontier.pop()):
            if t.to not in reached:
                reached.add(t.to)
                frontier.append(t.to)
    for i, state in enumerate(bp.states):
        if state.key not in reached:
            raise RuleSchemaError(
                at(states_path, i), f"state {state.key!r} cannot be reached from the initial states"
            )
        if not state.terminal and not bp.leaving(state.key):
            raise RuleSchemaError(
                at(states_path, i),
                f"state {state.key!r} has no transition out of it: add one or mark it terminal",
            )


# -- dumping -----------------------------------------------------------------------------------


def state_to_data(state: State) -> dict[str, Any]:
    return {
        "key": state.key,
        "name": state.name,
        "status": state.status,
        "terminal": state.terminal,
        "time_limit": None if state.time_limit is None else format_duration(state.time_limit),
        "business": state.business,
        "escalations": [
            {"after": format_duration(e.after), "actions": actions_to_data(e.actions)}
            for e in state.escalations
        ],
    }


def _field_input_to_data(item: FieldInput) -> dict[str, Any]:
    data: dict[str, Any] = {"field": item.field, "required": item.required}
    optional: dict[str, Any] = {
        "matches": item.matches,
        "min_length": item.min_length,
        "max_length": item.max_length,
        "min": None if item.minimum is None else value_to_data(item.minimum),
        "max": None if item.maximum is None else value_to_data(item.maximum),
        "allowed_values": None if item.allowed_values is None else list(item.allowed_values),
        "message": item.message,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    return data


def transition_to_data(t: Transition) -> dict[str, Any]:
    source: str | list[str]
    if t.from_states is None:
        source = COMMON
    elif len(t.from_states) == 1:
        source = t.from_states[0]
    else:
        source = list(t.from_states)
    return {
        "key": t.key,
        "name": t.name,
        "from": source,
        "to": t.to,
        "owners": {
            "agents": list(t.owners.agents),
            "teams": list(t.owners.teams),
            "roles": list(t.owners.roles),
            "assignee": t.owners.assignee,
            "departments": list(t.owners.departments),
        },
        "available_when": None if t.available_when is None else condition_to_data(t.available_when),
        "during": {
            "fields": [_field_input_to_data(f) for f in t.during.fields],
            "note": t.during.note,
            "attachment": t.during.attachment,
        },
        "after": actions_to_data(t.after),
        "auto": t.auto,
    }


def blueprint_to_data(bp: Blueprint) -> dict[str, Any]:
    """The data form of a blueprint, every field written out:
    `parse_blueprint(blueprint_to_data(bp)) == bp`."""
    return {
        "key": bp.key,
        "name": bp.name,
        "department": bp.department,
        "priority": bp.priority,
        "active": bp.active,
        "entry": condition_to_data(bp.entry),
        "initial": list(bp.initial),
        "allow_automation_bypass": bp.allow_automation_bypass,
        "states": [state_to_data(s) for s in bp.states],
        "transitions": [transition_to_data(t) for t in bp.transitions],
    }


# -- entry ---------------------------------------------------------------------------------------


def matches_entry(blueprint: Blueprint, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> bool:
    """Whether the ticket is eligible for the blueprint by its `entry` condition."""
    return evaluate(blueprint.entry, facts, specs=specs)


def choose_blueprint(
    blueprints: Iterable[Blueprint],
    facts: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    department: int | None,
) -> Blueprint | None:
    """The one blueprint a ticket of `department` enters: among the active blueprints of the
    department whose entry matches, the highest priority (ties: the smallest key)."""
    if department is None:
        return None
    candidates = sorted(
        (bp for bp in blueprints if bp.active and bp.department == department),
        key=lambda bp: (-bp.priority, bp.key),
    )
    for bp in candidates:
        if matches_entry(bp, facts, specs):
            return bp
    return None


def initial_state(blueprint: Blueprint, status: str) -> State | None:
    """The state a ticket with `status` enters (see the module docstring): a declared initial
    state with that status, else None when the status is a terminal state's, else the first
    declared initial state."""
    initial = [s for key in blueprint.initial if (s := blueprint.state(key)) is not None]
    for state in initial:
        if state.status == status:
            return state
    if any(s.terminal and s.status == status for s in blueprint.states):
        return None
    return initial[0] if initial else None


# -- transitions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlueprintActor:
    """Who asks to perform a transition: an agent with their role, teams and departments.
    `is_assignee` None: compare `id` with the fact `ticket.assignee`."""

    id: int
    role: str
    team_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()
    is_assignee: bool | None = None


class ProblemCode(StrEnum):
    NOT_AVAILABLE = "not_available"  # no such transition from the ticket's state
    NOT_OWNER = "not_owner"  # the actor may not perform it
    CONDITION_FALSE = "condition_false"  # available_when does not hold
    MISSING_FIELD = "missing_field"  # a required input has no value
    INVALID_FIELD = "invalid_field"  # an input fails its validation or is not asked for
    NOTE_REQUIRED = "note_required"
    ATTACHMENT_REQUIRED = "attachment_required"


# Problems of the inputs (the request can be fixed and sent again: 422); the others say the
# transition is not allowed (409).
INPUT_PROBLEMS = frozenset(
    {
        ProblemCode.MISSING_FIELD,
        ProblemCode.INVALID_FIELD,
        ProblemCode.NOTE_REQUIRED,
        ProblemCode.ATTACHMENT_REQUIRED,
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    field: str  # "transition", a field path such as "ticket.custom.order_id", "note" or "attachment"
    message: str

    @property
    def is_input(self) -> bool:
        """A problem of the inputs (422) rather than of the transition itself (409)."""
        return self.code in INPUT_PROBLEMS


@dataclass(frozen=True, slots=True)
class TransitionInputs:
    """What the agent gives with a transition. Field values in data form (JSON); a null value
    clears the field. `attachments` counts the files attached."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    attachments: int = 0


def is_owner(
    blueprint: Blueprint, transition: Transition, actor: BlueprintActor, facts: Mapping[str, Any]
) -> bool:
    """Whether `actor` is one of the transition's owners (see the module docstring)."""
    owners = transition.owners
    in_department = blueprint.department in actor.department_ids
    if owners.anyone:
        return in_department
    if actor.id in owners.agents or not actor.team_ids.isdisjoint(owners.teams):
        return True
    if in_department and actor.role in owners.roles:
        return True
    if owners.assignee:
        assignee = facts.get("ticket.assignee")
        is_assignee = actor.is_assignee
        if is_assignee is None:
            is_assignee = (
                isinstance(assignee, int) and not isinstance(assignee, bool) and assignee == actor.id
            )
        if is_assignee:
            return True
    return not actor.department_ids.isdisjoint(owners.departments)


def _condition_holds(t: Transition, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> bool:
    return t.available_when is None or evaluate(t.available_when, facts, specs=specs)


def available_transitions(
    blueprint: Blueprint,
    state_key: str,
    actor: BlueprintActor,
    facts: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
) -> list[Transition]:
    """The transitions `actor` may perform now on a ticket in `state_key`, in definition order:
    they leave the state, the actor is an owner, and `available_when` holds."""
    return [
        t
        for t in blueprint.leaving(state_key)
        if is_owner(blueprint, t, actor, facts) and _condition_holds(t, facts, specs)
    ]


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset):
        return not value
    return False


def _data_form(value: object) -> object:
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return value


def _invalid(item: FieldInput, spec: FieldSpec, value: Any) -> str | None:
    """Why a coerced value fails the input's validation, or None."""
    if item.matches is not None and isinstance(value, str):
        if len(value) > MATCH_INPUT_MAX:
            return f"is too long to check (at most {MATCH_INPUT_MAX} characters)"
        if re.search(item.matches, value) is None:
            return f"must match the pattern {item.matches}"
    if isinstance(value, str) and spec.type is FieldType.TEXT:
        if item.min_length is not None and len(value) < item.min_length:
            return f"must be at least {item.min_length} characters"
        if item.max_length is not None and len(value) > item.max_length:
            return f"must be at most {item.max_length} characters"
    try:
        if item.minimum is not None and value < item.minimum:
            return f"must be at least {value_to_data(item.minimum)}"
        if item.maximum is not None and value > item.maximum:
            return f"must be at most {value_to_data(item.maximum)}"
    except TypeError:
        return "has a value of the wrong type"
    if item.allowed_values is not None:
        chosen = sorted(value) if isinstance(value, frozenset) else [value]
        for v in chosen:
            if v not in item.allowed_values:
                return f"{str(v)[:60]!r} is not allowed here; choose from: {', '.join(item.allowed_values)}"
    return None


def _check_inputs(
    during: During, facts: Mapping[str, Any], inputs: TransitionInputs, specs: Mapping[str, FieldSpec]
) -> tuple[list[Problem], dict[str, Any]]:
    """The problems of the inputs, and the field changes they make (coerced; None clears)."""
    problems: list[Problem] = []
    changes: dict[str, Any] = {}
    asked = {item.field for item in during.fields}
    for name in inputs.fields:
        if name not in asked:
            problems.append(
                Problem(ProblemCode.INVALID_FIELD, str(name), "is not an input of this transition")
            )
    for item in during.fields:
        spec = specs.get(item.field)
        if spec is None:
            problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, "is not a known field"))
            continue
        given = item.field in inputs.fields
        raw = inputs.fields[item.field] if given else facts.get(item.field)
        if _blank(raw):
            if item.required:
                problems.append(Problem(ProblemCode.MISSING_FIELD, item.field, "is required"))
            elif given and not WRITABLE_FIELDS.get(item.field, True):
                problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, "cannot be cleared"))
            elif given:
                changes[item.field] = None
            continue
        try:
            value = coerce_value(spec, _data_form(raw), item.field)
        except RuleSchemaError as exc:
            problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, item.message or exc.message))
            continue
        reason = _invalid(item, spec, value)
        if reason is not None:
            problems.append(Problem(ProblemCode.INVALID_FIELD, item.field, item.message or reason))
        elif given:
            changes[item.field] = value
    if during.note == "required" and (inputs.note is None or not inputs.note.strip()):
        problems.append(Problem(ProblemCode.NOTE_REQUIRED, "note", "a note is required"))
    if during.attachment == "required" and inputs.attachments <= 0:
        problems.append(Problem(ProblemCode.ATTACHMENT_REQUIRED, "attachment", "an attachment is required"))
    return problems, changes


def _failed_predicates(t: Transition, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> str:
    assert t.available_when is not None
    _, traces = explain(t.available_when, facts, specs=specs, path="available_when")
    failed = [
        f"{tr.field} {tr.op}" + ("" if tr.expected is None else f" {tr.expected}")
        for tr in traces
        if not tr.result
    ]
    return f" (not met: {'; '.join(failed)})" if failed else ""


def check_transition(
    blueprint: Blueprint,
    state_key: str,
    transition_key: str,
    actor: BlueprintActor,
    facts: Mapping[str, Any],
    inputs: TransitionInputs,
    specs: Mapping[str, FieldSpec],
) -> list[Problem]:
    """Everything that stops `actor` from performing the transition now with these inputs; an
    empty list means it may run. Problems of the transition itself come first, then those of
    the inputs in the order the transition asks for them."""
    t = blueprint.transition(transition_key)
    if t is None:
        return [
            Problem(
                ProblemCode.NOT_AVAILABLE,
                "transition",
                f"the blueprint has no transition {transition_key[:60]!r}",
            )
        ]
    problems: list[Problem] = []
    if t not in blueprint.leaving(state_key):
        problems.append(
            Problem(ProblemCode.NOT_AVAILABLE, "transition", f"{t.name!r} does not leave the ticket's state")
        )
    if not is_owner(blueprint, t, actor, facts):
        problems.append(Problem(ProblemCode.NOT_OWNER, "transition", f"you are not an owner of {t.name!r}"))
    if not _condition_holds(t, facts, specs):
        problems.append(
            Problem(
                ProblemCode.CONDITION_FALSE,
                "transition",
                f"{t.name!r} is not available for this ticket{_failed_predicates(t, facts, specs)}",
            )
        )
    input_problems, _ = _check_inputs(t.during, facts, inputs, specs)
    return problems + input_problems


class TransitionBlocked(ValueError):
    """`plan_transition` was asked for a transition that `check_transition` refuses."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class TransitionStep:
    transition: Transition
    from_state: str
    to_state: str
    status: str  # the ticket's status after the step
    fields: Mapping[str, Any]  # the field inputs this step sets (coerced; None clears)
    note: str | None
    actions: tuple[Action, ...]  # the transition's `after` actions
    automatic: bool


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """What performing a transition does: the requested step, then any automatic ones."""

    steps: tuple[TransitionStep, ...]
    facts: Mapping[str, Any]  # the facts expected after every step (inputs, status, field actions)
    completed: bool  # the final state is terminal
    stopped_at: Transition | None = None  # the next automatic transition waits for inputs
    capped: bool = False  # another automatic transition was due, but the chain reached CHAIN_MAX

    @property
    def final_state(self) -> str:
        return self.steps[-1].to_state

    @property
    def status(self) -> str:
        return self.steps[-1].status


def _apply(working: dict[str, Any], step: TransitionStep, categories: Mapping[str, str] | None) -> None:
    """Predict the facts after a step: its inputs, the status, and the field actions."""
    working.update(step.fields)
    working["ticket.status"] = step.status
    if categories is not None and step.status in categories:
        working["ticket.status_category"] = categories[step.status]
    working.update(field_writes(step.actions))
    for action in step.actions:
        if isinstance(action, AddTags | RemoveTags):
            current = working.get("ticket.tags")
            tags = set(current) if isinstance(current, Iterable) and not isinstance(current, str) else set()
            tags = tags | set(action.tags) if isinstance(action, AddTags) else tags - set(action.tags)
            working["ticket.tags"] = frozenset(tags)


def plan_transition(
    blueprint: Blueprint,
    state_key: str,
    transition_key: str,
    actor: BlueprintActor,
    facts: Mapping[str, Any],
    inputs: TransitionInputs,
    specs: Mapping[str, FieldSpec],
    *,
    categories: Mapping[str, str] | None = None,
) -> TransitionPlan:
    """What performing the transition does, or TransitionBlocked with the problems.

    The requested step sets the field inputs and the target state's status, and runs its
    `after` actions. Then, in a continuous blueprint, while exactly one `auto` transition leaves
    the new state with its condition true on the predicted facts, it runs too (owners do not
    apply: the blueprint performs it), with no inputs: its required fields must already hold
    valid values, else the chain stops and `stopped_at` names it. Two or more automatic
    candidates are ambiguous: none runs. A request runs at most CHAIN_MAX transitions.
    `categories` (status key → status category), when given, keeps `ticket.status_category`
    in the predicted facts."""
    problems = check_transition(blueprint, state_key, transition_key, actor, facts, inputs, specs)
    if problems:
        raise TransitionBlocked(problems)
    t = blueprint.transition(transition_key)
    assert t is not None
    working = dict(facts)
    _, changes = _check_inputs(t.during, facts, inputs, specs)
    note = inputs.note if inputs.note is not None and inputs.note.strip() else None
    steps = [_step(blueprint, t, state_key, changes, note, automatic=False)]
    _apply(working, steps[0], categories)
    stopped: Transition | None = None
    capped = False
    while True:
        current = steps[-1].to_state
        autos = [a for a in blueprint.leaving(current) if a.auto and _condition_holds(a, working, specs)]
        if len(autos) != 1:
            break
        if len(steps) >= CHAIN_MAX:
            capped = True
            break
        auto = autos[0]
        auto_problems, _ = _check_inputs(auto.during, working, TransitionInputs(), specs)
        if auto_problems:
            stopped = auto
            break
        steps.append(_step(blueprint, auto, current, {}, None, automatic=True))
        _apply(working, steps[-1], categories)
    final = blueprint.state(steps[-1].to_state)
    return TransitionPlan(
        steps=tuple(steps),
        facts=working,
        completed=final is not None and final.terminal,
        stopped_at=stopped,
        capped=capped,
    )


def _step(
    bp: Blueprint,
    t: Transition,
    from_state: str,
    fields: Mapping[str, Any],
    note: str | None,
    *,
    automatic: bool,
) -> TransitionStep:
    target = bp.state(t.to)
    assert target is not None
    return TransitionStep(
        transition=t,
        from_state=from_state,
        to_state=t.to,
        status=target.status,
        fields=dict(fields),
        note=note,
        actions=t.after,
        automatic=automatic,
    )


def may_bypass(blueprint: Blueprint, actor_kind: str) -> bool:
    """Whether a status change outside the blueprint's transitions is allowed to `actor_kind`
    (agent, contact, rule, sla, blueprint, system) while the blueprint is attached. The
    blueprint itself may; rules, SLA escalations and the system only when the blueprint allows
    automation to bypass it; agents and contacts never (they use transitions)."""
    if actor_kind == "blueprint":
        return True
    return blueprint.allow_automation_bypass and actor_kind in AUTOMATION_KINDS


# -- state time limits -----------------------------------------------------------------------------

AddBusiness = Callable[[datetime, timedelta], datetime]
BusinessElapsed = Callable[[datetime, datetime], timedelta]


@dataclass(frozen=True, slots=True)
class LimitTimer:
    state: str
    escalation: int  # index in the state's escalations
    due_at: datetime
    actions: tuple[Action, ...]


def limit_due(
    state: State, entered_at: datetime, *, add_business: AddBusiness | None = None
) -> datetime | None:
    """When the ticket's time in the state runs out, or None when the state has no limit.
    Business time goes through `add_business` when the state counts it and one is given."""
    if state.time_limit is None:
        return None
    return _add(state, entered_at, state.time_limit, add_business)


def _add(state: State, start: datetime, span: timedelta, add_business: AddBusiness | None) -> datetime:
    if state.business and add_business is not None:
        return add_business(start, span)
    return start + span


def limit_timers(
    state: State, entered_at: datetime, *, add_business: AddBusiness | None = None
) -> list[LimitTimer]:
    """The escalation timers entering the state arms (leaving it disarms them; entering again
    arms new ones), in order."""
    if state.time_limit is None:
        return []
    return [
        LimitTimer(state.key, i, _add(state, entered_at, state.time_limit + e.after, add_business), e.actions)
        for i, e in enumerate(state.escalations)
    ]


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

"""A blueprint as admins write it: states, transitions with owners, inputs and conditions,
escalations; parsed from and written back to plain data."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sportello.engine.actions import (
    Action,
    Reply,
    SetField,
    Stop,
    actions_to_data,
    coerce_value,
    field_spec,
    parse_actions,
    positive_id,
    value_to_data,
)
from sportello.engine.conditions import (
    CHANGE_OPS,
    All,
    AnyOf,
    Condition,
    FieldSpec,
    FieldType,
    Predicate,
    condition_to_data,
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

"""Stable keys for the records a rules document names, so a document exported from one desk
imports into another whose ids differ.

Saved definitions refer to records by id (what the engine runs on); a document refers to them
by a key that means the same in every desk:

- a department by its slug (`returns`): in conditions on and `set` of `ticket.department`,
  `assign: {department}`, macro visibility `scope: department`, a policy's `pool: {department}`;
- a team by its slug (`tier-1`): the same with `ticket.team`, `assign: {team}`, `scope: team`,
  `pool: {team}`;
- an agent by e-mail (`ana@desk.test`): `ticket.assignee`, `assign: {agent}`,
  `notify: {to: [agent:<e-mail>]}`, `scope: personal`, `pool: {agents}`;
- a macro by its key in `apply_macro`, an assignment policy by its key in `assign: {policy}`.

`document_to_keys` turns the ids of an exported document into keys (an id whose record no longer
exists stays a number). `document_to_ids` turns the keys of a document being imported into ids
before it is parsed, and refuses a key that names no record with `ValidationFailed` whose field
is the path of the value (`event_rules[0].actions[1].assign.team`) and whose message names the
key. Numbers are accepted as ids, as documents written before keys existed have them. Anything
not shaped as expected is left as it is, for the document's parser to report.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sportello.accounts.models import Department, Team, User
from sportello.core.errors import ValidationFailed
from sportello.engine.schema import at

from .models import AssignmentPolicy, Macro


class Ref(StrEnum):
    DEPARTMENT = "department"
    TEAM = "team"
    AGENT = "agent"
    MACRO = "macro"
    POLICY = "assignment policy"


# How each kind is keyed: the model and the field holding the key.
_KEYED: dict[Ref, tuple[Any, str, str]] = {
    Ref.DEPARTMENT: (Department, "slug", "slug"),
    Ref.TEAM: (Team, "slug", "slug"),
    Ref.AGENT: (User, "email", "e-mail"),
    Ref.MACRO: (Macro, "key", "key"),
    Ref.POLICY: (AssignmentPolicy, "key", "key"),
}
# Condition and `set` fields whose values are ids.
FIELD_REFS = {"ticket.department": Ref.DEPARTMENT, "ticket.team": Ref.TEAM, "ticket.assignee": Ref.AGENT}
ASSIGN_REFS = {
    "department": Ref.DEPARTMENT,
    "team": Ref.TEAM,
    "agent": Ref.AGENT,
    "policy": Ref.POLICY,
}
VISIBILITY_REFS = {"department": Ref.DEPARTMENT, "team": Ref.TEAM, "personal": Ref.AGENT}


class Directory:
    """Ids and keys of the records of each kind, each table read once, when first needed."""

    def __init__(self) -> None:
        self._by_id: dict[Ref, dict[int, str]] = {}
        self._by_key: dict[Ref, dict[str, int]] = {}

    def _load(self, kind: Ref) -> None:
        if kind in self._by_id:
            return
        model, field, _ = _KEYED[kind]
        rows = list(model.objects.values_list("pk", field))
        self._by_id[kind] = {pk: key for pk, key in rows}
        self._by_key[kind] = {(key.lower() if kind is Ref.AGENT else key): pk for pk, key in rows}

    def key(self, kind: Ref, value: Any) -> Any:
        """The key of the record with id `value`; `value` itself when it is no id of one."""
        if isinstance(value, bool) or not isinstance(value, int):
            return value
        self._load(kind)
        return self._by_id[kind].get(value, value)

    def id(self, kind: Ref, value: Any, path: str) -> Any:
        """The id of the record keyed `value` (a number is taken as an id, anything else left
        for the parser); ValidationFailed at `path` when no record has that key."""
        if not isinstance(value, str):
            return value
        self._load(kind)
        found = self._by_key[kind].get(value.lower() if kind is Ref.AGENT else value)
        if found is None:
            what = _KEYED[kind][2]
            raise ValidationFailed(f"no {kind} with the {what} {value!r} in this desk", field=path)
        return found


Convert = Callable[[Ref, Any, str], Any]


def document_to_keys(data: dict[str, Any], directory: Directory | None = None) -> dict[str, Any]:
    """An exported document (data, changed in place and returned) naming records by key."""
    d = directory or Directory()
    _walk_document(data, lambda kind, value, path: d.key(kind, value))
    return data


def document_to_ids(data: Any, directory: Directory | None = None) -> Any:
    """A document to import (data, changed in place and returned) naming records by id; raises
    ValidationFailed with the path of the first key that names no record."""
    d = directory or Directory()
    if isinstance(data, dict):
        _walk_document(data, d.id)
    return data


def _walk_document(data: dict[str, Any], convert: Convert) -> None:
    for section in ("event_rules", "time_rules", "macros", "assignment_policies"):
        items = data.get(section)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            path = at(section, i)
            if "when" in item:
                item["when"] = _condition(item["when"], at(path, "when"), convert)
            if "actions" in item:
                item["actions"] = actions(item["actions"], at(path, "actions"), convert)
            steps = item.get("steps")
            if isinstance(steps, list):
                for j, step in enumerate(steps):
                    if isinstance(step, dict) and "actions" in step:
                        step["actions"] = actions(
                            step["actions"], at(at(at(path, "steps"), j), "actions"), convert
                        )
            if section == "macros" and isinstance(item.get("visibility"), dict):
                _visibility(item["visibility"], at(path, "visibility"), convert)
            if section == "assignment_policies" and isinstance(item.get("pool"), dict):
                _pool(item["pool"], at(path, "pool"), convert)


def _values(value: Any, kind: Ref, path: str, convert: Convert) -> Any:
    if isinstance(value, list):
        return [convert(kind, v, at(path, i)) for i, v in enumerate(value)]
    return convert(kind, value, path)


def _condition(node: Any, path: str, convert: Convert) -> Any:
    if not isinstance(node, dict):
        return node
    for group in ("all", "any"):
        items = node.get(group)
        if isinstance(items, list):
            node[group] = [_condition(c, at(at(path, group), i), convert) for i, c in enumerate(items)]
    if "not" in node:
        node["not"] = _condition(node["not"], at(path, "not"), convert)
    kind = FIELD_REFS.get(node["field"]) if isinstance(node.get("field"), str) else None
    if kind is not None and "value" in node:
        node["value"] = _values(node["value"], kind, at(path, "value"), convert)
    return node


def actions(data: Any, path: str, convert: Convert) -> Any:
    """A list of actions with their record references converted (see the module docstring)."""
    if not isinstance(data, list):
        return data
    for i, action in enumerate(data):
        if not isinstance(action, dict) or len(action) != 1:
            continue
        ((name, body),) = action.items()
        where = at(at(path, i), name) if isinstance(name, str) else path
        if name == "set" and isinstance(body, dict) and "value" in body:
            field = body.get("field")
            kind = FIELD_REFS.get(field) if isinstance(field, str) else None
            if kind is not None:
                body["value"] = convert(kind, body["value"], at(where, "value"))
        elif name == "assign" and isinstance(body, dict) and len(body) == 1:
            ((target, value),) = body.items()
            if target in ASSIGN_REFS:
                body[target] = convert(ASSIGN_REFS[target], value, at(where, target))
        elif name == "notify" and isinstance(body, dict) and isinstance(body.get("to"), list):
            body["to"] = [_recipient(r, at(at(where, "to"), j), convert) for j, r in enumerate(body["to"])]
        elif name == "apply_macro":
            action[name] = convert(Ref.MACRO, body, where)
    return data


def _recipient(value: Any, path: str, convert: Convert) -> Any:
    if not isinstance(value, str) or not value.startswith("agent:"):
        return value
    ref = value.removeprefix("agent:")
    as_id = int(ref) if ref.isdecimal() and ref.isascii() else ref
    return f"agent:{convert(Ref.AGENT, as_id, path)}"


def _visibility(v: dict[str, Any], path: str, convert: Convert) -> None:
    kind = VISIBILITY_REFS.get(v["scope"]) if isinstance(v.get("scope"), str) else None
    if kind is not None and "ids" in v:
        v["ids"] = _values(v["ids"], kind, at(path, "ids"), convert)


def _pool(p: dict[str, Any], path: str, convert: Convert) -> None:
    for target, kind in (("department", Ref.DEPARTMENT), ("team", Ref.TEAM), ("agents", Ref.AGENT)):
        if target in p:
            p[target] = _values(p[target], kind, at(path, target), convert)


def blueprint_to_keys(item: Any, directory: Directory | None = None) -> Any:
    """A blueprint definition of an exported document (changed in place) naming records by key:
    its department, transition owners (agents, teams, departments), and what its conditions and
    actions name, as in rules."""
    d = directory or Directory()
    _walk_blueprint(item, "", lambda kind, value, path: d.key(kind, value))
    return item


def blueprint_to_ids(item: Any, directory: Directory | None = None) -> Any:
    """A blueprint definition to import (changed in place) naming records by id; ValidationFailed
    with the path (relative to the blueprint) of the first key that names no record."""
    d = directory or Directory()
    _walk_blueprint(item, "", d.id)
    return item


def _walk_blueprint(item: Any, path: str, convert: Convert) -> None:
    if not isinstance(item, dict):
        return
    if "department" in item:
        item["department"] = convert(Ref.DEPARTMENT, item["department"], at(path, "department"))
    if "entry" in item:
        item["entry"] = _condition(item["entry"], at(path, "entry"), convert)
    states = item.get("states")
    for i, state in enumerate(states if isinstance(states, list) else []):
        levels = state.get("escalations") if isinstance(state, dict) else None
        for j, level in enumerate(levels if isinstance(levels, list) else []):
            if isinstance(level, dict) and "actions" in level:
                where = at(at(at(at(path, "states"), i), "escalations"), j)
                level["actions"] = actions(level["actions"], at(where, "actions"), convert)
    transitions = item.get("transitions")
    for i, transition in enumerate(transitions if isinstance(transitions, list) else []):
        if not isinstance(transition, dict):
            continue
        where = at(at(path, "transitions"), i)
        owners = transition.get("owners")
        if isinstance(owners, dict):
            for name, kind in (("agents", Ref.AGENT), ("teams", Ref.TEAM), ("departments", Ref.DEPARTMENT)):
                if name in owners:
                    owners[name] = _values(owners[name], kind, at(at(where, "owners"), name), convert)
        if "available_when" in transition:
            transition["available_when"] = _condition(
                transition["available_when"], at(where, "available_when"), convert
            )
        if "after" in transition:
            transition["after"] = actions(transition["after"], at(where, "after"), convert)


def _walk_sla_policy(item: Any, path: str, convert: Convert) -> None:
    if not isinstance(item, dict):
        return
    if "when" in item:
        item["when"] = _condition(item["when"], at(path, "when"), convert)
    levels = item.get("escalations")
    for i, level in enumerate(levels if isinstance(levels, list) else []):
        if isinstance(level, dict) and "actions" in level:
            where = at(at(path, "escalations"), i)
            level["actions"] = actions(level["actions"], at(where, "actions"), convert)


def sla_policy_to_keys(item: Any, directory: Directory | None = None) -> Any:
    """An SLA policy definition (changed in place) naming records by key: what its condition
    and its escalation actions name, as in rules."""
    d = directory or Directory()
    _walk_sla_policy(item, "", lambda kind, value, path: d.key(kind, value))
    return item


def sla_policy_to_ids(item: Any, directory: Directory | None = None) -> Any:
    """An SLA policy definition to import (changed in place) naming records by id;
    ValidationFailed with the path of the first key that names no record."""
    d = directory or Directory()
    _walk_sla_policy(item, "", d.id)
    return item


def _walk_tier_path(item: Any, convert: Convert) -> None:
    if not isinstance(item, dict):
        return
    if "department" in item:
        item["department"] = convert(Ref.DEPARTMENT, item["department"], "department")
    tiers = item.get("tiers")
    for i, tier in enumerate(tiers if isinstance(tiers, list) else []):
        if not isinstance(tier, dict):
            continue
        where = at("tiers", i)
        if "team" in tier:
            tier["team"] = convert(Ref.TEAM, tier["team"], at(where, "team"))
        if "department" in tier:
            tier["department"] = convert(Ref.DEPARTMENT, tier["department"], at(where, "department"))


def tier_path_to_keys(item: Any, directory: Directory | None = None) -> Any:
    """A tier path definition (changed in place) naming its departments and teams by slug."""
    d = directory or Directory()
    _walk_tier_path(item, lambda kind, value, path: d.key(kind, value))
    return item


def tier_path_to_ids(item: Any, directory: Directory | None = None) -> Any:
    """A tier path definition to import (changed in place) naming its departments and teams by
    id; ValidationFailed with the path of the first slug that names no record."""
    d = directory or Directory()
    _walk_tier_path(item, d.id)
    return item


def department_keys(ids: list[int], directory: Directory | None = None) -> list[Any]:
    """Department ids as slugs."""
    d = directory or Directory()
    return [d.key(Ref.DEPARTMENT, i) for i in ids]


def department_ids(slugs: Any, path: str, directory: Directory | None = None) -> Any:
    """Department slugs as ids (anything but a list is left for the caller's check)."""
    d = directory or Directory()
    if not isinstance(slugs, list):
        return slugs
    return [d.id(Ref.DEPARTMENT, s, at(path, i)) for i, s in enumerate(slugs)]

"""The blueprint editor's form: a blueprint definition as rows of states and transitions, read
from the posted form (`from_post`) or from a saved definition (`from_definition`), and written
back as a definition (`Draft.definition`) for the blueprint kind's save.

Transitions name their states by row (`s0`, `s1`, `*` for any state), so that renaming or
re-keying a state keeps its transitions; a state's key, when left empty, is made from its name.
What the form does not show (a transition's actions, condition and input rules, a state's
escalations, business-time flag) is carried through the form as JSON in the row's `extra`, so a
save from the editor keeps it. Validation errors (paths such as `transitions[1].to`) are put on
the row and field they name (`Draft.place_errors`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.text import slugify
from django.utils.translation import gettext as _

from sportello.blueprints.services import blueprints_dump, load_blueprints_text

ANY = "*"
ROLES = ("admin", "agent")
NOTE_CHOICES = ("", "optional", "required")
ROWS_MAX = 60
_PATH = re.compile(r"^(states|transitions)\[(\d+)\](?:\.([a-z_]+))?")


@dataclass
class StateRow:
    key: str = ""
    name: str = ""
    status: str = "open"
    initial: bool = False
    terminal: bool = False
    time_limit: str = ""
    extra: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.key


@dataclass
class TransitionRow:
    key: str = ""
    name: str = ""
    sources: list[str] = field(default_factory=list)  # `s<row>` or `*`
    to: str = ""  # `s<row>`
    roles: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # ids, as text
    teams: list[str] = field(default_factory=list)
    assignee: bool = False
    fields: list[str] = field(default_factory=list)  # paths of the fields that must be filled
    note: str = ""
    extra: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Draft:
    key: str = ""
    name: str = ""
    department: str = ""
    priority: str = "0"
    active: bool = True
    bypass: bool = False  # automation may change the status outside transitions
    entry: str = ""  # the entry condition as YAML; empty: every ticket of the department
    version: int = 0  # the version the editor started from; 0: a new blueprint
    states: list[StateRow] = field(default_factory=list)
    transitions: list[TransitionRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # key, name, department, ..., "form"
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, message), for the preview

    @property
    def is_new(self) -> bool:
        return self.version == 0

    def state_keys(self) -> list[str]:
        """Each row's key: as typed, else made from its name (`s<row>` when it has neither)."""
        return [s.key.strip() or slugify(s.name)[:64] or f"state-{i + 1}" for i, s in enumerate(self.states)]

    def definition(self) -> dict[str, Any]:
        """The draft as a blueprint definition, for validation and saving. Raises ValueError
        (with the form field) when the entry condition's YAML does not read."""
        keys = self.state_keys()

        def state_key(ref: str) -> str:
            if ref.startswith("s") and ref[1:].isdigit() and int(ref[1:]) < len(keys):
                return keys[int(ref[1:])]
            return ref

        states: list[dict[str, Any]] = []
        for s, key in zip(self.states, keys, strict=True):
            item: dict[str, Any] = {**_extra(s.extra), "key": key, "name": s.name.strip(), "status": s.status}
            item["terminal"] = s.terminal
            if s.time_limit.strip():
                item["time_limit"] = s.time_limit.strip()
            else:
                item.pop("time_limit", None)
            states.append(item)
        transitions: list[dict[str, Any]] = []
        for i, t in enumerate(self.transitions):
            extra = _extra(t.extra)
            during = dict(extra.pop("during", {}) or {})
            kept = [f for f in during.get("fields", []) or [] if isinstance(f, dict)]
            required = [f.get("field") for f in kept if f.get("required")]
            if set(required) == set(t.fields):  # as loaded: in its own order
                inputs = kept
            else:
                inputs = []
                for path in t.fields:
                    old = next((f for f in kept if f.get("field") == path), {})
                    inputs.append({**old, "field": path, "required": True})
                inputs += [f for f in kept if f.get("field") not in t.fields and not f.get("required")]
            during["fields"] = inputs
            if t.note:
                during["note"] = t.note
            else:
                during.pop("note", None)
            owners = dict(extra.pop("owners", {}) or {})
            chosen: dict[str, list[Any]] = {
                "roles": list(t.roles),
                "agents": [int(x) for x in t.agents if x.isdigit()],
                "teams": [int(x) for x in t.teams if x.isdigit()],
            }
            for name, values in chosen.items():
                loaded = owners.get(name) or []
                owners[name] = loaded if set(loaded) == set(values) else values  # keep its order
            owners["assignee"] = t.assignee
            loaded_from = extra.pop("_from", None)
            source: str | list[str] = (
                ANY if ANY in t.sources else [state_key(r) for r in t.sources if r != ANY]
            )
            if isinstance(loaded_from, list) and isinstance(source, list) and set(loaded_from) == set(source):
                source = loaded_from
            item = {
                **extra,
                "key": t.key.strip() or slugify(t.name)[:64] or f"transition-{i + 1}",
                "name": t.name.strip(),
                "from": source,
                "to": state_key(t.to),
                "owners": owners,
                "during": during,
            }
            transitions.append(item)
        definition: dict[str, Any] = {
            "key": self.key.strip(),
            "name": self.name.strip(),
            "department": int(self.department) if self.department.isdigit() else self.department,
            "priority": int(self.priority) if self.priority.strip().lstrip("-").isdigit() else self.priority,
            "active": self.active,
            "allow_automation_bypass": self.bypass,
            "initial": [k for s, k in zip(self.states, keys, strict=True) if s.initial] or keys[:1],
            "states": states,
            "transitions": transitions,
        }
        if self.entry.strip():
            try:
                definition["entry"] = load_blueprints_text(self.entry)
            except Exception as exc:  # the loader's errors are several kinds; each is a bad entry
                raise ValueError(str(exc)[:300]) from None
        return definition

    def problem(self, path: str | None, message: str, *, place: bool = True) -> None:
        """Record a validation problem (a definition path and the message): in `problems`, said
        of the part it names, and with `place` on the row and field it names."""
        path = path or ""
        found = _PATH.match(path)
        if found:
            kind, index, name = found.group(1), int(found.group(2)), found.group(3) or ""
            rows: list[Any] = self.states if kind == "states" else self.transitions
            if index < len(rows):
                where = (
                    _("State %(n)s “%(name)s”") if kind == "states" else _("Transition %(n)s “%(name)s”")
                ) % {"n": index + 1, "name": rows[index].name or "…"}
                self.problems.append((where, message))
                if place:
                    slot = {"from": "sources", "during": "fields"}.get(name, name)
                    known = (
                        {"key", "name", "status", "terminal", "time_limit"}
                        if kind == "states"
                        else {"key", "name", "sources", "to", "owners", "fields"}
                    )
                    rows[index].errors[slot if slot in known else "row"] = message
                return
        top = path.split(".")[0].split("[")[0]
        known_top = ("key", "name", "department", "priority", "entry", "states", "transitions")
        slot = top if top in known_top else "form"
        if top == "initial":
            slot = "states"
        labels = {
            "key": _("Key"),
            "name": _("Name"),
            "department": _("Department"),
            "priority": _("Priority"),
            "entry": _("Applies to"),
            "states": _("States"),
            "transitions": _("Transitions"),
            "form": _("Blueprint"),
        }
        self.problems.append((str(labels[slot]), message))
        if place:
            self.errors[slot] = message


def _extra(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _number(raw: object) -> int:
    """A whole number as posted (at most nine digits); 0 when it is none."""
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) <= 9 else 0


def _count(data: QueryDict, name: str) -> int:
    return min(_number(data.get(name, "0")), ROWS_MAX)


def from_post(data: QueryDict) -> Draft:
    """The draft as posted (every value kept as typed, to show again)."""
    draft = Draft(
        key=data.get("key", "")[:64],
        name=data.get("name", "")[:200],
        department=data.get("department", "")[:12],
        priority=data.get("priority", "0")[:12],
        active=data.get("active") == "on",
        bypass=data.get("bypass") == "on",
        entry=data.get("entry", "")[:20_000],
        version=_number(data.get("version", "")),
    )
    for i in range(_count(data, "s-count")):
        p = f"s-{i}-"
        draft.states.append(
            StateRow(
                key=data.get(p + "key", "")[:64],
                name=data.get(p + "name", "")[:200],
                status=data.get(p + "status", ""),
                initial=data.get(p + "initial") == "on",
                terminal=data.get(p + "terminal") == "on",
                time_limit=data.get(p + "time_limit", "")[:40],
                extra=data.get(p + "extra", ""),
            )
        )
    for i in range(_count(data, "t-count")):
        p = f"t-{i}-"
        draft.transitions.append(
            TransitionRow(
                key=data.get(p + "key", "")[:64],
                name=data.get(p + "name", "")[:200],
                sources=data.getlist(p + "from"),
                to=data.get(p + "to", ""),
                roles=[r for r in data.getlist(p + "roles") if r in ROLES],
                agents=[x[:12] for x in data.getlist(p + "agents")],
                teams=[x[:12] for x in data.getlist(p + "teams")],
                assignee=data.get(p + "assignee") == "on",
                fields=list(dict.fromkeys(data.getlist(p + "fields"))),
                note=data.get(p + "note", "") if data.get(p + "note", "") in NOTE_CHOICES else "",
                extra=data.get(p + "extra", ""),
            )
        )
    return draft


def from_definition(definition: dict[str, Any], *, version: int) -> Draft:
    """A saved definition (normalised, ids) as the editor's rows."""
    states = definition.get("states", [])
    refs = {s["key"]: f"s{i}" for i, s in enumerate(states)}
    initial = definition.get("initial") or []
    initial = [initial] if isinstance(initial, str) else initial
    entry = definition.get("entry") or {"all": []}
    draft = Draft(
        key=definition.get("key", ""),
        name=definition.get("name", ""),
        department=str(definition.get("department", "")),
        priority=str(definition.get("priority", 0)),
        active=bool(definition.get("active", True)),
        bypass=bool(definition.get("allow_automation_bypass")),
        entry="" if entry == {"all": []} else blueprints_dump(entry).strip(),
        version=version,
    )
    for s in states:
        extra = {
            k: v for k, v in s.items() if v and k not in ("key", "name", "status", "terminal", "time_limit")
        }
        draft.states.append(
            StateRow(
                key=s["key"],
                name=s.get("name", ""),
                status=s.get("status", ""),
                initial=s["key"] in initial,
                terminal=bool(s.get("terminal")),
                time_limit=s.get("time_limit") or "",
                extra=json.dumps(extra) if extra else "",
            )
        )
    for t in definition.get("transitions", []):
        source = t.get("from")
        named = [source] if isinstance(source, str) else list(source or [])
        sources = [ANY] if source == ANY else [refs.get(k, k) for k in named]
        owners = dict(t.get("owners") or {})
        during = dict(t.get("during") or {})
        fields = [f["field"] for f in during.get("fields", []) if f.get("required")]
        extra = {
            k: v for k, v in t.items() if v and k not in ("key", "name", "from", "to", "owners", "during")
        }
        rest_owners = {k: v for k, v in owners.items() if v and k != "assignee"}
        if rest_owners:
            extra["owners"] = rest_owners  # roles, agents, teams: to keep their order
        if isinstance(source, list) and len(source) > 1:
            extra["_from"] = source
        rest_during = {k: v for k, v in during.items() if v and k != "note"}
        if rest_during:
            extra["during"] = rest_during
        draft.transitions.append(
            TransitionRow(
                key=t["key"],
                name=t.get("name", ""),
                sources=sources,
                to=refs.get(t.get("to", ""), t.get("to", "")),
                roles=list(owners.get("roles", [])),
                agents=[str(x) for x in owners.get("agents", [])],
                teams=[str(x) for x in owners.get("teams", [])],
                assignee=bool(owners.get("assignee")),
                fields=fields,
                note=during.get("note") or "",
                extra=json.dumps(extra) if extra else "",
            )
        )
    return draft


def starter(department: str = "") -> Draft:
    """A new blueprint: two states and the transition between them, to edit."""
    return Draft(
        department=department,
        states=[
            StateRow(key="", name="", status="open", initial=True),
            StateRow(key="", name="", status="solved", terminal=True),
        ],
        transitions=[TransitionRow(sources=["s0"], to="s1")],
    )


def remove_state(draft: Draft, index: int) -> None:
    """Drop a state row; transitions' references to later rows follow, those to it are cleared."""
    if not 0 <= index < len(draft.states):
        return
    del draft.states[index]

    def moved(ref: str) -> str | None:
        if not (ref.startswith("s") and ref[1:].isdigit()):
            return ref
        n = int(ref[1:])
        return None if n == index else f"s{n - 1}" if n > index else ref

    for t in draft.transitions:
        t.sources = [m for m in (moved(r) for r in t.sources) if m is not None]
        t.to = moved(t.to) or ""

"""The rule editor's visual builder: a rule's condition (nested "all of" / "any of" / "not"
groups of `{field, op, value}` predicates) and its actions (an event rule's list, a time rule's
steps) as form inputs, and back.

The server owns the translation, both ways, so it is tested in Python:

- `from_definition` reads a rule (as the editor's YAML holds it: records by key) into a
  `BuilderForm`; a part the builder has no inputs for (an unknown field, an action shaped in a
  way its inputs cannot say) becomes a raw YAML snippet of its own, and a rule whose overall
  shape the builder cannot hold raises `Unrepresentable` with the reason (the editor then says
  "edit it as YAML"). Whatever it returns writes back to the same rule: `from_definition`
  checks it (`to_definition(from_post(to_post(form)))` is the rule, up to keys that hold their
  default), so the builder never changes a rule the admin did not touch.
- `to_post` gives the inputs' names and values, `from_post` reads them back from a request,
  `apply` makes one structural edit (add, remove, move), and `to_definition` turns the inputs
  into the rule's `when` and `actions` (or `steps`), raising `BuilderInvalid` with the input at
  fault when an input cannot be read (a raw YAML snippet that does not parse).
- `view` prepares what the template draws: for each input its name, id, label, options (records
  by name, picklists by label) and value; operators limited to those the field's type takes.

Names: every input is `b<id>.<part>`; a condition's id is its path from the root group (`bw`,
`bw-0`, `bw-0-2`), an event rule's action `ba-<i>`, a time rule's step `bs-<i>` and its actions
`bs-<i>-a-<j>`. The order of siblings is the order of their numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.automation.models import RuleKind
from sportello.engine.actions import WRITABLE_FIELDS
from sportello.engine.conditions import CHANGE_OPS, OPS_BY_TYPE, FieldSpec, FieldType, Op
from sportello.engine.rules import RulesLoader

from . import rule_text

# --------------------------------------------------------------------------------------------
# YAML as an admin would write it


class RuleDumper(yaml.SafeDumper):
    """YAML as an admin would write it: a predicate `{field, op, value}` and a list of plain
    values on one line, the rest in blocks."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = "field" in data and all(not isinstance(v, dict) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


RuleDumper.add_representer(dict, _represent_dict)
RuleDumper.add_representer(list, _represent_list)


def dump(data: Any) -> str:
    text: str = yaml.dump(data, Dumper=RuleDumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def digest(text: str) -> str:
    """What the builder's inputs were drawn from: the YAML's text, line endings aside (a
    browser posts a textarea with CRLF)."""
    normal = text.replace("\r\n", "\n").strip()
    return hashlib.sha256(normal.encode("utf-8", errors="replace")).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# The form


class Unrepresentable(Exception):
    """The rule's overall shape has no inputs in the builder (the message says what)."""


class BuilderInvalid(Exception):
    def __init__(self, input_id: str, message: str) -> None:
        super().__init__(message)
        self.input_id = input_id
        self.message = message


@dataclass(slots=True)
class Pred:
    """A predicate (`kind="pred"`), or a condition kept as a YAML snippet (`kind="yaml"`)."""

    kind: str = "pred"
    field: str = ""
    op: str = ""
    value: str = ""  # a single value
    values: list[str] = dataclasses.field(default_factory=list)  # the values of in/not_in (and sets' is)
    multi: bool = False
    yaml: str = ""
    was: str = ""  # the field the inputs were drawn for (a new field resets op and value)


@dataclass(slots=True)
class Group:
    join: str = "all"  # all | any | not
    items: list[Pred | Group] = dataclasses.field(default_factory=list)


@dataclass(slots=True)
class Action:
    type: str = "add_tags"  # an action's key, or "yaml" for a snippet
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)
    values: list[str] = dataclasses.field(default_factory=list)  # a `set` of a multi-select field
    was: str = ""  # the type (and, for set/assign, the field/target) the inputs were drawn for


@dataclass(slots=True)
class Step:
    after: str = ""
    actions: list[Action] = dataclasses.field(default_factory=list)


@dataclass(slots=True)
class BuilderForm:
    when: Group = dataclasses.field(default_factory=Group)
    # "group": `when` is a group; "bare": a single predicate (drawn as "all of" it); "none":
    # the rule has no `when`.
    shape: str = "group"
    actions: list[Action] = dataclasses.field(default_factory=list)
    steps: list[Step] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Values as text and back

NO_VALUE_OPS = frozenset({Op.PRESENT, Op.ABSENT, Op.CHANGED, Op.NOT_CHANGED})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
SET_LIST_OPS = frozenset({Op.IS, Op.IS_NOT, Op.CHANGED_TO, Op.CHANGED_FROM})
OP_ORDER = [
    "is",
    "is_not",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "contains_word",
    "starts_with",
    "matches",
    "lt",
    "lte",
    "gt",
    "gte",
    "present",
    "absent",
    "changed",
    "changed_to",
    "changed_from",
    "not_changed",
]
_INT = re.compile(r"[+-]?[0-9]{1,20}")
_DECIMAL = re.compile(r"[+-]?[0-9]{0,20}\.[0-9]{1,20}")
# Fields whose values are records named by key, with a picker.
PICKED_REFS = {"ticket.department": "department", "ticket.team": "team", "ticket.assignee": "agent"}


def is_multi(spec: FieldSpec | None, op: str) -> bool:
    if op in LIST_OPS:
        return True
    return spec is not None and spec.type is FieldType.SET and op in SET_LIST_OPS


def value_text(spec: FieldSpec | None, value: Any) -> str | None:
    """A condition's (or a `set`'s) value as an input's text; None when the input cannot hold it
    (the part is then kept as YAML)."""
    t = spec.type if spec else FieldType.TEXT
    if isinstance(value, bool):
        return ("true" if value else "false") if t is FieldType.BOOLEAN else None
    if t is FieldType.NUMBER or (t is FieldType.REF and (spec is None or spec.path not in PICKED_REFS)):
        return str(value) if isinstance(value, int | float) else None
    if t is FieldType.DATE:
        return value.isoformat() if isinstance(value, date) and not isinstance(value, datetime) else None
    if t is FieldType.DATETIME:
        return value.isoformat() if isinstance(value, datetime) else None
    if t is FieldType.BOOLEAN:
        return None
    return value if isinstance(value, str) else None


def value_of(spec: FieldSpec | None, text: str) -> Any:
    """An input's text as the rule's value (the inverse of `value_text`); text that does not
    read as the field's type is kept as text, for the rule's check to report."""
    t = spec.type if spec else FieldType.TEXT
    raw = text.strip() if t is not FieldType.TEXT else text
    if t is FieldType.BOOLEAN:
        return {"true": True, "false": False}.get(raw, raw)
    if t is FieldType.NUMBER or (t is FieldType.REF and (spec is None or spec.path not in PICKED_REFS)):
        if _INT.fullmatch(raw):
            return int(raw)
        if _DECIMAL.fullmatch(raw):
            return float(raw)
        return raw
    if t is FieldType.DATE:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return raw
    if t is FieldType.DATETIME:
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            return raw
    return raw


# --------------------------------------------------------------------------------------------
# Rule -> form

MAX_GROUP_DEPTH = 10


def _snippet(data: Any) -> str:
    return dump(data).strip()


def _predicate(node: Any, specs: Mapping[str, FieldSpec]) -> Pred:
    keep = Pred(kind="yaml", yaml=_snippet(node))
    if not isinstance(node, dict) or set(node) - {"field", "op", "value"} or "field" not in node:
        return keep
    path, op = node.get("field"), node.get("op")
    spec = specs.get(path) if isinstance(path, str) else None
    if spec is None or not isinstance(op, str) or op not in OPS_BY_TYPE[spec.type]:
        return keep
    pred = Pred(field=path, op=op, was=path)  # type: ignore[arg-type]
    if op in NO_VALUE_OPS:
        return pred if "value" not in node else keep
    if "value" not in node:
        return keep
    value = node["value"]
    if is_multi(spec, op):
        if not isinstance(value, list):
            return keep
        texts = [value_text(spec, v) for v in value]
        if any(t is None or not t.strip() or "\n" in t or "\r" in t for t in texts):
            return keep
        pred.multi, pred.values = True, [t for t in texts if t is not None]
        return pred if _pred_data(pred, specs, "") == node else keep
    text = value_text(spec, value)
    if text is None or "\n" in text or "\r" in text:
        return keep
    pred.value = text
    return pred if _pred_data(pred, specs, "") == node else keep


def _condition(node: Any, specs: Mapping[str, FieldSpec], depth: int) -> Pred | Group:
    if isinstance(node, dict) and len(node) == 1 and depth < MAX_GROUP_DEPTH:
        ((name, inner),) = node.items()
        if name in ("all", "any") and isinstance(inner, list):
            return Group(join=name, items=[_condition(c, specs, depth + 1) for c in inner])
        if name == "not" and isinstance(inner, dict):
            return Group(join="not", items=[_condition(inner, specs, depth + 1)])
    return _predicate(node, specs)


ACTION_TYPES = [
    "set",
    "add_tags",
    "remove_tags",
    "set_tags",
    "assign",
    "note",
    "reply",
    "notify",
    "webhook",
    "apply_macro",
    "escalate_tier",
    "stop",
    "yaml",
]
ACTION_LABELS: dict[str, Promise] = {
    "set": gettext_lazy("Set a field"),
    "add_tags": gettext_lazy("Add tags"),
    "remove_tags": gettext_lazy("Remove tags"),
    "set_tags": gettext_lazy("Replace the tags"),
    "assign": gettext_lazy("Assign"),
    "note": gettext_lazy("Add an internal note"),
    "reply": gettext_lazy("Reply publicly"),
    "notify": gettext_lazy("Send an e-mail"),
    "webhook": gettext_lazy("Call a webhook"),
    "apply_macro": gettext_lazy("Apply a macro"),
    "escalate_tier": gettext_lazy("Escalate to the next tier"),
    "stop": gettext_lazy("Stop: no later rule runs"),
    "yaml": gettext_lazy("Other (written as YAML)"),
}
ASSIGN_TARGETS = ("team", "agent", "department", "policy")
# Optional keys of an action that hold their default when null or empty (the builder leaves
# them out).
_OPTIONAL = {
    "notify": ("template", "subject", "body"),
    "webhook": ("body", "secret_ref"),
    "escalate_tier": ("to",),
}


def normal_action(item: Any) -> Any:
    """An action without its optional keys that hold their default (`template: null`, ...)."""
    if isinstance(item, dict) and len(item) == 1:
        ((name, arg),) = item.items()
        if name in _OPTIONAL and isinstance(arg, dict):
            return {name: {k: v for k, v in arg.items() if not (k in _OPTIONAL[name] and v in (None, ""))}}
    return item


def _tags_text(arg: Any) -> str | None:
    if isinstance(arg, list) and arg and all(isinstance(t, str) and t and "," not in t for t in arg):
        return ", ".join(arg)
    return None


def _text_inputs(
    arg: dict[str, Any], keys: tuple[str, ...], extra: tuple[str, ...] = ()
) -> dict[str, str] | None:
    """An action's text keys as inputs ("" for one left out or null); None when it has other
    keys or a value that is not text."""
    if set(arg) - {*keys, *extra}:
        return None
    texts: dict[str, str] = {}
    for key in keys:
        value = arg.get(key)
        if value is not None and not isinstance(value, str):
            return None
        texts[key] = value or ""
    return texts


def _typed_action(item: Any, specs: Mapping[str, FieldSpec]) -> Action | None:
    if not isinstance(item, dict) or len(item) != 1:
        return None
    ((name, arg),) = item.items()
    if name in ("add_tags", "remove_tags", "set_tags"):
        tags = _tags_text(arg)
        return None if tags is None else Action(type=name, inputs={"tags": tags}, was=name)
    if name == "set" and isinstance(arg, dict) and set(arg) == {"field", "value"}:
        path = arg["field"]
        spec = specs.get(path) if isinstance(path, str) else None
        if spec is None or not (path in WRITABLE_FIELDS or path.startswith("ticket.custom.")):
            return None
        value = arg["value"]
        action = Action(type="set", inputs={"field": path, "value": ""}, was=f"set:{path}")
        if value is None:
            return action
        if spec.type is FieldType.SET:
            if not isinstance(value, list):
                return None
            value_texts = [value_text(spec, v) for v in value]
            if not value or any(t is None for t in value_texts):
                return None
            action.values = [t for t in value_texts if t is not None]
            return action
        text = value_text(spec, value)
        if text is None or text == "":
            return None
        action.inputs["value"] = text
        return action
    if name == "assign" and isinstance(arg, dict) and len(arg) == 1:
        ((target, who),) = arg.items()
        if target in ASSIGN_TARGETS and isinstance(who, str) and who:
            return Action(type="assign", inputs={"target": target, "who": who}, was=f"assign:{target}")
        return None
    if name in ("note", "reply") and isinstance(arg, dict) and set(arg) == {"body"}:
        return (
            Action(type=name, inputs={"body": arg["body"]}, was=name)
            if isinstance(arg["body"], str)
            else None
        )
    if name == "notify" and isinstance(arg, dict) and "to" in arg:
        texts = _text_inputs(arg, ("template", "subject", "body"), extra=("to",))
        joined = _tags_text(arg["to"])
        if texts is None or joined is None:
            return None
        return Action(type="notify", inputs={"to": joined, **texts}, was=name)
    if name == "webhook" and isinstance(arg, dict):
        texts = _text_inputs(arg, ("url", "body", "secret_ref"))
        return None if texts is None else Action(type="webhook", inputs=texts, was=name)
    if name == "apply_macro" and isinstance(arg, str) and arg:
        return Action(type="apply_macro", inputs={"macro": arg}, was=name)
    if name == "escalate_tier" and isinstance(arg, dict):
        texts = _text_inputs(arg, ("reason", "to"))
        return None if texts is None else Action(type="escalate_tier", inputs=texts, was=name)
    if name == "stop" and arg is True:
        return Action(type="stop", was=name)
    return None


# Inputs drawn on one line (the others are text areas).
_TEXT_AREAS = frozenset({"body", "yaml"})


def _action(item: Any, specs: Mapping[str, FieldSpec]) -> Action:
    typed = _typed_action(item, specs)
    if typed is not None and any(
        "\n" in v or "\r" in v for k, v in typed.inputs.items() if k not in _TEXT_AREAS
    ):
        typed = None
    if typed is not None:
        try:
            back = _action_data(typed, specs, "")
        except BuilderInvalid:
            back = None
        if back == normal_action(item):
            return typed
    return Action(type="yaml", inputs={"yaml": _snippet(item)}, was="yaml")


def from_definition(
    kind: RuleKind, definition: Mapping[str, Any], specs: Mapping[str, FieldSpec]
) -> BuilderForm:
    """The builder's form of a rule, or Unrepresentable (why, in words)."""
    form = BuilderForm()
    when = definition.get("when")
    if "when" not in definition:
        form.shape = "none"
    else:
        root = _condition(when, specs, 0)
        if isinstance(root, Group) and root.join != "not":
            form.when = root
        else:
            # A single test (or a `not`) as the whole condition: drawn inside "all of".
            form.shape, form.when = "bare", Group(join="all", items=[root])
    if kind == RuleKind.TIME:
        steps = definition.get("steps")
        if not isinstance(steps, list):
            raise Unrepresentable(_("steps that are not a list"))
        for s in steps:
            if not isinstance(s, dict) or set(s) != {"after", "actions"} or not isinstance(s["after"], str):
                raise Unrepresentable(_("a step that is not “after” and “actions”"))
            if not isinstance(s["actions"], list):
                raise Unrepresentable(_("a step whose actions are not a list"))
            form.steps.append(Step(after=s["after"], actions=[_action(a, specs) for a in s["actions"]]))
    else:
        actions = definition.get("actions")
        if not isinstance(actions, list):
            raise Unrepresentable(_("actions that are not a list"))
        form.actions = [_action(a, specs) for a in actions]
    back = to_definition(kind, from_post(to_post(form)), specs)
    if back != normal_parts(kind, definition):
        raise Unrepresentable(_("values the builder would write differently"))
    return form


def normal_parts(kind: RuleKind, definition: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a rule the builder writes (`when`, and `actions` or `steps`), with the
    optional keys of actions that hold their default left out."""
    parts: dict[str, Any] = {}
    if "when" in definition:
        parts["when"] = definition["when"]
    if kind == RuleKind.TIME:
        steps = definition.get("steps")
        parts["steps"] = [
            {**s, "actions": [normal_action(a) for a in s["actions"]]}
            if isinstance(s, dict) and isinstance(s.get("actions"), list)
            else s
            for s in (steps if isinstance(steps, list) else [])
        ]
    else:
        actions = definition.get("actions")
        parts["actions"] = [normal_action(a) for a in (actions if isinstance(actions, list) else [])]
    return parts


# --------------------------------------------------------------------------------------------
# Form -> rule


def _yaml_snippet(text: str, input_id: str) -> Any:
    try:
        data = yaml.load(text, Loader=RulesLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise BuilderInvalid(
            input_id, _("This YAML does not read: %(error)s") % {"error": str(exc).splitlines()[0]}
        ) from None
    if data is None:
        raise BuilderInvalid(input_id, _("Write this part as YAML, or remove it."))
    return data


def _pred_data(pred: Pred, specs: Mapping[str, FieldSpec], input_id: str) -> Any:
    if pred.kind == "yaml":
        return _yaml_snippet(pred.yaml, f"{input_id}-yaml")
    spec = specs.get(pred.field)
    data: dict[str, Any] = {"field": pred.field, "op": pred.op}
    if pred.op in NO_VALUE_OPS:
        return data
    if pred.multi:
        data["value"] = [value_of(spec, v) for v in pred.values if v.strip()]
    else:
        data["value"] = value_of(spec, pred.value)
    return data


def _group_data(group: Group, specs: Mapping[str, FieldSpec], input_id: str) -> Any:
    items = []
    for i, item in enumerate(group.items):
        child = f"{input_id}-{i}"
        items.append(
            _group_data(item, specs, child) if isinstance(item, Group) else _pred_data(item, specs, child)
        )
    if group.join == "not":
        if len(items) == 1:
            return {"not": items[0]}
        return {"not": {"all": items}}
    return {group.join: items}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _action_data(action: Action, specs: Mapping[str, FieldSpec], input_id: str) -> Any:
    i = action.inputs
    name = action.type
    if name == "yaml":
        return _yaml_snippet(i.get("yaml", ""), f"{input_id}-yaml")
    if name in ("add_tags", "remove_tags", "set_tags"):
        return {name: _split(i.get("tags", ""))}
    if name == "set":
        path = i.get("field", "")
        spec = specs.get(path)
        if spec is not None and spec.type is FieldType.SET:
            values = [value_of(spec, v) for v in action.values if v.strip()]
            return {"set": {"field": path, "value": values or None}}
        raw = i.get("value", "")
        return {"set": {"field": path, "value": value_of(spec, raw) if raw.strip() else None}}
    if name == "assign":
        return {"assign": {i.get("target", "team"): i.get("who", "")}}
    if name in ("note", "reply"):
        return {name: {"body": i.get("body", "")}}
    if name == "notify":
        body: dict[str, Any] = {"to": _split(i.get("to", ""))}
        for key in ("template", "subject", "body"):
            if i.get(key, "").strip():
                body[key] = i[key]
        return {"notify": body}
    if name == "webhook":
        hook: dict[str, Any] = {"url": i.get("url", "").strip()}
        if i.get("body", "").strip():
            hook["body"] = i["body"]
        if i.get("secret_ref", "").strip():
            hook["secret_ref"] = i["secret_ref"].strip()
        return {"webhook": hook}
    if name == "apply_macro":
        return {"apply_macro": i.get("macro", "")}
    if name == "escalate_tier":
        escalate: dict[str, Any] = {"reason": i.get("reason", "")}
        if i.get("to", "").strip():
            escalate["to"] = i["to"].strip()
        return {"escalate_tier": escalate}
    if name == "stop":
        return {"stop": True}
    raise BuilderInvalid(f"{input_id}-type", _("Choose what the action does."))


def to_definition(kind: RuleKind, form: BuilderForm, specs: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The rule's `when` and `actions` (event rules) or `steps` (time rules) the form says;
    BuilderInvalid at the first input that cannot be read."""
    parts: dict[str, Any] = {}
    if not (form.shape == "none" and not form.when.items):
        when = _group_data(form.when, specs, "bw")
        if form.shape == "bare" and len(form.when.items) == 1 and form.when.join == "all":
            when = when["all"][0]
        parts["when"] = when
    if kind == RuleKind.TIME:
        parts["steps"] = [
            {
                "after": s.after.strip(),
                "actions": [_action_data(a, specs, f"bs-{i}-a-{j}") for j, a in enumerate(s.actions)],
            }
            for i, s in enumerate(form.steps)
        ]
    else:
        parts["actions"] = [_action_data(a, specs, f"ba-{i}") for i, a in enumerate(form.actions)]
    return parts


def merge(kind: RuleKind, definition: Mapping[str, Any], parts: Mapping[str, Any]) -> dict[str, Any]:
    """The rule with its condition and actions (or steps) replaced, the other keys kept in
    their place (the new ones after `name`, or at the end)."""
    merged: dict[str, Any] = {}
    for key, value in definition.items():
        if key in ("when", "actions", "steps"):
            if key in parts:
                merged[key] = parts[key]
        else:
            merged[key] = value
    for key in ("when", "steps" if kind == RuleKind.TIME else "actions"):
        if key in parts and key not in merged:
            merged[key] = parts[key]
    return merged


# --------------------------------------------------------------------------------------------
# Form <-> request


def to_post(form: BuilderForm) -> dict[str, list[str]]:
    """The inputs the builder draws for `form`: name -> values, as a browser posts them."""
    out: dict[str, list[str]] = {"bshape": [form.shape]}

    def group(g: Group, gid: str) -> None:
        out[f"{gid}.kind"] = ["group"]
        out[f"{gid}.join"] = [g.join]
        for i, item in enumerate(g.items):
            cid = f"{gid}-{i}"
            if isinstance(item, Group):
                group(item, cid)
            elif item.kind == "yaml":
                out[f"{cid}.kind"] = ["yaml"]
                out[f"{cid}.yaml"] = [item.yaml]
            else:
                out[f"{cid}.kind"] = ["pred"]
                out[f"{cid}.field"] = [item.field]
                out[f"{cid}.was"] = [item.was]
                out[f"{cid}.op"] = [item.op]
                if item.multi:
                    out[f"{cid}.multi"] = ["1"]
                    out[f"{cid}.values"] = list(item.values)
                elif item.op not in NO_VALUE_OPS:
                    out[f"{cid}.value"] = [item.value]

    def action(a: Action, aid: str) -> None:
        out[f"{aid}.type"] = [a.type]
        out[f"{aid}.was"] = [a.was]
        for key, value in a.inputs.items():
            out[f"{aid}.{key}"] = [value]
        if a.values:
            out[f"{aid}.values"] = list(a.values)

    group(form.when, "bw")
    for i, a in enumerate(form.actions):
        action(a, f"ba-{i}")
    for i, s in enumerate(form.steps):
        out[f"bs-{i}.after"] = [s.after]
        for j, a in enumerate(s.actions):
            action(a, f"bs-{i}-a-{j}")
    return out


_NAME = re.compile(r"(b[was](?:-[0-9]{1,4}|-a)*)\.([a-z_]{1,20})")


def _number_key(node_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in node_id.split("-")[1:] if p.isdigit())


def from_post(post: Mapping[str, list[str]] | Any) -> BuilderForm:
    """The builder's form from a request's data (a QueryDict or name -> values)."""
    getlist = post.getlist if hasattr(post, "getlist") else (lambda k: list(post.get(k, [])))
    nodes: dict[str, dict[str, list[str]]] = {}
    for name in post:
        m = _NAME.fullmatch(name)
        # (a part nested deeper than a rule may be is no input of the builder's)
        if m and m.group(1).count("-") <= 2 * MAX_GROUP_DEPTH + 4:
            values = [v.replace("\r\n", "\n") for v in getlist(name)]
            nodes.setdefault(m.group(1), {})[m.group(2)] = values

    def one(node_id: str, part: str) -> str:
        values = nodes.get(node_id, {}).get(part) or [""]
        return values[0]

    def children(parent: str, infix: str = "") -> list[str]:
        pattern = re.compile(re.escape(parent) + re.escape(infix) + r"-([0-9]{1,4})")
        found = [i for i in nodes if pattern.fullmatch(i)]
        return sorted(found, key=_number_key)

    def group(gid: str) -> Group:
        g = Group(join=one(gid, "join") if one(gid, "join") in ("all", "any", "not") else "all")
        for cid in children(gid):
            kind = one(cid, "kind")
            if kind == "group":
                g.items.append(group(cid))
            elif kind == "yaml":
                g.items.append(Pred(kind="yaml", yaml=one(cid, "yaml")))
            else:
                data = nodes[cid]
                g.items.append(
                    Pred(
                        field=one(cid, "field"),
                        op=one(cid, "op"),
                        value=one(cid, "value"),
                        values=[line for v in data.get("values", []) for line in v.splitlines()],
                        multi=one(cid, "multi") == "1",
                        was=one(cid, "was"),
                    )
                )
        return g

    def action(aid: str) -> Action:
        data = nodes[aid]
        return Action(
            type=one(aid, "type"),
            inputs={k: v[0] if v else "" for k, v in data.items() if k not in ("type", "was", "values")},
            values=[line for v in data.get("values", []) for line in v.splitlines()],
            was=one(aid, "was"),
        )

    shape = (getlist("bshape") or ["group"])[0]
    form = BuilderForm(when=group("bw"), shape=shape if shape in ("group", "bare", "none") else "group")
    form.actions = [action(aid) for aid in children("ba")]
    form.steps = [
        Step(after=one(sid, "after"), actions=[action(aid) for aid in children(sid, "-a")])
        for sid in children("bs")
    ]
    return form


def present(post: Any) -> bool:
    """Whether a request carries the builder's inputs."""
    return "bshape" in post and "bdigest" in post


# --------------------------------------------------------------------------------------------
# Edits


def _reset(form: BuilderForm, specs: Mapping[str, FieldSpec], kind: RuleKind) -> None:
    """Inputs drawn for another field (or action) start again: a new field gets its first
    operator and an empty value, a new action type its own empty inputs."""

    def walk(g: Group) -> None:
        for item in g.items:
            if isinstance(item, Group):
                walk(item)
            elif item.kind == "pred":
                spec = specs.get(item.field)
                ops = operators(spec, kind)
                if item.field != item.was:
                    item.value, item.values = "", []
                    if item.op not in ops:
                        item.op = ops[0] if ops else ""
                    item.was = item.field
                multi = is_multi(spec, item.op)
                if multi and not item.multi:
                    item.values = [item.value] if item.value.strip() else []
                elif item.multi and not multi:
                    item.value = item.values[0] if item.values else ""
                item.multi = multi

    def action(a: Action) -> None:
        key = a.type
        if a.type == "set":
            key = f"set:{a.inputs.get('field', '')}"
        elif a.type == "assign":
            key = f"assign:{a.inputs.get('target', '')}"
        if key == a.was:
            return
        if a.type != a.was.partition(":")[0]:
            a.inputs = {}
            a.values = []
            if a.type == "set":
                a.inputs = {"field": "ticket.priority", "value": ""}
            elif a.type == "assign":
                a.inputs = {"target": "team", "who": ""}
        elif a.type == "set":
            a.inputs["value"], a.values = "", []
        elif a.type == "assign":
            a.inputs["who"] = ""
        a.was = (
            f"{a.type}:{a.inputs['field']}"
            if a.type == "set"
            else (f"assign:{a.inputs['target']}" if a.type == "assign" else a.type)
        )

    walk(form.when)
    for a in form.actions:
        action(a)
    for s in form.steps:
        for a in s.actions:
            action(a)


def _find_group(form: BuilderForm, gid: str) -> Group | None:
    if gid == "bw":
        return form.when
    parent = _find_group(form, gid.rpartition("-")[0]) if "-" in gid else None
    index = _number_key(gid)[-1] if _number_key(gid) else -1
    if parent is None or not 0 <= index < len(parent.items):
        return None
    found = parent.items[index]
    return found if isinstance(found, Group) else None


def _action_list(form: BuilderForm, list_id: str) -> list[Action] | None:
    if list_id == "ba":
        return form.actions
    m = re.fullmatch(r"bs-([0-9]{1,4})-a", list_id)
    if m and int(m.group(1)) < len(form.steps):
        return form.steps[int(m.group(1))].actions
    return None


def _move(items: list[Any], index: int, delta: int) -> int:
    target = index + delta
    if 0 <= index < len(items) and 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
        return target
    return index


def apply(form: BuilderForm, op: str, specs: Mapping[str, FieldSpec], kind: RuleKind) -> str | None:
    """One edit (`add-pred:bw-0`, `add-group:bw`, `add-action:ba`, `add-step`, `remove:<id>`,
    `up:<id>`, `down:<id>`) made on `form`; returns the id of the input to focus after it."""
    _reset(form, specs, kind)
    verb, _sep, target = op.partition(":")
    if verb in ("add-pred", "add-group"):
        group = _find_group(form, target)
        if group is None:
            return None
        if verb == "add-pred":
            default = "ticket.subject"
            ops = operators(specs.get(default), kind)
            group.items.append(
                Pred(field=default, op="contains" if "contains" in ops else ops[0], was=default)
            )
            return f"{target}-{len(group.items) - 1}-field"
        inner = Pred(field="ticket.subject", op="contains", was="ticket.subject")
        group.items.append(Group(join="any", items=[inner]))
        return f"{target}-{len(group.items) - 1}-join"
    if verb == "add-action":
        actions = _action_list(form, target)
        if actions is None:
            return None
        actions.append(Action(type="add_tags", inputs={"tags": ""}, was="add_tags"))
        return f"{target}-{len(actions) - 1}-type"
    if verb == "add-step":
        form.steps.append(
            Step(after="24h", actions=[Action(type="add_tags", inputs={"tags": ""}, was="add_tags")])
        )
        return f"bs-{len(form.steps) - 1}-after"
    if verb not in ("remove", "up", "down") or "-" not in target:
        return None
    parent_id, _sep, last = target.rpartition("-")
    if not last.isdigit():
        return None
    index = int(last)
    group = _find_group(form, parent_id) if parent_id.startswith("bw") else None
    items: list[Any] | None
    if group is not None:
        items = group.items
    elif parent_id == "bs":
        items = form.steps
    else:
        items = _action_list(form, parent_id)
    if items is None or not 0 <= index < len(items):
        return None
    if verb == "remove":
        del items[index]
        if parent_id.startswith("bw"):
            return f"{parent_id}-add-pred"
        if parent_id == "bs":
            return "bs-add"
        return f"{parent_id}-add"
    moved = _move(items, index, -1 if verb == "up" else 1)
    first, last_index = moved == 0, moved == len(items) - 1
    button = (
        verb
        if not ((verb == "up" and first) or (verb == "down" and last_index))
        else ("down" if verb == "up" else "up")
    )
    return f"{parent_id}-{moved}-{button}"


# --------------------------------------------------------------------------------------------
# What the template draws


def operators(spec: FieldSpec | None, kind: RuleKind) -> list[str]:
    if spec is None:
        return []
    valid = OPS_BY_TYPE[spec.type]
    if kind == RuleKind.TIME:
        valid = valid - CHANGE_OPS
    return [op for op in OP_ORDER if op in valid]


@dataclass(frozen=True, slots=True)
class Choices:
    """What the pickers offer, read from the desk once per drawing: key -> label, in order."""

    departments: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    teams: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    agents: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    statuses: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    macros: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    policies: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    secrets: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    custom: dict[str, tuple[str, list[tuple[str, str]]]] = dataclasses.field(
        default_factory=dict
    )  # key -> (label, options)
    agent_names: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # e-mail -> name

    def names(self) -> rule_text.Names:
        """The labels "In words" shows for the keys a rule holds."""
        by_path = {
            "ticket.department": dict(self.departments),
            "ticket.team": dict(self.teams),
            "ticket.assignee": dict(self.agent_names),
            "ticket.status": dict(self.statuses),
            "macro": dict(self.macros),
            "policy": dict(self.policies),
        }
        fields: dict[str, str] = {}
        for key, (label, options) in self.custom.items():
            by_path[f"ticket.custom.{key}"] = dict(options)
            fields[f"ticket.custom.{key}"] = label
        return rule_text.Names(by_path=by_path, fields=fields)


def load_choices() -> Choices:
    from sportello.accounts.models import Department, Role, Team, User
    from sportello.automation.models import AssignmentPolicy, Macro
    from sportello.outbox.models import WebhookSecret
    from sportello.tickets.models import CustomField, Status
    from sportello.web import labels

    custom: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for key, label, options in (
        CustomField.objects.filter(is_active=True)
        .order_by("position", "id")
        .values_list("key", "label", "options")
    ):
        pairs = [
            (str(o.get("value")), str(o.get("label") or o.get("value")))
            for o in options or []
            if isinstance(o, dict)
        ]
        custom[key] = (label, pairs)
    agents = list(
        User.objects.filter(role__in=[Role.AGENT, Role.ADMIN])
        .order_by("name", "email")
        .values_list("email", "name")
    )
    return Choices(
        departments=list(Department.objects.order_by("name").values_list("slug", "name")),
        teams=list(Team.objects.order_by("name").values_list("slug", "name")),
        agents=[(email, f"{name} ({email})" if name else email) for email, name in agents],
        agent_names=[(email, name or email) for email, name in agents],
        statuses=[
            (key, labels.status_label(key, name))
            for key, name in Status.objects.order_by("position", "id").values_list("key", "name")
        ],
        macros=list(Macro.objects.order_by("name").values_list("key", "name")),
        policies=list(AssignmentPolicy.objects.order_by("name").values_list("key", "name")),
        secrets=[(n, n) for n in WebhookSecret.objects.order_by("name").values_list("name", flat=True)],
        custom=custom,
    )


FIELD_GROUPS: list[tuple[str, Promise]] = [
    ("ticket", gettext_lazy("Ticket")),
    ("custom", gettext_lazy("Custom fields")),
    ("requester", gettext_lazy("Requester")),
    ("organization", gettext_lazy("Organization")),
    ("message", gettext_lazy("The message of the change")),
    ("event", gettext_lazy("The change")),
    ("clock", gettext_lazy("Time")),
]


def _group_of(path: str) -> str:
    if path.startswith("ticket.custom."):
        return "custom"
    return path.partition(".")[0]


def field_label(path: str, choices: Choices) -> str:
    if path.startswith("ticket.custom."):
        key = path.removeprefix("ticket.custom.")
        if key in choices.custom:
            return choices.custom[key][0]
    return rule_text.field_label(path)


def value_options(path: str, spec: FieldSpec | None, choices: Choices) -> list[tuple[str, str]] | None:
    """The values a picker offers for the field (value, label), or None for a typed input."""
    from sportello.web import labels

    if spec is None:
        return None
    if spec.type is FieldType.BOOLEAN:
        return [("true", _("yes")), ("false", _("no"))]
    if path == "ticket.status":
        return choices.statuses
    if path == "ticket.status_category":
        return [(k, str(v)) for k, v in labels.CATEGORY_LABELS.items()]
    if path == "ticket.priority":
        return [(k, str(v)) for k, v in labels.PRIORITY_LABELS.items()]
    if path in ("ticket.channel", "message.channel"):
        return [
            (k, str(v)) for k, v in labels.CHANNEL_LABELS.items() if spec.choices is None or k in spec.choices
        ]
    if path == "ticket.department":
        return choices.departments
    if path == "ticket.team":
        return choices.teams
    if path == "ticket.assignee":
        return choices.agents
    if path == "ticket.satisfaction":
        from sportello.surveys.models import Satisfaction

        return [(k, str(v)) for k, v in Satisfaction.choices]
    if path.startswith("ticket.custom.") and spec.type in (FieldType.CHOICE, FieldType.SET):
        options = choices.custom.get(path.removeprefix("ticket.custom."), ("", []))[1]
        return options or None
    if spec.choices:
        return [(c, c) for c in spec.choices]
    return None


@dataclass(slots=True)
class Widget:
    """One value input: `kind` is select, multiselect, lines, text, number, date, datetime."""

    kind: str
    name: str
    id: str
    value: str = ""
    values: list[str] = dataclasses.field(default_factory=list)
    options: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    blank: str = ""  # a select's empty option (its label), when it has one


def _with_current(options: list[tuple[str, str]], current: list[str]) -> list[tuple[str, str]]:
    """The options, and each current value they lack (kept, marked as unknown here)."""
    known = {v for v, _label in options}
    extra = [(v, _("%(value)s (not in this desk)") % {"value": v}) for v in current if v and v not in known]
    return [*options, *extra]


def widget(
    node_id: str,
    path: str,
    spec: FieldSpec | None,
    op: str,
    value: str,
    values: list[str],
    multi: bool,
    choices: Choices,
) -> Widget | None:
    if op in NO_VALUE_OPS:
        return None
    options = value_options(path, spec, choices)
    t = spec.type if spec else FieldType.TEXT
    if multi:
        if options is not None:
            return Widget(
                "multiselect",
                f"{node_id}.values",
                f"{node_id}-values",
                values=values,
                options=_with_current(options, values),
            )
        return Widget("lines", f"{node_id}.values", f"{node_id}-values", values=values)
    if options is not None and t is not FieldType.SET:
        return Widget(
            "select",
            f"{node_id}.value",
            f"{node_id}-value",
            value=value,
            options=_with_current(options, [value]),
            blank=_("Choose…"),
        )
    kind = "text"
    if t is FieldType.NUMBER or (t is FieldType.REF and path not in PICKED_REFS):
        kind = "number"
    elif t is FieldType.DATE:
        kind = "date"
    elif t is FieldType.DATETIME:
        kind = "datetime"
    return Widget(kind, f"{node_id}.value", f"{node_id}-value", value=value)


@dataclass(slots=True)
class PredView:
    id: str
    kind: str
    field: str
    op: str
    yaml: str
    fields: list[tuple[str, list[tuple[str, str]]]]
    ops: list[tuple[str, str]]
    value: Widget | None
    multi: bool
    first: bool
    last: bool
    error: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclass(slots=True)
class GroupView:
    id: str
    join: str
    items: list[PredView | GroupView]
    depth: int
    first: bool = True
    last: bool = True
    root: bool = False
    is_group: bool = True
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclass(slots=True)
class ActionView:
    id: str
    type: str
    types: list[tuple[str, str]]
    inputs: dict[str, str]
    first: bool
    last: bool
    set_fields: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    value: Widget | None = None
    targets: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    who: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    macros: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    secrets: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    error: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclass(slots=True)
class StepView:
    id: str
    after: str
    actions: list[ActionView]
    first: bool
    last: bool
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclass(slots=True)
class BuilderView:
    kind: str
    shape: str
    digest: str
    when: GroupView
    actions: list[ActionView]
    steps: list[StepView]
    focus: str | None = None
    error: str = ""
    error_input: str = ""
    placeholder_help: str = ""
    meta: list[MetaInput] = dataclasses.field(default_factory=list)


TARGET_LABELS: dict[str, Promise] = {
    "team": gettext_lazy("Team"),
    "agent": gettext_lazy("Agent"),
    "department": gettext_lazy("Department"),
    "policy": gettext_lazy("Round-robin policy"),
}


def _with_op(ops: list[str], current: str) -> list[str]:
    return ops if current in ops or not current else [*ops, current]


def _field_options(
    kind: RuleKind, specs: Mapping[str, FieldSpec], choices: Choices, current: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for path, spec in specs.items():
        if kind == RuleKind.TIME and spec.event_only and path != current:
            continue
        grouped.setdefault(_group_of(path), []).append((path, field_label(path, choices)))
    return [(str(label), grouped[key]) for key, label in FIELD_GROUPS if key in grouped]


def view(
    kind: RuleKind,
    form: BuilderForm,
    specs: Mapping[str, FieldSpec],
    choices: Choices,
    *,
    text: str,
    focus: str | None = None,
    error: BuilderInvalid | None = None,
) -> BuilderView:
    """What the template draws for `form` (after `apply`, or fresh from a rule)."""
    _reset(form, specs, kind)
    field_cache: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}

    def fields_for(current: str) -> list[tuple[str, list[tuple[str, str]]]]:
        if current not in field_cache:
            field_cache[current] = _field_options(kind, specs, choices, current)
        return field_cache[current]

    def group(g: Group, gid: str, depth: int) -> GroupView:
        items: list[PredView | GroupView] = []
        for i, item in enumerate(g.items):
            cid = f"{gid}-{i}"
            first, last = i == 0, i == len(g.items) - 1
            if isinstance(item, Group):
                sub = group(item, cid, depth + 1)
                sub.first, sub.last = first, last
                items.append(sub)
                continue
            spec = specs.get(item.field)
            ops = operators(spec, kind)
            items.append(
                PredView(
                    id=cid,
                    kind=item.kind,
                    field=item.field,
                    op=item.op,
                    yaml=item.yaml,
                    fields=fields_for(item.field),
                    ops=[(op, str(rule_text.OP_LABELS.get(op, op))) for op in _with_op(ops, item.op)],
                    value=widget(cid, item.field, spec, item.op, item.value, item.values, item.multi, choices)
                    if item.kind == "pred"
                    else None,
                    multi=item.multi,
                    first=first,
                    last=last,
                )
            )
        return GroupView(id=gid, join=g.join, items=items, depth=depth)

    set_fields = [
        (path, field_label(path, choices))
        for path in specs
        if path in WRITABLE_FIELDS or path.startswith("ticket.custom.")
    ]
    types = [(t, str(ACTION_LABELS[t])) for t in ACTION_TYPES]

    def action(a: Action, aid: str, first: bool, last: bool) -> ActionView:
        av = ActionView(id=aid, type=a.type, types=types, inputs=dict(a.inputs), first=first, last=last)
        if a.type == "set":
            path = a.inputs.get("field", "")
            spec = specs.get(path)
            av.set_fields = _with_current(set_fields, [path])
            multi = spec is not None and spec.type is FieldType.SET
            av.value = widget(aid, path, spec, "is", a.inputs.get("value", ""), a.values, multi, choices)
            if av.value is not None and av.value.kind == "select":
                av.value.blank = _("Nothing (clear it)") if WRITABLE_FIELDS.get(path, True) else _("Choose…")
        elif a.type == "assign":
            av.targets = [(t, str(TARGET_LABELS[t])) for t in ASSIGN_TARGETS]
            target = a.inputs.get("target", "team")
            pick = {
                "team": choices.teams,
                "agent": choices.agents,
                "department": choices.departments,
                "policy": choices.policies,
            }.get(target, [])
            av.who = _with_current(pick, [a.inputs.get("who", "")])
        elif a.type == "apply_macro":
            av.macros = _with_current(choices.macros, [a.inputs.get("macro", "")])
        elif a.type == "webhook":
            av.secrets = _with_current(choices.secrets, [a.inputs.get("secret_ref", "")])
        if error is not None and error.input_id.startswith(f"{aid}-"):
            av.error = error.message
        return av

    when = group(form.when, "bw", 0)
    when.root = True
    built = BuilderView(
        kind=kind.value,
        shape=form.shape,
        digest=digest(text),
        when=when,
        actions=[
            action(a, f"ba-{i}", i == 0, i == len(form.actions) - 1) for i, a in enumerate(form.actions)
        ],
        steps=[
            StepView(
                id=f"bs-{i}",
                after=s.after,
                actions=[
                    action(a, f"bs-{i}-a-{j}", j == 0, j == len(s.actions) - 1)
                    for j, a in enumerate(s.actions)
                ],
                first=i == 0,
                last=i == len(form.steps) - 1,
            )
            for i, s in enumerate(form.steps)
        ],
        focus=focus,
        placeholder_help=_("Placeholders such as %(example)s are filled in.")
        % {"example": "{{ ticket.subject }}"},
    )
    if error is not None:
        built.error, built.error_input = error.message, error.input_id
        _mark_pred_error(built.when, error)
    return built


def _mark_pred_error(group: GroupView, error: BuilderInvalid) -> None:
    for item in group.items:
        if isinstance(item, GroupView):
            _mark_pred_error(item, error)
        elif error.input_id.startswith(f"{item.id}-"):
            item.error = error.message


# --------------------------------------------------------------------------------------------
# The rule's own keys: its name, key (a new rule's only), category or anchor, and whether it runs

META_KEYS: dict[RuleKind, tuple[str, ...]] = {
    RuleKind.EVENT: ("key", "name", "category", "active"),
    RuleKind.TIME: ("key", "name", "anchor", "active"),
}
META_DEFAULTS: dict[str, Any] = {"category": "default", "active": True}
# Where a key the rule does not have yet goes: before the first of these.
_META_BEFORE = ("anchor", "when", "on", "actions", "steps")


@dataclass(slots=True)
class MetaInput:
    """One input for a key of the rule itself (`bm.<key>`): a text input, or a select."""

    key: str
    label: str
    value: str
    help: str = ""
    options: list[tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        return f"bm.{self.key}"

    @property
    def id(self) -> str:
        return f"bm-{self.key}"


def is_new(post: Any) -> bool:
    """Whether a request is about a rule not saved yet (its editor posts version 0)."""
    return str(post.get("version") or "0") == "0"


def _meta_text(key: str, definition: Mapping[str, Any]) -> str | None:
    """The input's text for a key of the rule, or None when an input cannot hold its value
    (the key is then left to the YAML)."""
    value = definition.get(key, META_DEFAULTS.get(key, ""))
    if key == "active":
        return ("true" if value else "false") if isinstance(value, bool) else None
    return value if isinstance(value, str) and "\n" not in value else None


def meta_inputs(
    kind: RuleKind, definition: Mapping[str, Any], choices: Choices, *, new: bool
) -> list[MetaInput]:
    found: list[MetaInput] = []
    for key in META_KEYS[kind]:
        text = _meta_text(key, definition)
        if text is None or (key == "key" and not new):
            continue
        if key == "name":
            found.append(
                MetaInput(key, _("Name"), text, _("Shown in the rules list and in the ticket's history."))
            )
        elif key == "key":
            found.append(
                MetaInput(
                    key,
                    _("Key"),
                    text,
                    _("Lowercase letters, digits and dashes; it cannot change once saved."),
                )
            )
        elif key == "category":
            found.append(
                MetaInput(
                    key, _("Category"), text, _("Event rules run category by category, in the run order.")
                )
            )
        elif key == "anchor":
            options = [(k, str(v)) for k, v in rule_text.ANCHOR_LABELS.items()] + [
                (f"status_entered:{k}", _("the ticket entered %(status)s") % {"status": label})
                for k, label in choices.statuses
            ]
            if text not in {v for v, _label in options}:
                options.append((text, text))
            found.append(MetaInput(key, _("Counting from"), text, options=options))
        elif key == "active":
            found.append(
                MetaInput(
                    key,
                    _("Runs"),
                    text,
                    options=[
                        ("true", _("Yes, the rule is enabled")),
                        ("false", _("No, the rule is disabled")),
                    ],
                )
            )
    return found


def meta_changes(kind: RuleKind, definition: Mapping[str, Any], post: Any, *, new: bool) -> dict[str, Any]:
    """The rule's own keys the builder's inputs change: key -> new value (None: left out, as
    it holds its default or is empty). Keys whose inputs were not posted, or still say what
    the rule says, are not changed; nor is a saved rule's key."""
    changes: dict[str, Any] = {}
    for key in META_KEYS[kind]:
        name = f"bm.{key}"
        if name not in post or (key == "key" and not new):
            continue
        text = _meta_text(key, definition)
        posted = str(post.get(name) or "").strip()
        if text is None or posted == text:
            continue
        value: Any = {"true": True, "false": False}.get(posted, posted) if key == "active" else posted
        if value == "" or (key in META_DEFAULTS and value == META_DEFAULTS[key]):
            value = None
        changes[key] = value
    return changes


def with_meta(definition: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The rule with its own keys changed: a key keeps its place, a new one goes before the
    condition (or the anchor), a key set to None is left out."""
    added = {k: v for k, v in changes.items() if v is not None and k not in definition}
    merged: dict[str, Any] = {}
    for key, value in definition.items():
        if added and key in _META_BEFORE:
            merged.update(added)
            added = {}
        if key in changes:
            if changes[key] is not None:
                merged[key] = changes[key]
        else:
            merged[key] = value
    merged.update(added)
    return merged


# --------------------------------------------------------------------------------------------
# The editor's side: drawing the builder from the YAML, and the text a request means


@dataclass(slots=True)
class Drawn:
    """The builder as the editor shows it, or the note saying why the rule stays in YAML."""

    view: BuilderView | None = None
    note: str = ""


def _definition(text: str) -> dict[str, Any] | None:
    from sportello.automation import services
    from sportello.core.errors import BadRequest, ValidationFailed

    try:
        data = services.load_rules_text(text)
    except (ValidationFailed, BadRequest):
        return None
    if not isinstance(data, dict):
        return None
    data.pop("kind", None)
    return data


def field_specs() -> dict[str, FieldSpec]:
    from sportello.automation import facts

    return facts.field_specs()


def draw(
    kind: RuleKind, text: str, *, note: str = "", choices: Choices | None = None, new: bool = False
) -> Drawn:
    """The builder drawn from the YAML `text` (records by key), or why it cannot be."""
    definition = _definition(text)
    if definition is None:
        return Drawn(
            note=_("The YAML does not read as a rule yet: fix it (“Check” says where) to use the builder.")
        )
    specs = field_specs()
    try:
        form = from_definition(kind, definition, specs)
    except Unrepresentable as exc:
        return Drawn(
            note=_("This rule uses %(what)s, which the builder cannot show: edit it as YAML.") % {"what": exc}
        )
    choices = choices or load_choices()
    built = view(kind, form, specs, choices, text=text)
    built.meta = meta_inputs(kind, definition, choices, new=new)
    drawn = Drawn(view=built)
    drawn.note = note
    return drawn


@dataclass(slots=True)
class Edited:
    """A builder edit: the form redrawn, and the rule's new YAML (None when unchanged or when
    an input cannot be read)."""

    drawn: Drawn
    text: str | None = None


def edit(kind: RuleKind, post: Any, op: str, choices: Choices | None = None) -> Edited:
    """Apply the builder's inputs (and the edit `op`) to the YAML they were drawn from. When the
    YAML changed since (typed into), the builder is drawn again from it instead."""
    text = post.get("yaml", "")
    if op == "from-yaml" or not present(post):
        return Edited(draw(kind, text, choices=choices, new=is_new(post)))
    definition = _definition(text)
    if post.get("bdigest") != digest(text) or definition is None:
        return Edited(
            draw(
                kind,
                text,
                note=_("The YAML was edited: the builder now shows it. Make your change again."),
                choices=choices,
                new=is_new(post),
            )
        )
    specs = field_specs()
    choices = choices or load_choices()
    form = from_post(post)
    focus = apply(form, op, specs, kind)
    new = is_new(post)
    edited = with_meta(definition, meta_changes(kind, definition, post, new=new))
    try:
        parts = to_definition(kind, form, specs)
    except BuilderInvalid as exc:
        built = view(kind, form, specs, choices, text=text, focus=exc.input_id, error=exc)
        built.meta = meta_inputs(kind, edited, choices, new=new)
        return Edited(Drawn(view=built))
    merged = merge(kind, edited, parts)
    new_text = dump(merged)
    built = view(kind, form, specs, choices, text=new_text, focus=focus)
    built.meta = meta_inputs(kind, merged, choices, new=new)
    return Edited(Drawn(view=built), new_text)


def resolve(kind: RuleKind, post: Any) -> str:
    """The YAML a save, check or dry run means: the posted YAML, or, when the builder's inputs
    were changed after it was drawn from that YAML (a change not yet written into it), the YAML
    with the builder's condition and actions."""
    text: str = post.get("yaml", "")
    if not present(post) or post.get("bdigest") != digest(text):
        return text
    definition = _definition(text)
    if definition is None:
        return text
    specs = field_specs()
    form = from_post(post)
    apply(form, "", specs, kind)
    try:
        parts = to_definition(kind, form, specs)
    except BuilderInvalid:
        return text
    changes = meta_changes(kind, definition, post, new=is_new(post))
    if parts == normal_parts(kind, definition) and not changes:
        return text
    return dump(merge(kind, with_meta(definition, changes), parts))


# --------------------------------------------------------------------------------------------
# Errors and warnings beside the part they are about

_GROUP_STEP = re.compile(r"\.(all|any)\[([0-9]+)\]|\.not")
_ACTION_PATH = re.compile(r"(actions|steps)\[([0-9]+)\](?:\.actions\[([0-9]+)\])?")


def builder_id(path: str, shape: str) -> str | None:
    """The builder's id of the part a rule path is about (`when.all[1].any[0].value` ->
    `bw-1-0`, `actions[2]` -> `ba-2`, `steps[0].actions[1]` -> `bs-0-a-1`), or None."""
    m = _ACTION_PATH.match(path)
    if m:
        if m.group(1) == "actions":
            return f"ba-{m.group(2)}"
        return f"bs-{m.group(2)}-a-{m.group(3)}" if m.group(3) is not None else f"bs-{m.group(2)}"
    if path != "when" and not path.startswith("when."):
        return None
    node = "bw-0" if shape == "bare" else "bw"
    for step in _GROUP_STEP.finditer(path[4:]):
        node = f"{node}-0" if step.group(0) == ".not" else f"{node}-{step.group(2)}"
    return node


def annotate(drawn: Drawn, notes: list[tuple[str, str]]) -> None:
    """Show each (path, message) beside the part of the builder it is about (the nearest part
    drawn, when the path goes deeper than the builder's ids)."""
    built = drawn.view
    if built is None:
        return
    parts: dict[str, Any] = {}

    def walk(group: GroupView) -> None:
        parts[group.id] = group
        for item in group.items:
            if isinstance(item, GroupView):
                walk(item)
            else:
                parts[item.id] = item

    walk(built.when)
    for a in built.actions:
        parts[a.id] = a
    for s in built.steps:
        parts[s.id] = s
        for a in s.actions:
            parts[a.id] = a
    for path, message in notes:
        node = builder_id(path or "", built.shape)
        while node is not None and node not in parts:
            node = node.rpartition("-")[0] if "-" in node else None
        if node is not None:
            parts[node].notes.append(message)

"""Actions of rules and macros as data: frozen dataclasses parsed from (and dumped back to) the
plain dicts of the rules document.

Data shapes, one key per action:

    {"set": {"field": "ticket.priority", "value": "high"}}      # a writable standard or custom field
    {"add_tags": ["vip"]} · {"remove_tags": ["spam"]} · {"set_tags": ["a", "b"]}
    {"assign": {"agent": 12}} · {"assign": {"team": 3}} · {"assign": {"department": 2}}
    {"assign": {"policy": 5}}                                     # through a round-robin policy
    {"note": {"body": "Escalated: {{ ticket.subject }}"}}         # internal note, with placeholders
    {"reply": {"body": "Hello {{ requester.name }}, ..."}}        # public message, with placeholders
    {"notify": {"template": "team_assigned", "subject": "...", "body": "...",
                "to": ["requester", "assignee", "team", "department", "agent:12", "address:x@y.z"]}}
    {"webhook": {"url": "https://hooks.example.com/x", "body": "...", "secret_ref": "pager"}}
    {"apply_macro": 7}
    {"stop": true}

The parser checks what the engine can know: value types (through the field specs), ids are
positive integers, addresses look like e-mail addresses, URLs are http(s) without credentials,
templates are well formed. Whether an id exists is checked by the caller against the database.
`actions_to_data` is the exact inverse of `parse_actions` on what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from sportello.engine.conditions import FieldSpec, FieldType
from sportello.engine.placeholders import check_template
from sportello.engine.schema import RuleSchemaError, at, mapping
from sportello.engine.text import BIDI_CONTROLS

ACTIONS_MAX = 50
TAG_MAX_LENGTH = 80  # as the ticket pipeline stores them
SUBJECT_MAX_LENGTH = 250  # a ticket's subject, as the ticket pipeline stores it
TAGS_MAX = 100
TEXT_MAX = 1_000
BODY_MAX = 50_000
URL_MAX = 2_000
RECIPIENTS_MAX = 50

# Standard ticket fields a `set` action may write, and whether it may clear them (value null).
WRITABLE_FIELDS: dict[str, bool] = {
    "ticket.subject": False,
    "ticket.status": False,
    "ticket.priority": False,
    "ticket.department": True,
    "ticket.team": True,
    "ticket.assignee": True,
    "ticket.due_at": True,
}
CUSTOM_PREFIX = "ticket.custom."
ASSIGN_TARGETS = ("agent", "team", "department", "policy")
# `assign` to an agent, team or department writes these fields.
ASSIGN_FIELDS = {"agent": "ticket.assignee", "team": "ticket.team", "department": "ticket.department"}
RECIPIENT_KINDS = frozenset({"requester", "assignee", "team", "department"})

_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+")
_REF_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class SetField:
    field: str
    value: Any  # coerced to the field's type (see `coerce_value`); None clears


@dataclass(frozen=True, slots=True)
class AddTags:
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveTags:
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetTags:
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assign:
    target: str  # agent | team | department | policy
    id: int


@dataclass(frozen=True, slots=True)
class AddNote:
    body: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A public message to the requester (macros: the agent's reply)."""

    body: str


@dataclass(frozen=True, slots=True)
class Notify:
    template: str | None
    subject: str
    body: str
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    body: str
    secret_ref: str | None


@dataclass(frozen=True, slots=True)
class ApplyMacro:
    macro: int


@dataclass(frozen=True, slots=True)
class EscalateTier:
    """Move the ticket up its department's tier path (to the next tier, or to `to`), with the
    reason recorded."""

    reason: str
    to: str | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Action = (
    SetField
    | AddTags
    | RemoveTags
    | SetTags
    | Assign
    | AddNote
    | Reply
    | Notify
    | Webhook
    | ApplyMacro
    | EscalateTier
    | Stop
)

# Actions that change ticket fields in the working facts; all others are side effects the caller
# queues (note, reply, notify, webhook, round-robin assignment, macro) or control flow (stop).
FIELD_ACTIONS = (SetField, AddTags, RemoveTags, SetTags)


# Parsing helpers shared by the document parsers (`engine.schema`).
_mapping = mapping


def is_field_action(action: Action) -> bool:
    """True when the action writes ticket fields directly (an `assign` to a policy does not)."""
    if isinstance(action, Assign):
        return action.target != "policy"
    return isinstance(action, FIELD_ACTIONS)


def action_name(action: Action) -> str:
    """The key of the action in data: `set`, `add_tags`, ..., `stop`."""
    return _NAMES[type(action)]


# -- parsing -------------------------------------------------------------------------------


def parse_actions(
    data: object, *, specs: Mapping[str, FieldSpec], path: str = "actions"
) -> tuple[Action, ...]:
    """Parse a list of action dicts; raise RuleSchemaError at the path of the first bad part."""
    if not isinstance(data, list):
        raise RuleSchemaError(path, "must be a list of actions")
    if len(data) > ACTIONS_MAX:
        raise RuleSchemaError(path, f"at most {ACTIONS_MAX} actions")
    return tuple(parse_action(item, specs=specs, path=at(path, i)) for i, item in enumerate(data))


def parse_action(data: object, *, specs: Mapping[str, FieldSpec], path: str) -> Action:
    if not isinstance(data, dict) or len(data) != 1:
        raise RuleSchemaError(path, f"must be a mapping with exactly one of: {', '.join(_PARSERS)}")
    ((name, body),) = data.items()
    parser = _PARSERS.get(name) if isinstance(name, str) else None
    if parser is None:
        raise RuleSchemaError(
            path, f"unknown action {str(name)[:40]!r}; expected one of: {', '.join(_PARSERS)}"
        )
    return parser(body, specs, at(path, name))


def positive_id(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value > 2**63 - 1:
        raise RuleSchemaError(path, "must be a positive integer id")
    return value


def _text(value: object, path: str, limit: int, *, template: bool = False, single_line: bool = False) -> str:
    if not isinstance(value, str):
        raise RuleSchemaError(path, "must be a string")
    if len(value) > limit:
        raise RuleSchemaError(path, f"must be at most {limit} characters")
    if "\x00" in value:
        raise RuleSchemaError(path, "must not contain NUL characters")
    if single_line and ("\n" in value or "\r" in value):
        raise RuleSchemaError(path, "must be one line")
    if template:
        check_template(value, path=path)
    return value


# What a tag drops, as the pipeline does (`core.text.label_text`): C0/C1 controls that are not
# whitespace, and bidirectional embeddings, overrides and isolates.
_TAG_DROP = {ord(c): None for c in BIDI_CONTROLS} | {
    c: None for c in (*range(32), 0x7F, *range(0x80, 0xA0)) if not chr(c).isspace()
}


def normalise_tag(raw: object, path: str) -> str:
    """A tag as the ticket stores it: trimmed, lower case, inner spaces as `_`, no commas, no
    control or bidirectional-override characters."""
    if not isinstance(raw, str):
        raise RuleSchemaError(path, "must be a string")
    tag = "_".join(raw.translate(_TAG_DROP).lower().split())
    if not tag or len(tag) > TAG_MAX_LENGTH or "," in tag or "\x00" in raw:
        raise RuleSchemaError(path, f"a tag is 1 to {TAG_MAX_LENGTH} characters, without commas")
    return tag


def _tags(data: object, path: str) -> tuple[str, ...]:
    if not isinstance(data, list):
        raise RuleSchemaError(path, "must be a list of tags")
    if len(data) > TAGS_MAX:
        raise RuleSchemaError(path, f"at most {TAGS_MAX} tags")
    tags: list[str] = []
    for i, raw in enumerate(data):
        tag = normalise_tag(raw, at(path, i))
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def field_spec(field: object, specs: Mapping[str, FieldSpec], path: str) -> FieldSpec:
    """The spec of a field a `set` action may write, or RuleSchemaError."""
    if not isinstance(field, str):
        raise RuleSchemaError(path, "must be a field name")
    if field not in WRITABLE_FIELDS and not field.startswith(CUSTOM_PREFIX):
        raise RuleSchemaError(
            path,
            f"{field[:60]!r} is not writable; use one of {', '.join(WRITABLE_FIELDS)} or ticket.custom.<key>",
        )
    spec = specs.get(field)
    if spec is None:
        raise RuleSchemaError(path, f"unknown field {field[:60]!r}")
    return spec


def coerce_value(spec: FieldSpec, value: object, path: str) -> Any:
    """A constant for `spec` from data (JSON/YAML), in the engine's fact form: str, int, Decimal,
    date, datetime in UTC, bool or frozenset[str]. None clears (the caller decides if allowed)."""
    if value is None:
        return None
    t = spec.type
    if t in (FieldType.TEXT, FieldType.CHOICE, FieldType.ORDINAL):
        # Custom text may be long text; the subject and choices are one line.
        long_text = t == FieldType.TEXT and spec.path.startswith(CUSTOM_PREFIX)
        limit = SUBJECT_MAX_LENGTH if spec.path == "ticket.subject" else TEXT_MAX
        text = _text(value, path, BODY_MAX if long_text else limit, single_line=not long_text)
        if not text.strip():
            raise RuleSchemaError(path, "must not be empty (null clears a field)")
        if spec.choices is not None and text not in spec.choices:
            raise RuleSchemaError(path, f"must be one of: {', '.join(spec.choices)}")
        return text
    if t == FieldType.NUMBER:
        if isinstance(value, bool):
            raise RuleSchemaError(path, "must be a number")
        if isinstance(value, int):
            return value
        if isinstance(value, float | str | Decimal):
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise RuleSchemaError(path, "must be a number") from None
            if not number.is_finite():
                raise RuleSchemaError(path, "must be a finite number")
            return number
        raise RuleSchemaError(path, "must be a number")
    if t == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise RuleSchemaError(path, "must be true or false")
        return value
    if t == FieldType.REF:
        return positive_id(value, path)
    if t == FieldType.DATE:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise RuleSchemaError(path, "must be a date (YYYY-MM-DD)")
    if t == FieldType.DATETIME:
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
        if moment is None or moment.tzinfo is None:
            raise RuleSchemaError(path, "must be an ISO 8601 date and time with a UTC offset")
        return moment.astimezone(UTC)
    if t == FieldType.SET:
        if not isinstance(value, list):
            raise RuleSchemaError(path, "must be a list")
        items = frozenset(_text(v, at(path, i), TEXT_MAX, single_line=True) for i, v in enumerate(value))
        if spec.choices is not None and not items <= set(spec.choices):
            raise RuleSchemaError(path, f"values must be among: {', '.join(spec.choices)}")
        return items
    raise RuleSchemaError(path, f"cannot set a field of type {t}")  # pragma: no cover


def value_to_data(value: Any) -> Any:
    """The data form of a coerced constant (inverse of `coerce_value`)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def _parse_set(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    body = _mapping(data, path, ("field", "value"))
    spec = field_spec(body["field"], specs, at(path, "field"))
    value = coerce_value(spec, body["value"], at(path, "value"))
    if value is None and not WRITABLE_FIELDS.get(spec.path, True):
        raise RuleSchemaError(at(path, "value"), f"{spec.path} cannot be cleared")
    return SetField(field=spec.path, value=value)


def _parse_add_tags(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    return AddTags(_tags(data, path))


def _parse_remove_tags(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    return RemoveTags(_tags(data, path))


def _parse_set_tags(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    return SetTags(_tags(data, path))


def _parse_assign(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    if not isinstance(data, dict) or len(data) != 1:
        raise RuleSchemaError(path, f"must name exactly one of: {', '.join(ASSIGN_TARGETS)}")
    ((target, ident),) = data.items()
    if target not in ASSIGN_TARGETS:
        raise RuleSchemaError(
            at(path, str(target)), f"unknown target; expected one of: {', '.join(ASSIGN_TARGETS)}"
        )
    return Assign(target=target, id=positive_id(ident, at(path, target)))


def _message_body(data: object, path: str) -> str:
    body = _mapping(data, path, ("body",))
    text = _text(body["body"], at(path, "body"), BODY_MAX, template=True)
    if not text.strip():
        raise RuleSchemaError(at(path, "body"), "must not be empty")
    return text


def _parse_note(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    return AddNote(body=_message_body(data, path))


def _parse_reply(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    return Reply(body=_message_body(data, path))


def _recipient(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise RuleSchemaError(path, "must be a string")
    if value in RECIPIENT_KINDS:
        return value
    kind, _, rest = value.partition(":")
    if kind == "agent":
        if rest.isascii() and rest.isdigit() and not rest.startswith("0"):
            positive_id(int(rest), path)
            return value
        raise RuleSchemaError(path, "agent recipients are written agent:<id>")
    if kind == "address":
        if len(rest) <= 254 and _EMAIL.fullmatch(rest):
            return value
        raise RuleSchemaError(path, "address recipients are written address:<e-mail address>")
    raise RuleSchemaError(
        path, "must be requester, assignee, team, department, agent:<id> or address:<e-mail address>"
    )


def _parse_notify(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    body = _mapping(data, path, ("to",), ("template", "subject", "body"))
    template = body.get("template")
    if template is not None:
        template = _text(template, at(path, "template"), 64)
        if not _REF_NAME.fullmatch(template):
            raise RuleSchemaError(at(path, "template"), "must be a template key (a-z, 0-9, _ . -)")
    subject = _text(body.get("subject", ""), at(path, "subject"), TEXT_MAX, template=True, single_line=True)
    text = _text(body.get("body", ""), at(path, "body"), BODY_MAX, template=True)
    if template is None and not (subject.strip() and text.strip()):
        raise RuleSchemaError(path, "without a template, subject and body are required")
    to = body["to"]
    if not isinstance(to, list) or not to:
        raise RuleSchemaError(at(path, "to"), "must be a non-empty list of recipients")
    if len(to) > RECIPIENTS_MAX:
        raise RuleSchemaError(at(path, "to"), f"at most {RECIPIENTS_MAX} recipients")
    recipients: list[str] = []
    for i, raw in enumerate(to):
        r = _recipient(raw, at(at(path, "to"), i))
        if r not in recipients:
            recipients.append(r)
    return Notify(template=template, subject=subject, body=text, to=tuple(recipients))


def check_url(value: object, path: str) -> str:
    url = _text(value, path, URL_MAX, single_line=True)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RuleSchemaError(path, "must be a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleSchemaError(path, "must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise RuleSchemaError(path, "must not contain credentials; use secret_ref")
    if port == 0 or any(c.isspace() for c in url):
        raise RuleSchemaError(path, "must be a valid URL")
    return url


def _parse_webhook(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    body = _mapping(data, path, ("url",), ("body", "secret_ref"))
    url = check_url(body["url"], at(path, "url"))
    text = _text(body.get("body", ""), at(path, "body"), BODY_MAX, template=True)
    secret = body.get("secret_ref")
    if secret is not None:
        secret = _text(secret, at(path, "secret_ref"), 64)
        if not _REF_NAME.fullmatch(secret):
            raise RuleSchemaError(at(path, "secret_ref"), "must be a secret name (a-z, 0-9, _ . -)")
    return Webhook(url=url, body=text, secret_ref=secret)


def _parse_apply_macro(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    return ApplyMacro(positive_id(data, path))


def _parse_escalate(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    d = _mapping(data, path, required=("reason",), optional=("to",))
    to = d.get("to")
    if to is not None and (not isinstance(to, str) or not to.strip() or len(to) > 64):
        raise RuleSchemaError(f"{path}.to", "must be a tier key")
    return EscalateTier(_text(d["reason"], f"{path}.reason", 500, template=True, single_line=True), to)


def _parse_stop(data: object, specs: Mapping[str, FieldSpec], path: str) -> Action:
    if data is not True:
        raise RuleSchemaError(path, "must be true")
    return Stop()


_PARSERS = {
    "set": _parse_set,
    "add_tags": _parse_add_tags,
    "remove_tags": _parse_remove_tags,
    "set_tags": _parse_set_tags,
    "assign": _parse_assign,
    "note": _parse_note,
    "reply": _parse_reply,
    "notify": _parse_notify,
    "webhook": _parse_webhook,
    "apply_macro": _parse_apply_macro,
    "escalate_tier": _parse_escalate,
    "stop": _parse_stop,
}
_NAMES: dict[type, str] = {
    SetField: "set",
    AddTags: "add_tags",
    RemoveTags: "remove_tags",
    SetTags: "set_tags",
    Assign: "assign",
    AddNote: "note",
    Reply: "reply",
    Notify: "notify",
    Webhook: "webhook",
    ApplyMacro: "apply_macro",
    EscalateTier: "escalate_tier",
    Stop: "stop",
}


# -- dumping -------------------------------------------------------------------------------


def action_to_data(action: Action) -> dict[str, Any]:
    match action:
        case SetField(field=field, value=value):
            return {"set": {"field": field, "value": value_to_data(value)}}
        case AddTags(tags=tags):
            return {"add_tags": list(tags)}
        case RemoveTags(tags=tags):
            return {"remove_tags": list(tags)}
        case SetTags(tags=tags):
            return {"set_tags": list(tags)}
        case Assign(target=target, id=ident):
            return {"assign": {target: ident}}
        case AddNote(body=body):
            return {"note": {"body": body}}
        case Reply(body=body):
            return {"reply": {"body": body}}
        case Notify():
            return {
                "notify": {
                    "template": action.template,
                    "subject": action.subject,
                    "body": action.body,
                    "to": list(action.to),
                }
            }
        case Webhook():
            return {"webhook": {"url": action.url, "body": action.body, "secret_ref": action.secret_ref}}
        case ApplyMacro(macro=macro):
            return {"apply_macro": macro}
        case EscalateTier(reason=reason, to=to):
            return {"escalate_tier": {"reason": reason, **({"to": to} if to is not None else {})}}
        case Stop():
            return {"stop": True}
    raise TypeError(f"not an action: {action!r}")  # pragma: no cover


def actions_to_data(actions: Sequence[Action]) -> list[dict[str, Any]]:
    """The data form of `actions`: `parse_actions(actions_to_data(a)) == a`."""
    return [action_to_data(a) for a in actions]


# -- analysis ------------------------------------------------------------------------------


def field_writes(actions: Sequence[Action]) -> dict[str, Any]:
    """The fields the actions set to a constant, with the value they end with: `set`,
    `set_tags` (`ticket.tags`, a frozenset) and `assign` to an agent, team or department.
    Relative changes (add/remove tags) and round-robin assignment have no constant value and
    are not listed; `fields_written` names them too."""
    writes: dict[str, Any] = {}
    for action in actions:
        match action:
            case SetField(field=field, value=value):
                writes[field] = value
            case SetTags(tags=tags):
                writes["ticket.tags"] = frozenset(tags)
            case Assign(target=target, id=ident) if target in ASSIGN_FIELDS:
                writes[ASSIGN_FIELDS[target]] = ident
            case _:
                pass
    return writes


def fields_written(actions: Sequence[Action]) -> set[str]:
    """Every field the actions may change, constant or not (a policy assignment writes the
    assignee)."""
    fields = set(field_writes(actions))
    for action in actions:
        if isinstance(action, AddTags | RemoveTags):
            fields.add("ticket.tags")
        elif isinstance(action, Assign) and action.target == "policy":
            fields.add("ticket.assignee")
    return fields


def templates_of(action: Action) -> list[tuple[str, str]]:
    """The user-written templates of an action as (relative path, text): note and reply body,
    notify subject and body, webhook body."""
    match action:
        case AddNote(body=body):
            return [("note.body", body)]
        case Reply(body=body):
            return [("reply.body", body)]
        case Notify(subject=subject, body=body):
            return [("notify.subject", subject), ("notify.body", body)]
        case Webhook(body=body):
            return [("webhook.body", body)]
        case EscalateTier(reason=reason):
            return [("escalate_tier.reason", reason)]
        case _:
            return []

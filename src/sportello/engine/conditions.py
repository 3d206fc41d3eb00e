"""The condition language of rules, views and policies: a tree of `All` / `Any` / `Not` over
`Predicate`s on named facts.

Facts are a flat mapping from a dotted path (`ticket.priority`, `requester.vip`,
`ticket.custom.product_code`) to a plain value; `FIELDS` lists the standard ones and their types,
custom fields are described by the caller (`custom_field_spec`). The same tree is evaluated here
in Python (event rules, with a trace) and compiled to a database filter by
`sportello.automation.query` (views, previews, time rules): the two must select the same tickets.

This module defines the shapes; parsing, evaluation and tracing live beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    TEXT = "text"  # str; "" and None are absent
    NUMBER = "number"  # int or Decimal
    DATE = "date"  # datetime.date
    DATETIME = "datetime"  # aware datetime.datetime (UTC)
    BOOLEAN = "boolean"  # bool
    CHOICE = "choice"  # str from a fixed or data-defined set (status key, channel, picklist value)
    ORDINAL = "ordinal"  # str with an order (priority: low < normal < high < urgent)
    REF = "ref"  # int id of a record (department, team, agent, contact, organization) or None
    SET = "set"  # frozenset[str] (tags, multi-select values)


class Op(StrEnum):
    IS = "is"
    IS_NOT = "is_not"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"  # text: substring (case-insensitive); set: has the element
    CONTAINS_WORD = "contains_word"  # text: whole word (case- and accent-insensitive)
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    MATCHES = "matches"  # text: regular expression, evaluated under a time bound
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    PRESENT = "present"
    ABSENT = "absent"
    CHANGED = "changed"  # before != after in this change (event rules only)
    CHANGED_TO = "changed_to"
    CHANGED_FROM = "changed_from"
    NOT_CHANGED = "not_changed"


# Operators that compare the facts before and after a change: only event rules can use them.
CHANGE_OPS = frozenset({Op.CHANGED, Op.CHANGED_TO, Op.CHANGED_FROM, Op.NOT_CHANGED})

PRIORITY_ORDER = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    path: str
    type: FieldType
    # The fact exists only during an event (event.*, message.*): a database filter cannot use it.
    event_only: bool = False
    choices: tuple[str, ...] | None = None  # allowed values of CHOICE/ORDINAL, when fixed


@dataclass(frozen=True, slots=True)
class Predicate:
    field: str
    op: Op
    value: Any = None  # already coerced to the field's type by the parser (lists for in/not_in)


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition = Predicate | All | AnyOf | Not

_T = FieldType
FIELDS: dict[str, FieldSpec] = {
    s.path: s
    for s in (
        FieldSpec("ticket.number", _T.NUMBER),
        FieldSpec("ticket.subject", _T.TEXT),
        FieldSpec("ticket.status", _T.CHOICE),
        FieldSpec(
            "ticket.status_category",
            _T.CHOICE,
            choices=("new", "open", "pending", "on_hold", "solved", "closed"),
        ),
        FieldSpec("ticket.priority", _T.ORDINAL, choices=PRIORITY_ORDER),
        FieldSpec("ticket.channel", _T.CHOICE, choices=("email", "web", "portal", "chat", "phone", "api")),
        FieldSpec("ticket.department", _T.REF),
        FieldSpec("ticket.team", _T.REF),
        FieldSpec("ticket.assignee", _T.REF),
        FieldSpec("ticket.requester", _T.REF),
        FieldSpec("ticket.organization", _T.REF),
        FieldSpec("ticket.tags", _T.SET),
        FieldSpec("ticket.due_at", _T.DATETIME),
        FieldSpec("ticket.created_at", _T.DATETIME),
        FieldSpec("ticket.updated_at", _T.DATETIME),
        FieldSpec("ticket.first_response_at", _T.DATETIME),
        FieldSpec("ticket.solved_at", _T.DATETIME),
        FieldSpec("ticket.message_count", _T.NUMBER),
        FieldSpec("ticket.customer_message_count", _T.NUMBER),
        FieldSpec("ticket.agent_reply_count", _T.NUMBER),
        FieldSpec("requester.email", _T.TEXT),
        FieldSpec("requester.domain", _T.TEXT),
        FieldSpec("requester.name", _T.TEXT),
        FieldSpec("requester.vip", _T.BOOLEAN),
        FieldSpec("requester.language", _T.CHOICE),
        FieldSpec("organization.name", _T.TEXT),
        FieldSpec("organization.tier", _T.CHOICE),
        FieldSpec("organization.vip", _T.BOOLEAN),
        # The message this change added (absent when it added none).
        FieldSpec("message.body", _T.TEXT, event_only=True),
        FieldSpec("message.public", _T.BOOLEAN, event_only=True),
        FieldSpec("message.author_kind", _T.CHOICE, event_only=True, choices=("agent", "contact", "system")),
        FieldSpec("message.channel", _T.CHOICE, event_only=True),
        # The change itself.
        FieldSpec(
            "event.type",
            _T.CHOICE,
            event_only=True,
            choices=("ticket.created", "ticket.updated", "message.added", "timer.fired"),
        ),
        FieldSpec("event.via", _T.CHOICE, event_only=True),
        FieldSpec("event.actor_kind", _T.CHOICE, event_only=True),
        FieldSpec("event.depth", _T.NUMBER, event_only=True),
        # Time. Filled by business calendars; until then always true.
        FieldSpec("clock.in_business_hours", _T.BOOLEAN, event_only=True),
    )
}

# Custom-field types (sportello.engine.fields) to condition types.
CUSTOM_TYPES: dict[str, FieldType] = {
    "text": _T.TEXT,
    "long_text": _T.TEXT,
    "number": _T.NUMBER,
    "decimal": _T.NUMBER,
    "date": _T.DATE,
    "datetime": _T.DATETIME,
    "boolean": _T.BOOLEAN,
    "picklist": _T.CHOICE,
    "multi_select": _T.SET,
}


def custom_field_spec(key: str, field_type: str, options: tuple[str, ...] | None = None) -> FieldSpec:
    """The spec of custom field `key` (stored values as in `engine.fields`) as `ticket.custom.<key>`."""
    return FieldSpec(f"ticket.custom.{key}", CUSTOM_TYPES[field_type], choices=options or None)

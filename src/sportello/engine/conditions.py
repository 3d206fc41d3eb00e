r"""The condition language of rules, views and policies: a tree of `All` / `Any` / `Not` over
`Predicate`s on named facts.

Facts are a flat mapping from a dotted path (`ticket.priority`, `requester.vip`,
`ticket.custom.product_code`) to a plain value; `FIELDS` lists the standard ones and their types,
custom fields are described by the caller (`custom_field_spec`). The same tree is evaluated here
in Python (event rules, with a trace) and compiled to a database filter by
`sportello.automation.query` (views, previews, time rules): the two must select the same tickets.

Data form (JSON/YAML), read by `parse_condition` and written back by `condition_to_data`::

    {"all": [cond, ...]} | {"any": [cond, ...]} | {"not": cond}
    | {"field": "ticket.priority", "op": "gte", "value": "high"}

A node holds exactly those keys; anything else is a `RuleSchemaError` whose path names the bad
part (`when.all[2].value`, `when.any[0].not.field`). `all: []` is true and `any: []` is false.
Groups nest at most `MAX_DEPTH` deep and hold at most `MAX_ITEMS` items; value lists hold at
most `MAX_VALUES` values.

Values, after parsing (`Predicate.value`):
    TEXT     non-empty str (at most `TEXT_VALUE_MAX` characters; a regex at most `REGEX_MAX`)
    NUMBER   int, or Decimal for a fractional or string input (floats are read through their
             shortest repr, never rounded); written back as an int or a decimal string
    DATE     datetime.date, read from `YYYY-MM-DD`
    DATETIME aware datetime in UTC, read from ISO 8601 with an offset (`Z` or `+01:00`)
    BOOLEAN  bool
    CHOICE   non-empty str, one of `choices` when the spec fixes them
    ORDINAL  str, one of `choices` (the order)
    REF      int id (> 0)
    SET      an element (str) for contains/not_contains; a tuple of str for is/in/not_in
`in`/`not_in` take a non-empty list, kept as a tuple (so conditions are hashable).
`changed_to`/`changed_from` take a value like `is`, or null for "absent".
`present`, `absent`, `changed`, `not_changed` take no value (the key must be left out).

Semantics, evaluated on `facts` (after the change) and `before` (None on creation):
- A fact value is *absent* when the key is missing or the value is None, "" or an empty set.
  A value of the wrong type for the field (a str for a NUMBER, a naive datetime, a bool for a
  REF, a Decimal NaN, a priority outside its order, ...) also counts as absent: evaluation never
  raises and a positive test on it is false. Accepted fact types: TEXT str; NUMBER int, Decimal
  or float (finite, not bool); DATE date (not datetime); DATETIME aware datetime; BOOLEAN bool;
  CHOICE/ORDINAL str; REF int (not bool); SET frozenset or any non-str iterable of str.
- `present` is "not absent", `absent` its negation. Every negative operator is exactly the
  negation of its positive one: `is_not` = not `is`, `not_in` = not `in`, `not_contains` =
  not `contains`, `not_changed` = not `changed`. So `is`, `in`, `contains`, `starts_with`,
  `contains_word`, `matches` and the comparisons are false on absent; their negations true.
- TEXT: `is`, `in`, `contains`, `starts_with` compare `str.lower()` of both sides (not
  casefold). `contains_word`: the lowered value occurs in the lowered text with no Unicode word
  character (`\w`) right before or after it. `matches`: `re.search(pattern, text[:10000])`,
  case-sensitive unless the pattern says `(?i)`.
- NUMBER, DATE, DATETIME: `is`/`in` by equality (1 == 1.0), `lt`/`lte`/`gt`/`gte` by value.
  ORDINAL compares positions in `choices` (low < normal < high < urgent).
- BOOLEAN, CHOICE, REF: equality (case-sensitive for CHOICE).
- SET: `contains x` has the element; `in [..]` has any of them; `is [..]` is exactly that set.
- Change operators work on every type. Both values are normalised as above (absent == absent,
  sets as sets, TEXT compared exactly, so a change of case is a change). `changed`: before !=
  after. `changed_to x`: changed and after `is` x (x null: after is absent). `changed_from x`:
  changed and before `is` x (x null: before was absent). With `before=None` (creation) every
  field was absent before, so `changed` is `present`.
- A predicate on a field that `specs` does not describe (a deleted custom field), or with an
  operator the field's type does not take, is false.

`matches` has no time bound of its own (the standard `re` module cannot be interrupted), so the
parser accepts only patterns without the shapes that backtrack badly: no quantified group that
holds another quantifier or an alternation (`(a+)+`, `(a*)*`, `(a|a)*`), no back-references, and
no two repetitions that can match the same character (`.*a.*b`, `\w+\w+`; one that ends
the pattern does not count, as in `^RE:.*refund.*`); the text searched
is cut to its first `MATCH_INPUT_MAX` characters. A single repetition still costs time
quadratic in that bound, which stays well under a second.

`compile_failure` answers "which part failed first" (None when the condition holds) at the cost
of one compiled evaluation: what the trigger cycle stores for every rule it considers.

`explain` evaluates like `evaluate`, with the same short-circuit (`all` stops at the first
false item, `any` at the first true one), and lists one `PredicateTrace` per predicate that was
evaluated, in order; predicates that were skipped are not listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, DecimalException
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sportello.engine.regex_safety import compiled_regex, parse_regex
from sportello.engine.schema import RuleSchemaError, at


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
    CONTAINS_WORD = "contains_word"  # text: whole word (case-insensitive)
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
    # Coerced to the field's type by the parser; a tuple for in/not_in and for SET is/changed_to/
    # changed_from (tuples keep conditions hashable); None for operators without a value.
    value: Any = None


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
        # The due date has passed: `due_at` at or before the instant the change is about (false
        # without a due date). Event rules see it turn true on the first change after the
        # deadline; a database filter compiles it against the same instant.
        FieldSpec("ticket.overdue", _T.BOOLEAN),
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
        # The customer's satisfaction rating (surveys): unoffered, offered, good, neutral or bad,
        # and the rating itself (1 bad / 2 good, or 1 to 5; absent until answered). Stored with
        # the ticket's survey: event rules, time rules and database filters read them alike.
        FieldSpec(
            "ticket.satisfaction",
            _T.CHOICE,
            choices=("unoffered", "offered", "good", "neutral", "bad"),
        ),
        FieldSpec("ticket.satisfaction_score", _T.NUMBER),
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
            choices=(
                "ticket.created",
                "ticket.updated",
                "message.added",
                "timer.fired",
                "blueprint.transition",
            ),
        ),
        FieldSpec("event.via", _T.CHOICE, event_only=True),
        FieldSpec("event.actor_kind", _T.CHOICE, event_only=True),
        FieldSpec("event.depth", _T.NUMBER, event_only=True),
        # The change records the customer's satisfaction rating (a new answer or a changed one).
        FieldSpec("event.rated", _T.BOOLEAN, event_only=True),
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


# --------------------------------------------------------------------------------------------
# Limits and operator table

MAX_DEPTH = 10  # all/any/not groups on one path from the root
MAX_ITEMS = 100  # items of one all/any
MAX_VALUES = 200  # values of one in/not_in/is list
TEXT_VALUE_MAX = 1_000
MATCH_INPUT_MAX = 10_000
TRACE_TEXT_MAX = 1_000  # longer texts are cut in traces, ending with "…"
NUMBER_DIGITS_MAX = 30
NUMBER_INT_MAX = 2**63

_NO_VALUE_OPS = frozenset({Op.PRESENT, Op.ABSENT, Op.CHANGED, Op.NOT_CHANGED})
_LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
_COMPARE_OPS = frozenset({Op.LT, Op.LTE, Op.GT, Op.GTE})
_COMMON_OPS = frozenset({Op.PRESENT, Op.ABSENT}) | CHANGE_OPS
_EQ_OPS = frozenset({Op.IS, Op.IS_NOT, Op.IN, Op.NOT_IN})

OPS_BY_TYPE: dict[FieldType, frozenset[Op]] = {
    FieldType.TEXT: _COMMON_OPS
    | _EQ_OPS
    | {Op.CONTAINS, Op.NOT_CONTAINS, Op.CONTAINS_WORD, Op.STARTS_WITH, Op.MATCHES},
    FieldType.NUMBER: _COMMON_OPS | _EQ_OPS | _COMPARE_OPS,
    FieldType.DATE: _COMMON_OPS | _EQ_OPS | _COMPARE_OPS,
    FieldType.DATETIME: _COMMON_OPS | _EQ_OPS | _COMPARE_OPS,
    FieldType.ORDINAL: _COMMON_OPS | _EQ_OPS | _COMPARE_OPS,
    FieldType.BOOLEAN: _COMMON_OPS | {Op.IS, Op.IS_NOT},
    FieldType.CHOICE: _COMMON_OPS | _EQ_OPS,
    FieldType.REF: _COMMON_OPS | _EQ_OPS,
    FieldType.SET: _COMMON_OPS | _EQ_OPS | {Op.CONTAINS, Op.NOT_CONTAINS},
}


# --------------------------------------------------------------------------------------------
# Parsing

_GROUP_KEYS = {"all": All, "any": AnyOf}
_PREDICATE_KEYS = ("field", "op", "value")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT_RE = re.compile(r"[+-]?[0-9]{1,20}")


def parse_condition(data: object, *, specs: Mapping[str, FieldSpec], path: str = "when") -> Condition:
    """Read a condition from its JSON/YAML form, or raise RuleSchemaError at the bad part."""
    return _parse(data, specs, path, 0)


def _parse(data: object, specs: Mapping[str, FieldSpec], path: str, depth: int) -> Condition:
    if not isinstance(data, Mapping):
        raise RuleSchemaError(path, "must be a mapping: all, any, not, or a field/op/value predicate")
    keys = [k for k in data if isinstance(k, str)]
    if len(keys) != len(data):
        raise RuleSchemaError(path, "keys must be strings")
    group = [k for k in keys if k in ("all", "any", "not")]
    if group:
        key = group[0]
        for other in keys:
            if other != key:
                raise RuleSchemaError(at(path, other), f"is not allowed beside {key!r}")
        sub = at(path, key)
        if depth >= MAX_DEPTH:
            raise RuleSchemaError(sub, f"nests deeper than {MAX_DEPTH} levels")
        raw = data[key]
        if key == "not":
            return Not(_parse(raw, specs, sub, depth + 1))
        if not isinstance(raw, list | tuple):
            raise RuleSchemaError(sub, "must be a list of conditions")
        if len(raw) > MAX_ITEMS:
            raise RuleSchemaError(sub, f"must hold at most {MAX_ITEMS} conditions")
        items = tuple(_parse(item, specs, at(sub, i), depth + 1) for i, item in enumerate(raw))
        return All(items) if key == "all" else AnyOf(items)
    for k in keys:
        if k not in _PREDICATE_KEYS:
            raise RuleSchemaError(
                at(path, k), "is not a known key (expected all, any, not, field, op, value)"
            )
    return _parse_predicate(data, specs, path)


def _parse_predicate(data: Mapping[str, Any], specs: Mapping[str, FieldSpec], path: str) -> Predicate:
    if "field" not in data:
        raise RuleSchemaError(at(path, "field"), "is required")
    field = data["field"]
    if not isinstance(field, str):
        raise RuleSchemaError(at(path, "field"), "must be a string")
    spec = specs.get(field)
    if spec is None:
        raise RuleSchemaError(at(path, "field"), f"{_show(field)} is not a known field")
    if "op" not in data:
        raise RuleSchemaError(at(path, "op"), "is required")
    raw_op = data["op"]
    try:
        op = Op(raw_op) if isinstance(raw_op, str) else None
    except ValueError:
        op = None
    if op is None:
        raise RuleSchemaError(at(path, "op"), f"{_show(raw_op)} is not a known operator")
    if op not in OPS_BY_TYPE[spec.type]:
        raise RuleSchemaError(at(path, "op"), f"{op.value!r} does not apply to {spec.type.value} fields")
    vpath = at(path, "value")
    if op in _NO_VALUE_OPS:
        if "value" in data:
            raise RuleSchemaError(vpath, f"must be left out: {op.value!r} takes no value")
        return Predicate(field, op)
    if "value" not in data:
        raise RuleSchemaError(vpath, "is required")
    return Predicate(field, op, _parse_value(spec, op, data["value"], vpath))


def _parse_value(spec: FieldSpec, op: Op, raw: object, path: str) -> Any:
    t = spec.type
    if op in (Op.CHANGED_TO, Op.CHANGED_FROM) and raw is None:
        return None
    if op in _LIST_OPS or (t is FieldType.SET and op in (Op.IS, Op.CHANGED_TO, Op.CHANGED_FROM)):
        if not isinstance(raw, list | tuple):
            raise RuleSchemaError(path, "must be a list")
        if not raw:
            raise RuleSchemaError(path, "must not be empty")
        if len(raw) > MAX_VALUES:
            raise RuleSchemaError(path, f"must hold at most {MAX_VALUES} values")
        return tuple(_parse_scalar(spec, op, item, at(path, i)) for i, item in enumerate(raw))
    if op is Op.MATCHES:
        return parse_regex(raw, path)
    if op in _COMPARE_OPS and t is FieldType.ORDINAL and not spec.choices:
        raise RuleSchemaError(path, "this field has no order to compare by")
    return _parse_scalar(spec, op, raw, path)


def _parse_scalar(spec: FieldSpec, op: Op, raw: object, path: str) -> Any:
    t = spec.type
    if raw is None:
        raise RuleSchemaError(path, "must not be null: use the present or absent operator")
    if t in (FieldType.TEXT, FieldType.CHOICE, FieldType.ORDINAL, FieldType.SET):
        if not isinstance(raw, str) or not raw:
            raise RuleSchemaError(path, "must be a non-empty string")
        if len(raw) > TEXT_VALUE_MAX:
            raise RuleSchemaError(path, f"must be at most {TEXT_VALUE_MAX} characters")
        if "\x00" in raw:
            raise RuleSchemaError(path, "must not contain NUL characters")
        if t is not FieldType.TEXT and spec.choices is not None and raw not in spec.choices:
            raise RuleSchemaError(path, f"{_show(raw)} is not one of: {', '.join(spec.choices)}")
        if t is FieldType.ORDINAL and spec.choices is None and op in _COMPARE_OPS:
            raise RuleSchemaError(path, "this field has no order to compare by")
        return raw
    if t is FieldType.NUMBER:
        return _parse_number(raw, path)
    if t is FieldType.DATE:
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str) and _DATE_RE.fullmatch(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        raise RuleSchemaError(path, "must be a date (YYYY-MM-DD)")
    if t is FieldType.DATETIME:
        dt: datetime | None = raw if isinstance(raw, datetime) else None
        if isinstance(raw, str) and len(raw) <= 64:
            try:
                dt = datetime.fromisoformat(raw)
            except ValueError:
                dt = None
        if dt is None:
            raise RuleSchemaError(path, "must be a date and time (ISO 8601 with a UTC offset)")
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise RuleSchemaError(path, "must carry a UTC offset, e.g. 2026-01-31T09:30:00+01:00")
        try:
            return dt.astimezone(UTC)
        except OverflowError:
            raise RuleSchemaError(path, "is outside the supported range of dates") from None
    if t is FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        raise RuleSchemaError(path, "must be true or false")
    # REF
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < NUMBER_INT_MAX:
        raise RuleSchemaError(path, "must be the id of a record (a positive whole number)")
    return raw


def _parse_number(raw: object, path: str) -> int | Decimal:
    message = 'must be a number (a whole number, or a decimal written as a string such as "12.50")'
    if isinstance(raw, bool):
        raise RuleSchemaError(path, message)
    if isinstance(raw, int):
        n = raw
    elif isinstance(raw, str) and _INT_RE.fullmatch(raw.strip()):
        n = int(raw.strip())
    else:
        if isinstance(raw, float):
            text = repr(raw)
        elif isinstance(raw, str | Decimal) and len(str(raw)) <= 64:
            text = str(raw).strip()
        else:
            raise RuleSchemaError(path, message)
        try:
            d = Decimal(text)
        except DecimalException:
            raise RuleSchemaError(path, message) from None
        if not d.is_finite():
            raise RuleSchemaError(path, "must be a finite number")
        if len(d.as_tuple().digits) > NUMBER_DIGITS_MAX or abs(d.adjusted()) > NUMBER_DIGITS_MAX:
            raise RuleSchemaError(path, f"must have at most {NUMBER_DIGITS_MAX} digits")
        return d
    if abs(n) >= NUMBER_INT_MAX:
        raise RuleSchemaError(path, "must lie between -2^63 and 2^63")
    return n


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# Back to data


def condition_to_data(cond: Condition) -> dict[str, Any]:
    """The JSON-able form of `cond`: `parse_condition(condition_to_data(c)) == c`."""
    if isinstance(cond, All):
        return {"all": [condition_to_data(c) for c in cond.items]}
    if isinstance(cond, AnyOf):
        return {"any": [condition_to_data(c) for c in cond.items]}
    if isinstance(cond, Not):
        return {"not": condition_to_data(cond.item)}
    out: dict[str, Any] = {"field": cond.field, "op": Op(cond.op).value}
    if cond.op not in _NO_VALUE_OPS:
        out["value"] = value_to_data(cond.value)
    return out


def value_to_data(value: Any) -> Any:
    """A parsed value in its JSON form: dates and datetimes as ISO strings (UTC as `Z`),
    Decimals as strings, tuples as lists."""
    if isinstance(value, tuple | list):
        return [value_to_data(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --------------------------------------------------------------------------------------------
# Evaluation


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def _norm(t: FieldType, spec: FieldSpec, value: object) -> Any:
    """The fact in its comparable form, or ABSENT (missing, empty or of the wrong type)."""
    if value is None:
        return ABSENT
    if t is FieldType.TEXT:
        return value if isinstance(value, str) and value else ABSENT
    if t is FieldType.CHOICE:
        return value if isinstance(value, str) and value else ABSENT
    if t is FieldType.ORDINAL:
        if isinstance(value, str) and value and (spec.choices is None or value in spec.choices):
            return value
        return ABSENT
    if t is FieldType.NUMBER:
        if isinstance(value, bool):
            return ABSENT
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal):
            return value if value.is_finite() else ABSENT
        if isinstance(value, float):
            return Decimal(repr(value)) if value == value and abs(value) != float("inf") else ABSENT
        return ABSENT
    if t is FieldType.DATE:
        return value if isinstance(value, date) and not isinstance(value, datetime) else ABSENT
    if t is FieldType.DATETIME:
        if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
            return value
        return ABSENT
    if t is FieldType.BOOLEAN:
        return value if isinstance(value, bool) else ABSENT
    if t is FieldType.REF:
        return value if isinstance(value, int) and not isinstance(value, bool) else ABSENT
    # SET
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        return ABSENT
    try:
        items = frozenset(value)
    except TypeError:
        return ABSENT
    if not items or not all(isinstance(v, str) for v in items):
        return ABSENT
    return items


def _is(t: FieldType, spec: FieldSpec, fact: Any, expected: Any) -> bool:
    """`is expected` on a normalised fact; expected None means absent (changed_to/from null)."""
    if expected is None:
        return fact is ABSENT
    if fact is ABSENT:
        return False
    if t is FieldType.TEXT:
        return isinstance(expected, str) and bool(fact.lower() == expected.lower())
    if t is FieldType.SET:
        if isinstance(expected, tuple | list | frozenset | set):
            return bool(fact == frozenset(expected))
        return False
    if t is FieldType.BOOLEAN or isinstance(expected, bool):
        return type(fact) is type(expected) and bool(fact == expected)
    return bool(fact == expected)


def _in(t: FieldType, spec: FieldSpec, fact: Any, values: Any) -> bool:
    if fact is ABSENT or not isinstance(values, tuple | list):
        return False
    if t is FieldType.SET:
        return any(isinstance(v, str) and v in fact for v in values)
    return any(_is(t, spec, fact, v) for v in values if v is not None)


def _key(t: FieldType, spec: FieldSpec, value: Any) -> Any:
    if t is FieldType.ORDINAL:
        order = spec.choices or ()
        return order.index(value) if value in order else None
    return value


def _compare(t: FieldType, spec: FieldSpec, op: Op, fact: Any, expected: Any) -> bool:
    if fact is ABSENT:
        return False
    a, b = _key(t, spec, fact), _key(t, spec, expected)
    if a is None or b is None:
        return False
    if t is FieldType.NUMBER:
        if isinstance(b, bool) or not isinstance(b, int | Decimal):
            return False
    elif t is FieldType.DATE:
        if not isinstance(b, date) or isinstance(b, datetime):
            return False
    elif t is FieldType.DATETIME and (not isinstance(b, datetime) or b.tzinfo is None):
        return False
    if op is Op.LT:
        return bool(a < b)
    if op is Op.LTE:
        return bool(a <= b)
    if op is Op.GT:
        return bool(a > b)
    return bool(a >= b)


def _word_re(word: str) -> re.Pattern[str]:
    return _word_pattern(word.lower())


@lru_cache(maxsize=1024)
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)")


def _text_op(op: Op, fact: Any, expected: Any) -> bool:
    if fact is ABSENT or not isinstance(expected, str) or not expected:
        return False
    text: str = fact
    if op is Op.CONTAINS:
        return expected.lower() in text.lower()
    if op is Op.STARTS_WITH:
        return text.lower().startswith(expected.lower())
    if op is Op.CONTAINS_WORD:
        return _word_re(expected).search(text.lower()) is not None
    # MATCHES
    pattern = compiled_regex(expected)
    return pattern is not None and pattern.search(text[:MATCH_INPUT_MAX]) is not None


def _changed(before: Any, after: Any) -> bool:
    if before is ABSENT or after is ABSENT:
        return before is not after
    if type(before) is bool or type(after) is bool:
        return type(before) is not type(after) or before != after
    return bool(before != after)


def _eval_predicate(
    pred: Predicate, facts: Mapping[str, Any], before: Mapping[str, Any] | None, spec: FieldSpec | None
) -> bool:
    op = pred.op
    if type(op) is not Op:
        try:
            op = Op(op)
        except ValueError:
            return False
    if spec is None or op not in OPS_BY_TYPE[spec.type]:
        return False
    t = spec.type
    fact = _norm(t, spec, facts.get(pred.field))
    value = pred.value
    if op is Op.PRESENT:
        return fact is not ABSENT
    if op is Op.ABSENT:
        return fact is ABSENT
    if op in CHANGE_OPS:
        prev = ABSENT if before is None else _norm(t, spec, before.get(pred.field))
        changed = _changed(prev, fact)
        if op is Op.CHANGED:
            return changed
        if op is Op.NOT_CHANGED:
            return not changed
        if op is Op.CHANGED_TO:
            return changed and _is(t, spec, fact, value)
        return changed and _is(t, spec, prev, value)
    if op is Op.IS:
        return value is not None and _is(t, spec, fact, value)
    if op is Op.IS_NOT:
        return not (value is not None and _is(t, spec, fact, value))
    if op is Op.IN:
        return _in(t, spec, fact, value)
    if op is Op.NOT_IN:
        return not _in(t, spec, fact, value)
    if op in _COMPARE_OPS:
        return _compare(t, spec, op, fact, value)
    if t is FieldType.SET:
        has = fact is not ABSENT and isinstance(value, str) and value in fact
        return has if op is Op.CONTAINS else not has
    if op is Op.NOT_CONTAINS:
        return not _text_op(Op.CONTAINS, fact, value)
    return _text_op(op, fact, value)


def evaluate(
    cond: Condition,
    facts: Mapping[str, Any],
    *,
    before: Mapping[str, Any] | None = None,
    specs: Mapping[str, FieldSpec],
) -> bool:
    """Whether `facts` (after the change; `before` the facts before it, None on creation)
    satisfy `cond`. Total: odd facts never raise (see the module docstring)."""
    if isinstance(cond, Predicate):
        return _eval_predicate(cond, facts, before, specs.get(cond.field))
    if isinstance(cond, All):
        return all(evaluate(c, facts, before=before, specs=specs) for c in cond.items)
    if isinstance(cond, AnyOf):
        return any(evaluate(c, facts, before=before, specs=specs) for c in cond.items)
    return not evaluate(cond.item, facts, before=before, specs=specs)


@dataclass(frozen=True, slots=True)
class PredicateTrace:
    """One evaluated predicate: where it sits, what it expected, what it saw, and the result."""

    path: str  # e.g. "when.all[2]"
    field: str
    op: str
    expected: Any  # JSON-able; None for operators without a value
    observed: Any  # JSON-able value after the change (None when absent)
    previous: Any  # JSON-able value before the change (change operators), else None
    result: bool


def explain(
    cond: Condition,
    facts: Mapping[str, Any],
    *,
    before: Mapping[str, Any] | None = None,
    specs: Mapping[str, FieldSpec],
    path: str = "when",
) -> tuple[bool, list[PredicateTrace]]:
    """`evaluate` with a trace of every predicate evaluated (short-circuited ones are left out)."""
    traces: list[PredicateTrace] = []
    result = _explain(cond, facts, before, specs, path, traces)
    return result, traces


def _explain(
    cond: Condition,
    facts: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    specs: Mapping[str, FieldSpec],
    path: str,
    traces: list[PredicateTrace],
) -> bool:
    if isinstance(cond, Predicate):
        result = _eval_predicate(cond, facts, before, specs.get(cond.field))
        is_change = cond.op in CHANGE_OPS
        traces.append(
            PredicateTrace(
                path=path,
                field=cond.field,
                op=str(cond.op),
                expected=_jsonable(cond.value),
                observed=_jsonable(facts.get(cond.field)),
                previous=_jsonable(before.get(cond.field)) if is_change and before is not None else None,
                result=result,
            )
        )
        return result
    if isinstance(cond, All):
        sub = at(path, "all")
        return all(_explain(c, facts, before, specs, at(sub, i), traces) for i, c in enumerate(cond.items))
    if isinstance(cond, AnyOf):
        sub = at(path, "any")
        return any(_explain(c, facts, before, specs, at(sub, i), traces) for i, c in enumerate(cond.items))
    return not _explain(cond.item, facts, before, specs, at(path, "not"), traces)


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-able picture of a value for traces; never raises."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value if len(value) <= TRACE_TEXT_MAX else value[:TRACE_TEXT_MAX] + "…"
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, datetime | date | Decimal):
        return value_to_data(value)
    if depth < 2 and isinstance(value, set | frozenset):
        items = [_jsonable(v, depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if depth < 2 and isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value[:MAX_VALUES]]
    try:
        return _show(value)
    except Exception:  # a fact whose repr fails
        return "<unprintable>"


# --------------------------------------------------------------------------------------------
# Static questions


def fields_of(cond: Condition) -> set[str]:
    """The field paths `cond` reads."""
    if isinstance(cond, Predicate):
        return {cond.field}
    if isinstance(cond, Not):
        return fields_of(cond.item)
    out: set[str] = set()
    for c in cond.items:
        out |= fields_of(c)
    return out


def _predicates(cond: Condition) -> Iterable[Predicate]:
    if isinstance(cond, Predicate):
        yield cond
    elif isinstance(cond, Not):
        yield from _predicates(cond.item)
    else:
        for c in cond.items:
            yield from _predicates(c)


def uses_event_facts(cond: Condition, specs: Mapping[str, FieldSpec]) -> bool:
    """Whether `cond` needs an event: an event-only field, a change operator, or a field the
    specs do not know. Such a condition cannot be compiled to a database filter."""
    for pred in _predicates(cond):
        spec = specs.get(pred.field)
        if spec is None or spec.event_only or pred.op in CHANGE_OPS:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Compiled evaluation: the same semantics as `evaluate`, faster for many rules on one change.
#
# A condition is compiled once (per saved rule version) into nested closures with the expected
# values already normalised (lower-cased texts, order positions, frozensets); the facts of a
# change are normalised once per field, however many rules read them (`FactView`). Operators
# and types without a fast form fall back to `_eval_predicate`, so both paths agree by
# construction; a property test checks it on random conditions and facts.


class FactView:
    """Facts of one change with each field normalised at most once (for compiled conditions)."""

    __slots__ = ("_lower", "_norm", "facts", "specs")

    def __init__(self, facts: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> None:
        self.facts = facts
        self.specs = specs
        self._norm: dict[str, Any] = {}
        self._lower: dict[str, Any] = {}

    def norm(self, field: str, spec: FieldSpec) -> Any:
        try:
            return self._norm[field]
        except KeyError:
            value = self._norm[field] = _norm(spec.type, spec, self.facts.get(field))
            return value

    def lower(self, field: str, spec: FieldSpec) -> str | None:
        """The lower-cased TEXT fact, or None when absent."""
        try:
            return self._lower[field]  # type: ignore[no-any-return]
        except KeyError:
            fact = self.norm(field, spec)
            value = self._lower[field] = None if fact is ABSENT else fact.lower()
            return value


Compiled = Callable[[FactView, "FactView | None"], bool]


def compile_condition(cond: Condition, specs: Mapping[str, FieldSpec]) -> Compiled:
    """`cond` as a function of (facts after, facts before or None) with `evaluate`'s result."""
    if isinstance(cond, Predicate):
        return _compile_predicate(cond, specs.get(cond.field))
    if isinstance(cond, All | AnyOf):
        parts = tuple(compile_condition(c, specs) for c in cond.items)
        if isinstance(cond, All):
            if len(parts) == 1:
                return parts[0]
            if len(parts) == 2:
                p0, p1 = parts
                return lambda a, b: p0(a, b) and p1(a, b)
            if len(parts) == 3:
                q0, q1, q2 = parts
                return lambda a, b: q0(a, b) and q1(a, b) and q2(a, b)
            return lambda a, b: all(p(a, b) for p in parts)
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            r0, r1 = parts
            return lambda a, b: r0(a, b) or r1(a, b)
        return lambda a, b: any(p(a, b) for p in parts)
    inner = compile_condition(cond.item, specs)
    return lambda a, b: not inner(a, b)


Failure = Callable[[FactView, "FactView | None"], "str | None"]


def compile_failure(cond: Condition, specs: Mapping[str, FieldSpec], path: str = "when") -> Failure:
    """`cond` as a function of (facts after, facts before or None) giving None when it holds and
    otherwise the path of its first failing part, with `evaluate`'s result and short-circuit:
    in an `all`, the first item that fails (followed inside it); an `any` whose items all fail,
    or a `not` whose item holds, is itself the failing part (`when.all[1]`). This is "why did
    this rule not fire", at the cost of one compiled evaluation."""
    if isinstance(cond, All):
        # (test, path) per item; a nested `all` is followed: (None, its own failure function).
        steps: list[tuple[Compiled | None, Any]] = []
        for i, c in enumerate(cond.items):
            where = at(at(path, "all"), i)
            if isinstance(c, All):
                steps.append((None, compile_failure(c, specs, where)))
            else:
                steps.append((compile_condition(c, specs), where))
        items = tuple(steps)

        def first(a: FactView, b: FactView | None) -> str | None:
            for test, where in items:
                if test is None:
                    failed: str | None = where(a, b)
                    if failed is not None:
                        return failed
                elif not test(a, b):
                    return where  # type: ignore[no-any-return]
            return None

        return first
    test = compile_condition(cond, specs)
    return lambda a, b: None if test(a, b) else path


def _compile_predicate(pred: Predicate, spec: FieldSpec | None) -> Compiled:
    def generic(a: FactView, b: FactView | None) -> bool:
        return _eval_predicate(pred, a.facts, None if b is None else b.facts, spec)

    op = pred.op
    if type(op) is not Op or spec is None or op not in OPS_BY_TYPE[spec.type]:
        return generic
    t, field, value = spec.type, pred.field, pred.value
    fast = _fast_predicate(t, spec, field, op, value)
    return fast if fast is not None else generic


def _fast_predicate(t: FieldType, spec: FieldSpec, field: str, op: Op, value: Any) -> Compiled | None:
    """A closure for the frequent (type, operator) pairs, or None to use the generic path."""
    negate = op in (Op.IS_NOT, Op.NOT_IN, Op.NOT_CONTAINS)
    base = {Op.IS_NOT: Op.IS, Op.NOT_IN: Op.IN, Op.NOT_CONTAINS: Op.CONTAINS}.get(op, op)
    test: Callable[[FactView], bool] | None = None
    if base is Op.PRESENT:
        return lambda a, b: a.norm(field, spec) is not ABSENT
    if base is Op.ABSENT:
        return lambda a, b: a.norm(field, spec) is ABSENT
    if t is FieldType.TEXT and isinstance(value, str) and value:
        low = value.lower()
        if base is Op.IS:
            test = lambda a: a.lower(field, spec) == low  # noqa: E731
        elif base is Op.CONTAINS:
            test = lambda a: (x := a.lower(field, spec)) is not None and low in x  # noqa: E731
        elif base is Op.STARTS_WITH:
            test = lambda a: (x := a.lower(field, spec)) is not None and x.startswith(low)  # noqa: E731
        elif base is Op.CONTAINS_WORD:
            pattern = _word_pattern(low)
            # The substring test rejects most texts before the regular expression runs.
            test = lambda a: (  # noqa: E731
                (x := a.lower(field, spec)) is not None and low in x and pattern.search(x) is not None
            )
    elif t is FieldType.TEXT and base is Op.IN and isinstance(value, tuple | list):
        lows = frozenset(v.lower() for v in value if isinstance(v, str))
        test = lambda a: a.lower(field, spec) in lows  # noqa: E731
    elif t in (FieldType.CHOICE, FieldType.REF, FieldType.ORDINAL) and base in (Op.IS, Op.IN):
        values = (value,) if base is Op.IS else value
        if isinstance(values, tuple | list) and all(
            v is not None and not isinstance(v, bool) and isinstance(v, str | int) for v in values
        ):
            wanted = frozenset(values)
            test = lambda a: a.norm(field, spec) in wanted  # noqa: E731
    elif t is FieldType.ORDINAL and base in _COMPARE_OPS and spec.choices and value in spec.choices:
        order = {c: i for i, c in enumerate(spec.choices)}
        limit = order[value]
        compare: Callable[[int], bool] = {
            Op.LT: lambda x: x < limit,
            Op.LTE: lambda x: x <= limit,
            Op.GT: lambda x: x > limit,
            Op.GTE: lambda x: x >= limit,
        }[base]
        test = lambda a: (i := order.get(a.norm(field, spec))) is not None and compare(i)  # noqa: E731
    elif t is FieldType.SET and base is Op.CONTAINS and isinstance(value, str):
        test = lambda a: (x := a.norm(field, spec)) is not ABSENT and value in x  # noqa: E731
    elif t is FieldType.SET and base is Op.IN and isinstance(value, tuple | list):
        wanted_set = frozenset(v for v in value if isinstance(v, str))
        test = lambda a: (x := a.norm(field, spec)) is not ABSENT and not wanted_set.isdisjoint(x)  # noqa: E731
    if test is None:
        return None
    final = test
    if negate:
        return lambda a, b: not final(a)
    return lambda a, b: final(a)

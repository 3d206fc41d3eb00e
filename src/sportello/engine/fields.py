"""Custom-field values: coercion by type and validation against a department layout.

Values are stored as JSON: text/long_text/picklist as str, number as int, decimal as a
canonical decimal string (no float rounding), date as `YYYY-MM-DD`, datetime as ISO 8601 UTC,
boolean as bool, multi_select as a sorted list of distinct str.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal, DecimalException
from typing import Any

TEXT_MAX = 1_000
LONG_TEXT_MAX = 50_000
NUMBER_ABS_MAX = 2**53
DECIMAL_DIGITS_MAX = 30
DECIMAL_EXPONENT_MAX = 30
MULTI_MAX = 100
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII digits only: int() would also take "²" or "٣"
_DECIMAL_CONTEXT = Context(prec=DECIMAL_DIGITS_MAX + 2)

FIELD_TYPES = frozenset(
    {"text", "long_text", "number", "decimal", "date", "datetime", "boolean", "picklist", "multi_select"}
)
CHOICE_TYPES = frozenset({"picklist", "multi_select"})

JSONValue = str | int | bool | list[str] | None


class FieldValueError(ValueError):
    """A value that a field cannot take. `field` names it for the error the user sees."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class FieldDef:
    key: str
    label: str
    type: str
    options: tuple[str, ...] = ()


# Who must fill a field of a department's layout, and when (as the leading desks separate
# "required to solve" for agents from "required for end users" on the customer's form):
REQUIRED_NONE = "none"  # optional for agents
REQUIRED_TO_SOLVE = "to_solve"  # agents fill it before they solve or close the ticket
REQUIRED_ALWAYS = "always"  # agents fill it on every change of the ticket's fields, and to solve
AGENT_REQUIREMENTS = (REQUIRED_NONE, REQUIRED_TO_SOLVE, REQUIRED_ALWAYS)

# What the ticket's customer may do with a field of the layout (agents see and edit them all):
CUSTOMER_HIDDEN = "hidden"  # agents only: the customer never sees its value
CUSTOMER_READ = "read"  # the customer sees the value on their ticket and cannot set it
CUSTOMER_EDIT = "edit"  # the customer sees it and fills it on their form
CUSTOMER_ACCESS = (CUSTOMER_HIDDEN, CUSTOMER_READ, CUSTOMER_EDIT)


@dataclass(frozen=True, slots=True)
class LayoutRule:
    required: str = REQUIRED_NONE  # agents: one of AGENT_REQUIREMENTS
    from_customer: bool = False  # the customer fills it on the customer's form
    allowed_values: tuple[str, ...] | None = None  # None: every option of the field
    customer_access: str = CUSTOMER_EDIT  # one of CUSTOMER_ACCESS


@dataclass(frozen=True, slots=True)
class Requirements:
    """Which of a layout's requirements a change must meet. Mail, and automation acting with
    its own authority, meet none: a customer cannot fill an agent's field."""

    agent_saving: bool = False  # an agent opens the ticket, edits its fields or moves it
    solving: bool = False  # an agent's change leaves the ticket solved or closed
    customer_form: bool = False  # a customer opens a ticket on the customer's form
    by_customer: bool = False  # the customer sets the values: only fields they can fill


CUSTOMER_CANNOT_SET_MESSAGE = "cannot be set by customers in this department"


def customer_visible(*, layout: Mapping[str, LayoutRule], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a ticket's customer may see: those of the layout's fields that are not
    hidden from customers. A value of a field outside the layout is not shown either."""
    return {k: v for k, v in values.items() if k in layout and layout[k].customer_access != CUSTOMER_HIDDEN}


REQUIRED_MESSAGE = "is required in this department"
REQUIRED_TO_SOLVE_MESSAGE = "is required to solve a ticket in this department"


def missing(
    *, layout: Mapping[str, LayoutRule], values: Mapping[str, Any], requirements: Requirements
) -> list[tuple[str, str]]:
    """The layout's fields (in layout order) that `requirements` asks for and `values` leaves
    empty, each with the message the user sees."""
    out: list[tuple[str, str]] = []
    for key, rule in layout.items():
        if not _is_empty(values.get(key)):
            continue
        if requirements.agent_saving and rule.required == REQUIRED_ALWAYS:
            out.append((key, REQUIRED_MESSAGE))
        elif requirements.solving and rule.required in (REQUIRED_TO_SOLVE, REQUIRED_ALWAYS):
            out.append((key, REQUIRED_TO_SOLVE_MESSAGE))
        elif requirements.customer_form and rule.from_customer:
            out.append((key, REQUIRED_MESSAGE))
    return out


def agent_missing(*, layout: Mapping[str, LayoutRule], values: Mapping[str, Any]) -> list[str]:
    """The fields agents still have to fill before solving (shown on the ticket)."""
    return [key for key, _ in missing(layout=layout, values=values, requirements=Requirements(solving=True))]


def _clean_text(field: str, raw: object, limit: int) -> str:
    if not isinstance(raw, str):
        raise FieldValueError(field, "must be a string")
    if "\x00" in raw:
        raise FieldValueError(field, "must not contain NUL characters")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldValueError(field, "must be valid Unicode text") from None
    if len(raw) > limit:
        raise FieldValueError(field, f"must be at most {limit} characters")
    return raw


def coerce(defn: FieldDef, raw: object) -> JSONValue:
    """Turn an input value into the stored form, or raise FieldValueError. None clears."""
    f = f"custom_fields.{defn.key}"
    if raw is None:
        return None
    t = defn.type
    if t == "text":
        text = _clean_text(f, raw, TEXT_MAX)
        if "\n" in text or "\r" in text:
            raise FieldValueError(f, "must be a single line")
        return text
    if t == "long_text":
        return _clean_text(f, raw, LONG_TEXT_MAX)
    if t == "number":
        if isinstance(raw, bool):
            raise FieldValueError(f, "must be a whole number")
        if isinstance(raw, int):
            n = raw
        elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
            n = int(raw)
        elif isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
            n = int(raw.strip())
        else:
            raise FieldValueError(f, "must be a whole number")
        if abs(n) > NUMBER_ABS_MAX:
            raise FieldValueError(f, f"must be between -{NUMBER_ABS_MAX} and {NUMBER_ABS_MAX}")
        return n
    if t == "decimal":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise FieldValueError(f, "must be a decimal number")
        text = str(raw).strip()
        if len(text) > 64:
            raise FieldValueError(f, "must be a decimal number of at most 64 characters")
        try:
            d = Decimal(text)
            if not d.is_finite():
                raise FieldValueError(f, "must be a finite decimal number")
            d = d.normalize(_DECIMAL_CONTEXT) if d else Decimal(0)
        except DecimalException:
            raise FieldValueError(f, "must be a decimal number") from None
        if len(d.as_tuple().digits) > DECIMAL_DIGITS_MAX:
            raise FieldValueError(f, f"must have at most {DECIMAL_DIGITS_MAX} digits")
        if abs(d.adjusted()) > DECIMAL_EXPONENT_MAX:
            raise FieldValueError(
                f, f"must lie between 10^-{DECIMAL_EXPONENT_MAX} and 10^{DECIMAL_EXPONENT_MAX}"
            )
        out = format(d, "f")
        return "0" if out in {"-0", ""} else out
    if t == "date":
        if not isinstance(raw, str):
            raise FieldValueError(f, "must be a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            raise FieldValueError(f, "must be a date (YYYY-MM-DD)") from None
    if t == "datetime":
        if not isinstance(raw, str):
            raise FieldValueError(f, "must be a date and time (ISO 8601 with a UTC offset)")
        try:
            dt = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise FieldValueError(f, "must be a date and time (ISO 8601 with a UTC offset)") from None
        if dt.tzinfo is None:
            raise FieldValueError(f, "must carry a UTC offset, e.g. 2026-01-31T09:30:00+01:00")
        try:
            return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
        except OverflowError:
            raise FieldValueError(f, "is outside the supported range of dates") from None
    if t == "boolean":
        if isinstance(raw, bool):
            return raw
        raise FieldValueError(f, "must be true or false")
    if t == "picklist":
        if not isinstance(raw, str):
            raise FieldValueError(f, "must be one of the field's values")
        if raw not in defn.options:
            raise FieldValueError(f, f"{_show(raw)} is not one of the field's values")
        return raw
    if t == "multi_select":
        if not isinstance(raw, list | tuple):
            raise FieldValueError(f, "must be a list of the field's values")
        if len(raw) > MULTI_MAX:
            raise FieldValueError(f, f"must have at most {MULTI_MAX} values")
        values: set[str] = set()
        for item in raw:
            if not isinstance(item, str) or item not in defn.options:
                raise FieldValueError(f, f"{_show(item)} is not one of the field's values")
            values.add(item)
        return sorted(values)
    raise FieldValueError(f, f"has an unknown type {t!r}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_empty(value: JSONValue) -> bool:
    return value is None or value == "" or value == []


def validate(
    *,
    defs: Mapping[str, FieldDef],
    layout: Mapping[str, LayoutRule],
    current: Mapping[str, Any],
    changes: Mapping[str, object],
    requirements: Requirements = Requirements(agent_saving=True),
) -> dict[str, JSONValue]:
    """Return the complete new custom-field mapping for a ticket in a department.

    `current` is what the ticket holds, `changes` what the caller sets. Fields outside the layout
    cannot be set; values carried over from before are re-checked against the layout (a ticket
    moved to another department must satisfy the new department's picklists). Fields that the
    layout does not list are dropped when carried over. `requirements`: which of the layout's
    required fields this change must leave filled (see `missing`); the first one missing is
    the error. A customer's change (`requirements.by_customer`) may set only the fields the
    layout lets customers fill; any other is refused, naming it.
    """
    result: dict[str, JSONValue] = {}
    for key, raw in changes.items():
        f = f"custom_fields.{key}"
        if key not in defs:
            raise FieldValueError(f, "is not a custom field")
        if key not in layout:
            raise FieldValueError(f, "does not apply in this department")
        if requirements.by_customer and layout[key].customer_access != CUSTOMER_EDIT:
            raise FieldValueError(f, CUSTOMER_CANNOT_SET_MESSAGE)
        result[key] = coerce(defs[key], raw)
    for key, value in current.items():
        if key not in result and key in layout and key in defs:
            result[key] = value
    for key, rule in layout.items():
        value = result.get(key)
        f = f"custom_fields.{key}"
        if rule.allowed_values is not None and not _is_empty(value):
            allowed = set(rule.allowed_values)
            chosen = value if isinstance(value, list) else [value]
            for item in chosen:
                if item not in allowed:
                    raise FieldValueError(f, f"{_show(item)} is not allowed in this department")
    absent = missing(layout=layout, values=result, requirements=requirements)
    if absent:
        key, message = absent[0]
        raise FieldValueError(f"custom_fields.{key}", message)
    return {k: v for k, v in result.items() if not _is_empty(v)}

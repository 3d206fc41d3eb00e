"""A view's condition: the rules' condition language (`sportello.engine.conditions`) plus two
placeholders that make one view right for every agent:

- `"$me"` as the value of a `ticket.assignee` (or any reference) predicate: the viewing agent;
- `"$my_departments"` as the value of an `in` / `not_in` predicate: the departments the agent
  works in (an admin who works in none: every active department);
- `"$days_ago:N"` (N a whole number of days, 1 to 3650) as the value of a date-time predicate:
  the instant N days before the page asks (`{"field": "ticket.solved_at", "op": "gte",
  "value": "$days_ago:7"}`: solved in the last week).

`expand` substitutes them; the result is parsed like a rule's condition and compiled to the
database filter with `automation.query.ticket_filter`, so a view selects exactly the tickets
for which the condition evaluates true in Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q

from sportello.automation.query import ticket_filter
from sportello.core.errors import ValidationFailed
from sportello.engine.conditions import Condition, FieldSpec, parse_condition
from sportello.engine.schema import RuleSchemaError

ME = "$me"
MY_DEPARTMENTS = "$my_departments"
DAYS_AGO = "$days_ago:"
DAYS_AGO_MAX = 3650
# Where no page asks (validating a stored condition): any instant parses alike.
_STAND_IN_NOW = datetime(2000, 1, 1, tzinfo=UTC)


def days_ago(days: int) -> str:
    return f"{DAYS_AGO}{days}"


def _days_ago(value: str, now: datetime) -> str | None:
    """The instant of a `$days_ago:N` value as the condition language writes one; None when N
    is not a whole number of days within bounds (the value is then left for the parser to
    refuse)."""
    raw = value.removeprefix(DAYS_AGO)
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= DAYS_AGO_MAX:
        return None
    return (now - timedelta(days=int(raw))).astimezone(UTC).isoformat()


def expand(data: Any, *, me: int, departments: Sequence[int], now: datetime | None = None) -> Any:
    """`data` with the placeholders replaced. A `$my_departments` list with no department
    becomes `{"any": []}` (false), as "in no department" is. `now`: the instant `$days_ago`
    counts back from."""
    if isinstance(data, dict):
        if "field" in data:
            value = data.get("value")
            if value == ME:
                return {**data, "value": me}
            if value == MY_DEPARTMENTS:
                if not departments:
                    return {"not": {"any": []}} if data.get("op") == "not_in" else {"any": []}
                return {**data, "value": list(departments)}
            if isinstance(value, str) and value.startswith(DAYS_AGO):
                instant = _days_ago(value, now or _STAND_IN_NOW)
                return data if instant is None else {**data, "value": instant}
            return data
        return {k: expand(v, me=me, departments=departments, now=now) for k, v in data.items()}
    if isinstance(data, list):
        return [expand(v, me=me, departments=departments, now=now) for v in data]
    return data


def view_condition(
    data: Any,
    *,
    specs: Mapping[str, FieldSpec],
    me: int,
    departments: Sequence[int],
    now: datetime | None = None,
) -> Condition:
    """The parsed condition, or ValidationFailed naming the bad part (`condition.all[1].value`)."""
    try:
        expanded = expand(data, me=me, departments=departments, now=now)
        return parse_condition(expanded, specs=specs, path="condition")
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path) from None


def validate(data: Any, *, specs: Mapping[str, FieldSpec]) -> None:
    """Raise ValidationFailed (naming the path) unless `data` is a condition a view may hold:
    parsed with stand-in placeholder values and compiled once (event-only fields and change
    operators are refused there)."""
    cond = view_condition(data, specs=specs, me=1, departments=[1])
    try:
        ticket_filter(cond, specs=specs, path="condition", now=datetime(2000, 1, 1).astimezone())
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path) from None


def compile_filter(
    data: Any, *, specs: Mapping[str, FieldSpec], me: int, departments: Sequence[int], now: datetime
) -> Q:
    """The database filter of a stored (already validated) condition for this agent."""
    cond = view_condition(data, specs=specs, me=me, departments=departments, now=now)
    return ticket_filter(cond, specs=specs, path="condition", now=now)

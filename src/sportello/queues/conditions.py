"""A view's condition: the rules' condition language (`sportello.engine.conditions`) plus two
placeholders that make one view right for every agent:

- `"$me"` as the value of a `ticket.assignee` (or any reference) predicate: the viewing agent;
- `"$my_departments"` as the value of an `in` / `not_in` predicate: the departments the agent
  works in (an admin who works in none: every active department).

`expand` substitutes them; the result is parsed like a rule's condition and compiled to the
database filter with `automation.query.ticket_filter`, so a view selects exactly the tickets
for which the condition evaluates true in Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Q

from sportello.automation.query import ticket_filter
from sportello.core.errors import ValidationFailed
from sportello.engine.conditions import Condition, FieldSpec, parse_condition
from sportello.engine.schema import RuleSchemaError

ME = "$me"
MY_DEPARTMENTS = "$my_departments"


def expand(data: Any, *, me: int, departments: Sequence[int]) -> Any:
    """`data` with the placeholders replaced. A `$my_departments` list with no department
    becomes `{"any": []}` (false), as "in no department" is."""
    if isinstance(data, dict):
        if "field" in data:
            value = data.get("value")
            if value == ME:
                return {**data, "value": me}
            if value == MY_DEPARTMENTS:
                if not departments:
                    return {"not": {"any": []}} if data.get("op") == "not_in" else {"any": []}
                return {**data, "value": list(departments)}
            return data
        return {k: expand(v, me=me, departments=departments) for k, v in data.items()}
    if isinstance(data, list):
        return [expand(v, me=me, departments=departments) for v in data]
    return data


def view_condition(
    data: Any, *, specs: Mapping[str, FieldSpec], me: int, departments: Sequence[int]
) -> Condition:
    """The parsed condition, or ValidationFailed naming the bad part (`condition.all[1].value`)."""
    try:
        return parse_condition(expand(data, me=me, departments=departments), specs=specs, path="condition")
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
    cond = view_condition(data, specs=specs, me=me, departments=departments)
    return ticket_filter(cond, specs=specs, path="condition", now=now)

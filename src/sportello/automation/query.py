"""Conditions as database filters: `ticket_filter(cond, specs=...)` compiles a condition tree
(`sportello.engine.conditions`) to a `Q` over `tickets.Ticket` that selects exactly the tickets
for which `evaluate(cond, ticket_facts(ticket), specs=...)` holds. Use it as
`Ticket.objects.filter(ticket_filter(cond, specs=specs))`; no annotation is needed.

How it stays equal to the Python side, on SQLite and PostgreSQL:

- Every predicate compiles to a condition that is never NULL (absent values are handled
  explicitly, then `COALESCE(..., FALSE)`), so `not`, `is_not`, `not_in` and `not_contains` are
  plain SQL negations of their positive forms and are true on absent values, as in Python.
  The wrapper hides a column from its indexes, so `is`, `in`, `present`/`absent` and the order
  operators on the ticket row's own choice, reference, priority and date-time columns compile
  to plain lookups instead (`status_category IN (...)`, `assignee_id IS NULL`, `updated_at >=
  ...`), a nullable column's with its own `IS NOT NULL` (see `_plain_column`); `is` on the
  requester's and organization's VIP flags compiles to a reference `IN` the flagged rows
  (`_flag`).
- Text is compared case-insensitively as Python's `str.lower()` does:
  * PostgreSQL: `lower(value COLLATE "und-x-icu")` against the Python-lowered needle. The ICU
    root collation gives Unicode's full lower-case mapping whatever the database's `lc_ctype`
    (a database created with ctype `C` would lower ASCII only); with it, regular expressions'
    `\\w` is Unicode too. This needs a PostgreSQL built with ICU (the PGDG and Debian packages
    and the official images are). `contains` and `starts_with` use `strpos`, never `LIKE`, so
    `%` and `_` in a needle are ordinary characters.
  * SQLite: `lower()` and `LIKE` fold ASCII only, so text operators use `REGEXP`, which Django's
    SQLite backend implements with Python's `re.search`: `(?i)` plus the escaped needle.
    `re.IGNORECASE` equals comparing `str.lower()`s for every letter with a one-character
    lower-case form (all of Latin-1 and Latin Extended, Greek, Cyrillic); the few letters that
    lower-case to two characters (`İ`) may differ.
- `contains_word` is a whole-word match: the needle not preceded nor followed by a word
  character (`\\w`: Unicode letters, digits, underscore).
- `matches` is `re.search(pattern, text[:MATCH_INPUT_MAX])`, false on absent text. On SQLite
  it runs Python's `re` itself (identical). On PostgreSQL it runs as an advanced regular
  expression (`~`) after `pg_pattern` turns `\\b`/`\\B` into `\\y`/`\\Y`; the dialects then
  agree on literals, `.`, bracket classes, `\\d \\s \\w`, `* + ? {m,n}`, alternation, groups,
  `^ $ \\A \\Z` and a leading `(?i)` on one-line text. They differ on Python-only syntax
  (named groups, inline flags other than a leading `(?i)`: PostgreSQL raises an error) and on
  text with newlines (`$` before a final newline, `.` matching a newline).
  `requester.domain` is lower-cased in SQL with `lower()`, ASCII only on SQLite, so a `matches`
  on a domain with upper-case non-ASCII letters can differ there.
- Numbers in custom fields (`number` JSON integers, `decimal` canonical strings) compare as
  `numeric` on PostgreSQL (exact) and as SQLite's NUMERIC (integers exact, decimals as double:
  exact to 15 significant digits). Custom dates compare as `date` (PostgreSQL) or ISO text
  (SQLite); custom date-times as `timestamptz` or as ISO text normalised to microseconds.
- `ticket.satisfaction` and `ticket.satisfaction_score` are stored with the ticket's survey:
  each compiles to a scalar subquery on it (registered by the surveys, `facts.satisfaction_sql`:
  "unoffered" and NULL without a survey or while it waits to be sent, "offered" and NULL once
  offered, the stored satisfaction and rating once answered), then compares as a choice or a
  number does.
- `ticket.overdue` is computed, not stored: `due_at IS NOT NULL AND due_at <= now`, with the
  `now` the filter is given (the instant `ticket_facts` computes it at).
- Change operators (`changed`, ...) and event-only facts (`message.*`, `event.*`,
  `clock.*`) have no stored value: they raise `RuleSchemaError` with the predicate's path.
- As in `evaluate`, a predicate on a field `specs` does not describe (a custom field deleted
  since the rule was saved) or with an operator its type does not take is false, negated or not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Exists, Expression, F, OuterRef, Q
from django.db.models.sql.compiler import SQLCompiler

from sportello.contacts.models import Contact, Organization
from sportello.engine.conditions import (
    CHANGE_OPS,
    MATCH_INPUT_MAX,
    OPS_BY_TYPE,
    All,
    AnyOf,
    Condition,
    FieldSpec,
    FieldType,
    Not,
    Op,
    Predicate,
)
from sportello.engine.schema import RuleSchemaError, at
from sportello.tickets.models import TicketTag

from . import facts
from .facts import CUSTOM_PREFIX, PRIORITY_VALUE

SqlParams = tuple[str, list[Any]]
ICU = '"und-x-icu"'

# Standard fields stored in a column of the ticket or a row it references.
_COLUMNS: dict[str, str] = {
    "ticket.number": "number",
    "ticket.subject": "subject",
    "ticket.status": "status__key",
    "ticket.status_category": "status_category",
    "ticket.priority": "priority",
    "ticket.channel": "channel",
    "ticket.department": "department_id",
    "ticket.team": "team_id",
    "ticket.assignee": "assignee_id",
    "ticket.requester": "requester_id",
    "ticket.organization": "organization_id",
    "ticket.due_at": "due_at",
    "ticket.created_at": "created_at",
    "ticket.updated_at": "updated_at",
    "ticket.first_response_at": "first_response_at",
    "ticket.solved_at": "solved_at",
    "ticket.message_count": "message_count",
    "ticket.customer_message_count": "customer_message_count",
    "ticket.agent_reply_count": "agent_reply_count",
    "requester.email": "requester__email",
    "requester.domain": "requester__email",  # computed from the e-mail, see _domain
    "requester.name": "requester__name",
    "requester.vip": "requester__vip",
    "requester.language": "requester__language",
    "organization.name": "organization__name",
    "organization.tier": "organization__tier",
    "organization.vip": "organization__vip",
}

# The satisfaction facts, stored with the ticket's survey: the index of each in the pair of
# expressions the surveys register (`facts.satisfaction_sql`), each a scalar subquery.
_SATISFACTION = {"ticket.satisfaction": 0, "ticket.satisfaction_score": 1}

_ORDER_OPS = {Op.LT: "<", Op.LTE: "<=", Op.GT: ">", Op.GTE: ">="}
_NEGATIONS = {Op.IS_NOT: Op.IS, Op.NOT_IN: Op.IN, Op.NOT_CONTAINS: Op.CONTAINS, Op.ABSENT: Op.PRESENT}


def ticket_filter(
    cond: Condition, *, specs: Mapping[str, FieldSpec], path: str = "when", now: datetime | None = None
) -> Q:
    """The filter over `tickets.Ticket` selecting the tickets where `cond` holds.

    `now`: the instant `ticket.overdue` is about (as `ticket_facts(now=...)`); required when the
    condition names it. Raises RuleSchemaError (with the path of the predicate, e.g.
    `when.all[2].field`) for a field that is unknown or exists only during an event, and for a
    change operator."""
    if isinstance(cond, All):
        if not cond.items:  # not `Q()`: its negation would still select every ticket
            return _constant(True)
        q = ticket_filter(cond.items[0], specs=specs, path=at(at(path, "all"), 0), now=now)
        for i, item in enumerate(cond.items[1:], start=1):
            q &= ticket_filter(item, specs=specs, path=at(at(path, "all"), i), now=now)
        return q
    if isinstance(cond, AnyOf):
        if not cond.items:
            return _constant(False)
        q = ticket_filter(cond.items[0], specs=specs, path=at(at(path, "any"), 0), now=now)
        for i, item in enumerate(cond.items[1:], start=1):
            q |= ticket_filter(item, specs=specs, path=at(at(path, "any"), i), now=now)
        return q
    if isinstance(cond, Not):
        return ~ticket_filter(cond.item, specs=specs, path=at(path, "not"), now=now)
    return _predicate(cond, specs=specs, path=path, now=now)


# --------------------------------------------------------------------------------------------
# SQL building blocks


class _Bool(Expression):
    """A boolean SQL condition rendered per backend around compiled source expressions.
    `render(vendor, [(sql, params), ...])` returns the condition; it is wrapped so it is
    never NULL."""

    output_field = BooleanField()

    def __init__(
        self, sources: Sequence[Expression | F], render: Callable[[str, list[SqlParams]], SqlParams]
    ):
        super().__init__()
        # F() as given, until the query resolves them into what the compiler compiles (columns).
        self.sources: list[Any] = list(sources)
        self.render = render

    def get_source_expressions(self) -> list[Any]:
        return self.sources

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.sources = list(exprs)

    def as_sql(  # type: ignore[override]  # django-stubs: params a tuple of str | int; Django: any list
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        compiled = []
        for source in self.sources:
            source_sql, source_params = compiler.compile(source)
            compiled.append((source_sql, list(source_params)))
        sql, params = self.render(connection.vendor, compiled)
        return f"COALESCE(({sql}), FALSE)", params


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def pg_pattern(pattern: str) -> str:
    """A Python regular expression as a PostgreSQL advanced one: the word-boundary escapes
    `\\b` and `\\B` (outside bracket classes) become `\\y` and `\\Y`; the rest is common syntax."""
    out: list[str] = []
    i, class_start = 0, -1  # class_start: index of the open bracket class's "[", or -1
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(c + nxt if class_start >= 0 else {"b": "\\y", "B": "\\Y"}.get(nxt, c + nxt))
            i += 2
            continue
        if class_start >= 0:
            # A "]" right after "[" or "[^" is a member, not the end.
            first = class_start + (2 if pattern[class_start + 1 : class_start + 2] == "^" else 1)
            if c == "]" and i > first:
                class_start = -1
        elif c == "[":
            class_start = i
        out.append(c)
        i += 1
    return "".join(out)


def _pg_regex_literal(text: str) -> str:
    """`text` as a literal inside a PostgreSQL advanced regular expression: every ASCII
    character other than a letter or digit is escaped with a backslash (an escaped
    non-alphanumeric character always stands for itself)."""
    return "".join(f"\\{c}" if c.isascii() and not c.isalnum() else c for c in text)


class _Value:
    """How to read a field's value in SQL: the source expression (a column) and a function
    turning its compiled SQL into the value's SQL for a backend."""

    def __init__(
        self, source: Expression | F, extract: Callable[[str, str], SqlParams] | None = None
    ) -> None:
        self.source = source
        self.extract = extract

    def cond(self, build: Callable[[str, str], SqlParams]) -> Q:
        """A condition over the value: `build(vendor, v)` returns SQL in which `v` stands for the
        value (as many times as needed) and the parameters of its own placeholders."""

        def render(vendor: str, cols: list[SqlParams]) -> SqlParams:
            col_sql, col_params = cols[0]
            if self.extract is None:  # the source as it is (a column, or a subquery's own SQL)
                value_sql, value_params = col_sql, list(col_params)
            else:
                assert not col_params, "a column compiles without parameters"
                value_sql, value_params = self.extract(vendor, col_sql)
            sql, params = build(vendor, _MARK)
            own = iter(params)
            pieces = sql.split(_MARK)
            out_sql, out_params = pieces[0], [next(own) for _ in range(pieces[0].count("%s"))]
            for piece in pieces[1:]:
                out_sql += value_sql + piece
                out_params += value_params
                out_params += [next(own) for _ in range(piece.count("%s"))]
            return out_sql, out_params

        return Q(_Bool([self.source], render))


_MARK = "\x00value\x00"


def _constant(value: bool) -> Q:
    sql = "1 = 1" if value else "1 = 0"
    return Q(_Bool([], lambda vendor, cols: (sql, [])))


# --------------------------------------------------------------------------------------------
# Field values


def _json_path(key: str) -> str:
    return "$." + json.dumps(key)


def _custom_value(key: str, ftype: FieldType) -> _Value:
    """The SQL value of custom field `key` (JSON in `custom_fields`) as its condition type; NULL
    when missing or not of the stored form for the type."""
    path = _json_path(key)

    def extract(vendor: str, col: str) -> SqlParams:
        if vendor == "postgresql":
            j = f"({col} -> %s)"
            t = f"jsonb_typeof{j}"
            text = f"({col} ->> %s)"
            if ftype in (FieldType.TEXT, FieldType.CHOICE):
                return f"(CASE WHEN {t} = 'string' THEN {text} END)", [key, key]
            if ftype == FieldType.NUMBER:
                return (
                    f"(CASE WHEN {t} = 'number' OR ({t} = 'string' AND {text} ~ '^-?[0-9]+(\\.[0-9]+)?$') "
                    f"THEN {text}::numeric END)",
                    [key, key, key, key],
                )
            if ftype == FieldType.DATE:
                return (
                    f"(CASE WHEN {t} = 'string' AND {text} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' "
                    f"THEN {text}::date END)",
                    [key, key, key],
                )
            if ftype == FieldType.DATETIME:
                return (
                    f"(CASE WHEN {t} = 'string' AND {text} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T' "
                    f"THEN {text}::timestamptz END)",
                    [key, key, key],
                )
            if ftype == FieldType.BOOLEAN:
                return f"(CASE WHEN {t} = 'boolean' THEN {text}::boolean END)", [key, key]
            if ftype == FieldType.SET:
                return f"(CASE WHEN {t} = 'array' THEN {j} END)", [key, key]
        else:
            t = f"json_type({col}, %s)"
            v = f"json_extract({col}, %s)"
            if ftype in (FieldType.TEXT, FieldType.CHOICE, FieldType.DATE):
                return f"(CASE WHEN {t} = 'text' THEN {v} END)", [path, path]
            if ftype == FieldType.NUMBER:
                return (
                    f"(CASE WHEN {t} IN ('integer', 'real') THEN {v} "
                    f"WHEN {t} = 'text' THEN CAST({v} AS NUMERIC) END)",
                    [path, path, path, path],
                )
            if ftype == FieldType.DATETIME:
                # Stored as ...SSZ or ...SS.ffffffZ (engine.fields): compare as ...SS.ffffffZ.
                return (
                    f"(CASE WHEN {t} = 'text' THEN (CASE WHEN length({v}) = 20 "
                    f"THEN substr({v}, 1, 19) || '.000000Z' ELSE {v} END) END)",
                    [path, path, path, path],
                )
            if ftype == FieldType.BOOLEAN:
                return f"(CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)", [path]
            if ftype == FieldType.SET:
                return f"(CASE WHEN {t} = 'array' THEN {v} END)", [path, path]
        raise AssertionError(ftype)

    return _Value(F("custom_fields"), extract)


def _domain_value() -> _Value:
    """`requester.domain`: the e-mail's part after the last `@`, lower-cased; NULL without `@`."""

    def extract(vendor: str, col: str) -> SqlParams:
        if vendor == "postgresql":
            return f"lower(substring({col} from '@([^@]*)$') COLLATE {ICU})", []
        tail = f"substr({col}, length(rtrim({col}, replace({col}, '@', ''))) + 1)"
        return f"(CASE WHEN instr({col}, '@') > 0 THEN lower({tail}) END)", []

    return _Value(F("requester__email"), extract)


# --------------------------------------------------------------------------------------------
# Predicates


def _predicate(p: Predicate, *, specs: Mapping[str, FieldSpec], path: str, now: datetime | None) -> Q:
    spec = specs.get(p.field)
    if spec is None:  # e.g. a custom field deleted since: false, as `evaluate` says
        return _constant(False)
    if spec.event_only:
        raise RuleSchemaError(
            at(path, "field"), f"{p.field} exists only during a change; a stored-ticket filter cannot use it"
        )
    if p.op in CHANGE_OPS:
        raise RuleSchemaError(
            at(path, "op"), f"{p.op} compares a change; a stored-ticket filter cannot use it"
        )
    if p.op not in OPS_BY_TYPE[spec.type]:  # the parser refuses it; `evaluate` says false
        return _constant(False)
    if p.op is Op.ABSENT and _PLAIN.get(p.field) and spec.type is not FieldType.CHOICE:
        return Q(**{f"{_COLUMNS[p.field]}__isnull": True})  # e.g. `assignee_id IS NULL`
    if p.op in _NEGATIONS:
        return ~_predicate(Predicate(p.field, _NEGATIONS[p.op], p.value), specs=specs, path=path, now=now)
    if p.field == "ticket.overdue":
        return _overdue(p, now)
    if p.field == "ticket.tags":
        return _tags(p, path)
    plain = _plain_column(p, spec)
    if plain is not None:
        return plain
    if p.field in _FLAGS and p.op is Op.IS and isinstance(p.value, bool):
        return _flag(p.field, p.value)
    if p.field.startswith(CUSTOM_PREFIX):
        value = _custom_value(p.field.removeprefix(CUSTOM_PREFIX), spec.type)
    elif p.field == "requester.domain":
        value = _domain_value()
    elif p.field in _SATISFACTION:
        value = _Value(facts.satisfaction_sql()[_SATISFACTION[p.field]])
    elif p.field in _COLUMNS:
        value = _Value(F(_COLUMNS[p.field]))
    else:
        raise RuleSchemaError(at(path, "field"), f"{p.field} has no stored value")
    if spec.type == FieldType.SET:
        return _json_set(p, value, path)
    if spec.type == FieldType.TEXT:
        return _text(p, value, path)
    return _scalar(p, spec, value, path)


# Columns of the ticket row compared as plain lookups (see `_plain_column`), and whether they
# may hold NULL. Choices, references, the priority and instants: the value in the column is the
# fact itself (no case folding, no JSON, no join), so `=`, `IN` and `<`… need no wrapper.
_PLAIN: dict[str, bool] = {
    "ticket.status_category": False,
    "ticket.priority": False,
    "ticket.channel": False,
    "ticket.department": False,
    "ticket.team": True,
    "ticket.assignee": True,
    "ticket.requester": False,
    "ticket.organization": True,
    "ticket.due_at": True,
    "ticket.created_at": False,
    "ticket.updated_at": False,
    "ticket.first_response_at": True,
    "ticket.solved_at": True,
}
_LOOKUPS = {Op.LT: "lt", Op.LTE: "lte", Op.GT: "gt", Op.GTE: "gte"}


def _plain_column(p: Predicate, spec: FieldSpec) -> Q | None:
    """`is`, `in`, `present` and the order operators on a column of the ticket row, as plain
    lookups an index can serve (`status_category IN (...)`, `assignee_id IS NULL`,
    `updated_at >= ...`); None for any other predicate.

    Still never NULL, so negations stay exact: a nullable column's predicate carries its own
    `IS NOT NULL` (a negated one is then true on NULL, as `is_not` and `absent` are in Python).
    A choice value is a non-empty string (the parser refuses ''), so `IN` never matches the
    empty string a choice column may hold (absent in Python)."""
    nullable = _PLAIN.get(p.field)
    if nullable is None or spec.type is FieldType.NUMBER:
        return None
    column = _COLUMNS[p.field]
    present = Q(**{f"{column}__isnull": False})
    if p.op is Op.PRESENT:
        if spec.type is FieldType.CHOICE:
            return present & ~Q(**{column: ""}) if nullable else ~Q(**{column: ""})
        return present if nullable else _constant(True)
    if p.op in (Op.IS, Op.IN):
        raws = list(p.value) if p.op is Op.IN else [p.value]
        if spec.type is FieldType.ORDINAL:  # the priority: stored as its position (1-based)
            raws = [PRIORITY_VALUE.get(str(r)) for r in raws]
        params = [r for r in raws if _plain_param(spec.type, r)]
        if not params:
            return _constant(False)
        q = Q(**{f"{column}__in": params})
    elif p.op in _LOOKUPS and spec.type in (FieldType.DATETIME, FieldType.ORDINAL):
        raw = PRIORITY_VALUE.get(str(p.value)) if spec.type is FieldType.ORDINAL else p.value
        if not _plain_param(spec.type, raw):
            return _constant(False)
        q = Q(**{f"{column}__{_LOOKUPS[p.op]}": raw})
    else:
        return None
    return present & q if nullable else q


# Flags of the row a ticket references: the reference column, whether it may be NULL, and the
# referenced rows' manager.
_FLAGS: dict[str, tuple[str, bool, Callable[[], Any]]] = {
    "requester.vip": ("requester_id", False, lambda: Contact.objects),
    "organization.vip": ("organization_id", True, lambda: Organization.objects),
}


def _flag(field: str, value: bool) -> Q:
    """`requester.vip is true` as `requester_id IN (SELECT id FROM contacts WHERE vip)`: the
    few flagged rows are read once (a hash of them) instead of joining every ticket's requester;
    the ticket side is then a column an index holds. The flag columns are never NULL; a NULL
    reference (no organization) gets its own `IS NOT NULL`, so negations stay exact."""
    column, nullable, manager = _FLAGS[field]
    q = Q(**{f"{column}__in": manager().filter(vip=value).values("pk")})
    return Q(**{f"{column}__isnull": False}) & q if nullable else q


def _plain_param(ftype: FieldType, value: Any) -> bool:
    """Whether `value` can equal a stored fact of this type (else the predicate skips it, as
    `evaluate` finds no fact equal to it)."""
    if ftype is FieldType.CHOICE:
        return isinstance(value, str) and value != ""
    if ftype is FieldType.DATETIME:
        return isinstance(value, datetime) and value.utcoffset() is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _overdue(p: Predicate, now: datetime | None) -> Q:
    """`ticket.overdue` (always true or false, never absent): a due date at or before `now`."""
    if now is None:
        raise ValueError("a filter on ticket.overdue needs the instant it is about (now)")
    if p.op is Op.PRESENT:
        return _constant(True)
    passed = Q(due_at__isnull=False, due_at__lte=now)
    if p.op is Op.IS and isinstance(p.value, bool):
        return passed if p.value else ~passed
    return _constant(False)  # the parser takes no other operator for a boolean


def _unsupported(p: Predicate, path: str, type_: FieldType) -> RuleSchemaError:
    return RuleSchemaError(at(path, "op"), f"operator {p.op} does not apply to a {type_} field")


def _present_text(v: str) -> str:
    return f"{v} IS NOT NULL AND {v} <> ''"


def _text(p: Predicate, value: _Value, path: str) -> Q:
    op = p.op
    if op == Op.PRESENT:
        return value.cond(lambda vendor, v: (_present_text(v), []))
    if op == Op.MATCHES:
        pattern = str(p.value)
        # Like the engine: false on absent text; search only the first MATCH_INPUT_MAX characters.
        return value.cond(
            lambda vendor, v: (
                (
                    f"{_present_text(v)} AND (left({v}, %s) COLLATE {ICU}) ~ %s",
                    [MATCH_INPUT_MAX, pg_pattern(pattern)],
                )
                if vendor == "postgresql"
                else (f"{_present_text(v)} AND substr({v}, 1, %s) REGEXP %s", [MATCH_INPUT_MAX, pattern])
            )
        )
    needles = [str(x) for x in p.value] if op == Op.IN else [str(p.value)]
    if op == Op.IN and not needles:
        return _constant(False)
    if op not in (Op.IS, Op.IN, Op.CONTAINS, Op.STARTS_WITH, Op.CONTAINS_WORD):
        raise _unsupported(p, path, FieldType.TEXT)
    lowered = [n.lower() for n in needles]

    def build(vendor: str, v: str) -> SqlParams:
        present = _present_text(v)
        if vendor == "postgresql":
            low = f"lower({v} COLLATE {ICU})"
            if op in (Op.IS, Op.IN):
                return f"{present} AND {low} IN ({_placeholders(len(lowered))})", lowered
            if op == Op.CONTAINS:
                return f"{present} AND strpos({low}, %s) > 0", lowered
            if op == Op.STARTS_WITH:
                return f"{present} AND strpos({low}, %s) = 1", lowered
            word = "(?<!\\w)" + _pg_regex_literal(lowered[0]) + "(?!\\w)"
            return f"{present} AND {low} ~ %s", [word]
        escaped = "|".join(re.escape(n) for n in needles)
        if op in (Op.IS, Op.IN):
            pattern = f"(?i)\\A(?:{escaped})\\Z"
        elif op == Op.CONTAINS:
            pattern = f"(?i){escaped}"
        elif op == Op.STARTS_WITH:
            pattern = f"(?i)\\A{escaped}"
        else:
            pattern = f"(?i)(?<!\\w){escaped}(?!\\w)"
        return f"{present} AND {v} REGEXP %s", [pattern]

    return value.cond(build)


def _scalar(p: Predicate, spec: FieldSpec, value: _Value, path: str) -> Q:
    op, ftype = p.op, spec.type
    custom = spec.path.startswith(CUSTOM_PREFIX)
    stringy = ftype in (FieldType.CHOICE,)
    if op == Op.PRESENT:
        return value.cond(lambda vendor, v: (_present_text(v) if stringy else f"{v} IS NOT NULL", []))
    if op in (Op.IS, Op.IN):
        raws = list(p.value) if op == Op.IN else [p.value]
    elif op in _ORDER_OPS and ftype in (
        FieldType.NUMBER,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.ORDINAL,
    ):
        raws = [p.value]
    else:
        raise _unsupported(p, path, ftype)
    if ftype == FieldType.ORDINAL and spec.path != "ticket.priority":
        raise RuleSchemaError(at(path, "field"), f"{p.field} has no stored order")
    if spec.path == "ticket.priority":  # stored as its position in PRIORITY_ORDER (1-based)
        raws = [PRIORITY_VALUE.get(str(r)) for r in raws]
    params = [r for r in raws if r is not None]
    if not params:
        return _constant(False)

    def build(vendor: str, v: str) -> SqlParams:
        adapted, holders = _adapt(vendor, ftype, custom, params)
        present = _present_text(v) if stringy else f"{v} IS NOT NULL"
        if op in _ORDER_OPS:
            return f"{present} AND {v} {_ORDER_OPS[op]} {holders[0]}", adapted
        return f"{present} AND {v} IN ({', '.join(holders)})", adapted

    return value.cond(build)


def _adapt(vendor: str, ftype: FieldType, custom: bool, values: list[Any]) -> tuple[list[Any], list[str]]:
    """Parameters and their placeholders, in the form the stored value compares with."""
    if vendor == "postgresql":
        return values, ["%s"] * len(values)
    if ftype == FieldType.DATETIME:
        if custom:
            text = [v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for v in values]
            return text, ["%s"] * len(values)
        # Django's SQLite form of a DateTimeField: naive UTC "YYYY-MM-DD HH:MM:SS[.ffffff]".
        text = [str(v.astimezone(UTC).replace(tzinfo=None)) for v in values]
        return text, ["%s"] * len(values)
    if ftype == FieldType.DATE:
        return [v.isoformat() for v in values], ["%s"] * len(values)
    if ftype == FieldType.NUMBER:
        return [str(v) for v in values], ["CAST(%s AS NUMERIC)"] * len(values)
    if ftype == FieldType.BOOLEAN:
        return [1 if v else 0 for v in values], ["%s"] * len(values)
    return values, ["%s"] * len(values)


def _json_set(p: Predicate, value: _Value, path: str) -> Q:
    """SET ops on a multi-select custom field (a JSON array of strings)."""
    op = p.op
    if op == Op.PRESENT:
        members: list[str] = []
    elif op == Op.CONTAINS:
        members = [str(p.value)]
    elif op in (Op.IN, Op.IS):
        members = sorted({str(x) for x in p.value})
    else:
        raise _unsupported(p, path, FieldType.SET)
    if op != Op.PRESENT and not members:
        return _constant(False)

    def build(vendor: str, v: str) -> SqlParams:
        if vendor == "postgresql":
            if op == Op.PRESENT:
                return f"{v} <> '[]'::jsonb", []
            if op == Op.IS:
                return f"{v} @> %s::jsonb AND {v} <@ %s::jsonb", [json.dumps(members)] * 2
            return " OR ".join([f"{v} @> %s::jsonb"] * len(members)), [json.dumps([m]) for m in members]
        each = f"json_each({v})"
        if op == Op.PRESENT:
            return f"EXISTS (SELECT 1 FROM {each})", []  # noqa: S608 (column SQL, no input)
        holders = _placeholders(len(members))
        if op == Op.IS:
            return (
                f"NOT EXISTS (SELECT 1 FROM {each} WHERE value NOT IN ({holders})) "  # noqa: S608
                f"AND (SELECT COUNT(DISTINCT value) FROM {each} WHERE value IN ({holders})) = %s",
                [*members, *members, len(members)],
            )
        return f"EXISTS (SELECT 1 FROM {each} WHERE value IN ({holders}))", members  # noqa: S608

    return value.cond(build)


def _tags(p: Predicate, path: str) -> Q:
    tags = TicketTag.objects.filter(ticket_id=OuterRef("pk"))
    op = p.op
    if op == Op.PRESENT:
        return Q(Exists(tags))
    if op == Op.CONTAINS:
        return Q(Exists(tags.filter(name=str(p.value))))
    if op == Op.IN:
        return Q(Exists(tags.filter(name__in=[str(x) for x in p.value])))
    if op == Op.IS:
        wanted = sorted({str(x) for x in p.value})
        if not wanted:
            return _constant(False)
        q = ~Q(Exists(tags.exclude(name__in=wanted)))
        for name in wanted:
            q &= Q(Exists(tags.filter(name=name)))
        return q
    raise _unsupported(p, path, FieldType.SET)

"""Reads of saved views and of the tickets they select, always within what the agent may see
(`tickets.selectors.ticket_scope`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Exists,
    F,
    ForeignKey,
    Func,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.sql.compiler import SQLCompiler

from sportello.accounts.models import Department, Role, Team, User
from sportello.automation.query import ticket_filter
from sportello.core.errors import NotFound
from sportello.core.paging import SortKey, after_cursor, order_terms, page_of
from sportello.engine.conditions import (
    FIELDS,
    All,
    AnyOf,
    Condition,
    FieldSpec,
    Op,
    Predicate,
    custom_field_spec,
)
from sportello.sla.models import TicketSla
from sportello.tickets import selectors as ticket_selectors
from sportello.tickets.models import UNRESOLVED_CATEGORIES, CustomField, StatusCategory, Ticket, TicketTag

from . import conditions
from .models import SavedView, ViewExtra
from .statements import StatementCache

# An SLA target due within this long counts as at risk.
AT_RISK_WINDOW = timedelta(hours=1)
# The statements this process compiled for the agents it served lately: their views, departments
# and counts (a few kilobytes each; see `queues.statements`).
COMPILED = StatementCache(size=512)


@dataclass(frozen=True, slots=True)
class ViewContext:
    """What compiling a view for one agent needs, read once per request."""

    user: User
    departments: tuple[int, ...]  # the agent's departments (`$my_departments`)
    specs: Mapping[str, FieldSpec]
    custom_fields: tuple[CustomField, ...]
    now: datetime
    # The active departments the agent may narrow a page to (theirs; an admin's: all), by name.
    department_choices: tuple[Department, ...] = ()
    # Everything above a view's SQL depends on but `now` (the key of its compiled statements).
    key: tuple[Any, ...] = ()


def _rows[M: Model](model: type[M], key: Hashable, query: Callable[[], QuerySet[M]]) -> list[M]:
    """The rows of `query`, its SQL compiled once per process under `key` (everything it
    depends on); annotations become attributes as the ORM's."""
    using = model._default_manager.db
    sql, params = COMPILED.constant(key, lambda: query().query.sql_with_params(), using=using)
    return list(model._default_manager.db_manager(using).raw(sql, params))


def view_context(*, user: User, now: datetime) -> ViewContext:
    """Two statements: the active departments (the agent's own, or all of them for an admin,
    each marked whether the agent works in it) and the active custom fields."""

    def departments_query() -> QuerySet[Department]:
        rows = Department.objects.filter(is_active=True).order_by("name", "id")
        if user.role == Role.ADMIN:
            member = User.departments.through.objects.filter(department_id=OuterRef("pk"), user_id=user.pk)
            return rows.annotate(member=Exists(member))
        return rows.filter(agents=user).annotate(member=Value(True))

    choices = tuple(_rows(Department, ("departments", user.pk, user.role), departments_query))
    departments = [d.pk for d in choices if d.member]  # type: ignore[attr-defined]
    if not departments and user.role == Role.ADMIN:
        departments = [d.pk for d in choices]
    fields = tuple(
        _rows(
            CustomField,
            ("custom_fields",),
            lambda: CustomField.objects.filter(is_active=True).order_by("position", "id"),
        )
    )
    specs = dict(FIELDS)
    definitions = []
    for f in fields:
        options = tuple(o["value"] for o in f.options) if f.options else None
        spec = custom_field_spec(f.key, f.type, options)
        specs[spec.path] = spec
        definitions.append((f.key, f.type, options))
    departments_key = tuple(sorted(departments))
    return ViewContext(
        user=user,
        departments=departments_key,
        specs=specs,
        custom_fields=fields,
        now=now,
        department_choices=choices,
        key=(user.pk, user.role, user.is_active, departments_key, tuple(definitions)),
    )


def view_scope(*, user: User) -> Q:
    """The views `user` may open: their own, and the shared ones desk-wide or of a department
    they work in (admins: all shared ones). No join: a view is one row whatever the number of
    its department's agents."""
    shared = Q(owner__isnull=True)
    if user.role != Role.ADMIN:
        theirs = User.departments.through.objects.filter(user_id=user.pk).values("department_id")
        shared &= Q(department__isnull=True) | Q(department_id__in=theirs)
    return Q(owner=user) | shared


def view_list_for(*, user: User) -> list[SavedView]:
    """Shared views first (in their order), then the agent's own, by name."""
    views = _rows(
        SavedView, ("views", user.pk, user.role), lambda: SavedView.objects.filter(view_scope(user=user))
    )
    return sorted(views, key=lambda v: (v.owner_id is not None, v.position, v.name.lower(), v.pk))


def view_get_for(*, user: User, view_id: int | str) -> SavedView:
    try:
        return SavedView.objects.filter(view_scope(user=user)).get(pk=int(view_id))
    except (SavedView.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("view not found") from None


def _extra_filter(extra: str, now: datetime) -> Q:
    if extra == ViewExtra.SLA_AT_RISK:
        # An unresolved ticket with a breached clock, or a running clock due within the window
        # (or past due, its breach not stamped yet). Two small sets, each read from an index
        # (`sla_breached_open`, the one of `next_breach_at`), instead of a probe per ticket.
        breached = TicketSla.objects.filter(breached=True, unresolved=True).values("ticket_id")
        due = TicketSla.objects.filter(next_breach_at__lte=now + AT_RISK_WINDOW).values("ticket_id")
        return Q(pk__in=breached) | Q(pk__in=due)
    if extra == ViewExtra.CUSTOMER_UPDATED:
        # The customer came back: wrote after our last public reply, or wrote again before any
        # reply (a ticket with only its first message is new, not updated).
        return Q(last_customer_message_at__gt=F("last_agent_reply_at")) | Q(
            last_agent_reply_at__isnull=True, customer_message_count__gt=1
        )
    return Q()


def _condition(view: SavedView, ctx: ViewContext) -> Condition:
    return conditions.view_condition(
        view.condition, specs=ctx.specs, me=ctx.user.pk, departments=ctx.departments, now=ctx.now
    )


def view_filter(*, view: SavedView, ctx: ViewContext) -> Q:
    """The database filter of `view` for the agent of `ctx` (not yet limited to what they may
    see: callers start from `ticket_scope`)."""
    q = conditions.compile_filter(
        view.condition, specs=ctx.specs, me=ctx.user.pk, departments=ctx.departments, now=ctx.now
    )
    return q & _extra_filter(view.extra, ctx.now)


def view_tickets(
    *, view: SavedView, ctx: ViewContext, query: ticket_selectors.TicketQuery
) -> QuerySet[Ticket]:
    """The tickets of `view` the agent may read, narrowed by the page's own filters, with what
    every column shows: the requester, organization and SLA clock joined; the small tables
    (departments, teams, agents, statuses) read once each for the page's rows. Joining all of
    them made PostgreSQL weigh every join order at each request: 90 ms of planning for a 4 ms
    query on 1M tickets."""
    qs = ticket_selectors.ticket_query(principal=ctx.user, query=query).filter(
        view_filter(view=view, ctx=ctx)
    )
    return qs.select_related("requester", "organization", "sla").prefetch_related(
        "department", "team", "assignee", "status"
    )


# How a page's ids are read. The planner takes a filter's rows to be spread evenly along every
# sort order and walks the sort column's index until the page is full: right for the views of
# unresolved tickets (each sort has its partial index), wrong for a view that keeps tickets to a
# span of time ("Recently solved": the week's tickets all sit at the newest end of the number,
# creation and update orders, so sorted oldest first the walk read most of a million tickets to
# find 50; 0.5-2 s). Such a view of at most this many tickets is read whole through the index
# that fits its filter and sorted (5,000 tickets: about 10 ms), as is any view whose tickets fit
# on the page (the walk would read all it can reach to find no more).
SORTED_IN_FULL_MAX = 10_000
_TICKET_INSTANTS = frozenset(
    {
        "ticket.created_at",
        "ticket.updated_at",
        "ticket.solved_at",
        "ticket.first_response_at",
        "ticket.due_at",
    }
)
_BOUNDS = frozenset({Op.LT, Op.LTE, Op.GT, Op.GTE})


def _time_sliced(cond: Condition) -> bool:
    """Whether `cond` (or every way it can hold: an `all` of it) bounds one of the ticket's own
    instants: its tickets bunch together along the sorts by number and by time."""
    if isinstance(cond, All):
        return any(_time_sliced(c) for c in cond.items)
    return isinstance(cond, Predicate) and cond.field in _TICKET_INSTANTS and cond.op in _BOUNDS


class _Unindexed(Func):
    """A sort column as an expression no index is ordered by (the same order: `number + 0`,
    `subject || ''`, an instant plus nothing), so the planner reads the filter's rows and sorts
    them rather than walk the column's index in order."""

    template = "(%(expressions)s || '')"  # text, and SQLite's instants (ISO text)

    def __init__(self, field: str, kind: str) -> None:
        super().__init__(F(field))
        self.kind = kind

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, Any]:
        if self.kind == "int":
            template = "(%(expressions)s + 0)"
        elif self.kind == "datetime" and connection.vendor == "postgresql":
            template = "(%(expressions)s + interval '0 seconds')"
        return super().as_sql(compiler, connection, function, template, arg_joiner, **extra_context)


def _page_order(keys: list[SortKey], *, in_full: bool) -> list[Any]:
    terms: list[Any] = []
    for i, k in enumerate(keys):
        term: Any = _Unindexed(k.field, k.kind) if in_full and i == 0 else F(k.field)
        terms.append(term.desc() if k.descending else term.asc())
    return terms


# What the table shows of a ticket and of the rows joined to it (the rest is left unread: a
# clock's state, an organization's notes, the ticket's dozen other instants and counters).
PAGE_FIELDS = (
    *("id", "number", "subject", "status_category", "priority", "channel", "custom_fields", "version"),
    *("created_at", "updated_at", "department", "team", "assignee", "requester", "organization"),
    *("status", "status__key", "status__name"),
    *("requester__name", "requester__email", "requester__phone", "organization__name"),
    *("sla__breached", "sla__next_breach_at"),
)


def view_page_rows(
    *, view: SavedView, ctx: ViewContext, keys: list[SortKey], cursor: str | None, limit: int, total: int
) -> QuerySet[Ticket]:
    """The statement of `view_page`: at most `limit` + 1 tickets after `cursor`, in the order of
    `keys`, their requester, organization, SLA clock and status joined. The page's ids come from
    its subquery, over the ticket table alone (the scope and the view's filter: no join for the
    planner to weigh), sorted as `total` says (see `SORTED_IN_FULL_MAX`)."""
    ids = Ticket.objects.filter(ticket_selectors.ticket_scope(principal=ctx.user)).filter(
        view_filter(view=view, ctx=ctx)
    )
    ids = after_cursor(ids, keys=keys, cursor=cursor)
    in_full = total <= limit or (total <= SORTED_IN_FULL_MAX and _time_sliced(_condition(view, ctx)))
    page_ids = ids.order_by(*_page_order(keys, in_full=in_full)).values("pk")[: limit + 1]
    return (
        Ticket.objects.filter(pk__in=page_ids)
        .order_by(*order_terms(keys))
        .select_related("status", "requester", "organization", "sla")
        .only(*PAGE_FIELDS)
    )


@dataclass(frozen=True, slots=True)
class TicketPage:
    tickets: list[Ticket]
    next_cursor: str | None
    tags: dict[int, list[str]]  # each ticket's tag names, A to Z (none: absent)


def _attach(rows: list[Ticket], name: str, found: Mapping[int, Any]) -> None:
    """Set each row's `name` relation from `found` (by id); None where it has none."""
    field = Ticket._meta.get_field(name)
    assert isinstance(field, ForeignKey), name
    for t in rows:
        field.set_cached_value(t, found.get(getattr(t, field.attname)))


def view_page(
    *, view: SavedView, ctx: ViewContext, keys: list[SortKey], cursor: str | None, limit: int, total: int
) -> TicketPage:
    """One page of `view`'s tickets for this agent, in the order of `keys`, after `cursor`
    (ValidationFailed for a cursor of another listing), and the next page's cursor. `total`: how
    many tickets the view holds (`view_count`): none, and nothing is read. One statement
    (`view_page_rows`), then the rows' tag names, teams and assignees (their names), each read
    once for the page; their departments are those of the context (read only for a ticket in a
    department the agent may not filter by)."""
    if total == 0 and not cursor:
        return TicketPage(tickets=[], next_cursor=None, tags={})
    rows = list(view_page_rows(view=view, ctx=ctx, keys=keys, cursor=cursor, limit=limit, total=total))
    rows, next_cursor = page_of(rows, keys=keys, limit=limit)
    departments = {d.pk: d for d in ctx.department_choices}
    missing = {t.department_id for t in rows} - set(departments)
    if missing:
        departments.update(Department.objects.in_bulk(missing))
    _attach(rows, "department", departments)
    for name, model in (("team", Team), ("assignee", User)):
        ids = {getattr(t, f"{name}_id") for t in rows} - {None}
        _attach(rows, name, model._default_manager.only("id", "name").in_bulk(ids) if ids else {})
    tags: dict[int, list[str]] = {}
    if rows:
        names = TicketTag.objects.filter(ticket_id__in=[t.pk for t in rows]).order_by("name", "id")
        for ticket_id, tag in names.values_list("ticket_id", "name"):
            tags.setdefault(ticket_id, []).append(tag)
    return TicketPage(tickets=rows, next_cursor=next_cursor, tags=tags)


def _count_statement(
    *, condition: Any, extra: str, ctx: ViewContext, scope: Q
) -> tuple[str, tuple[Any, ...]]:
    # Selecting a constant, not a column: an index that holds the filter's columns answers
    # without reading the tickets.
    shown = SavedView(condition=condition, extra=extra)
    qs = Ticket.objects.filter(scope).filter(view_filter(view=shown, ctx=ctx)).order_by().values(one=Value(1))
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


def view_count_statements(
    *, views: Sequence[SavedView], ctx: ViewContext
) -> list[tuple[str, tuple[Any, ...], str]]:
    """Each view's count as its own statement (SQL, parameters, the view's key or name): the
    tickets of the view the agent may see, nothing else, so that each is planned on its own and
    answered from the index that fits its filter."""
    scope = ticket_selectors.ticket_scope(principal=ctx.user)
    return [
        (*_count_statement(condition=v.condition, extra=v.extra, ctx=ctx, scope=scope), v.key or v.name)
        for v in views
    ]


# The category tests that keep a view within the unresolved tickets.
_UNRESOLVED = frozenset(str(c) for c in UNRESOLVED_CATEGORIES)
_RESOLVED = frozenset(str(c) for c in StatusCategory) - _UNRESOLVED


def within_unresolved(cond: Condition) -> bool:
    """Whether every ticket `cond` holds for is unresolved (its status category tested to be one
    of the unresolved ones, itself or in each way it can hold)."""
    if isinstance(cond, All):
        return any(within_unresolved(c) for c in cond.items)
    if isinstance(cond, AnyOf):
        return bool(cond.items) and all(within_unresolved(c) for c in cond.items)
    if not isinstance(cond, Predicate) or cond.field != "ticket.status_category":
        return False
    if cond.op == Op.IS:
        return cond.value in _UNRESOLVED
    if cond.op == Op.IN:
        return set(cond.value) <= _UNRESOLVED
    if cond.op == Op.NOT_IN:
        return set(cond.value) >= _RESOLVED
    return False


def _is_unresolved_test(cond: Condition) -> bool:
    """Whether `cond` holds exactly for the unresolved tickets."""
    return (
        isinstance(cond, Predicate)
        and cond.field == "ticket.status_category"
        and (
            (cond.op == Op.IN and set(cond.value) == _UNRESOLVED)
            or (cond.op == Op.NOT_IN and set(cond.value) == _RESOLVED)
        )
    )


def _past_unresolved(cond: Condition) -> Condition | None:
    """What `cond` asks of a ticket already known to be unresolved: its own tests of exactly
    that left out (None: nothing more)."""
    if _is_unresolved_test(cond):
        return None
    if isinstance(cond, All):
        rest = tuple(c for c in cond.items if not _is_unresolved_test(c))
        if not rest:
            return None
        return rest[0] if len(rest) == 1 else All(rest)
    return cond


def _filter_sql(q: Q, *, using: str) -> tuple[str, list[Any]] | None:
    """`q` as a condition on the ticket table's own row ("tickets_ticket", its subqueries
    aside): ("", []) when it holds for every ticket, "0 = 1" when for none; None when it needs
    a join."""
    query = Ticket.objects.filter(q).query
    compiler = query.get_compiler(using)
    try:
        sql, params = compiler.compile(query.where)
    except EmptyResultSet:
        return "0 = 1", []
    except FullResultSet:
        return "", []
    if any(query.alias_refcount[alias] for alias in query.alias_map if alias != query.base_table):
        return None
    return sql, list(params)


def view_counts_statement(views: Sequence[SavedView], ctx: ViewContext) -> tuple[str, list[Any]]:
    """One statement, one column per view. The views within the unresolved tickets (most of a
    desk's: "My open tickets", "Unassigned", "VIP", "Pending"…) are counted in one pass over
    the agent's unresolved tickets, each as `COUNT(*) FILTER (WHERE its filter)`: a single read
    of the unresolved tickets' index for the agent's departments, where a count each read it
    once per view (on 1M tickets: 20,000 entries, eight times). Any other view ("Recently
    solved", one over all tickets, one whose filter needs a join) is a scalar subquery of its
    own, planned on its own and answered from the index that fits its filter."""
    using = Ticket.objects.db
    connection = connections[using]
    scope = ticket_selectors.ticket_scope(principal=ctx.user)
    columns: list[tuple[str, list[Any]]] = []  # in the views' order, each with its parameters
    shared = False
    for i, view in enumerate(views):
        cond = _condition(view, ctx)
        if within_unresolved(cond):
            # Each ticket of the pass is unresolved: a view's own test of that is left out.
            rest = _past_unresolved(cond)
            q = ticket_filter(rest, specs=ctx.specs, path="condition", now=ctx.now) if rest else Q()
            compiled = _filter_sql(q & _extra_filter(view.extra, ctx.now), using=using)
            if compiled is not None:
                where, where_params = compiled
                shared = True
                if not where:
                    columns.append(("COUNT(*)", []))
                elif connection.features.supports_aggregate_filter_clause:
                    columns.append((f"COUNT(*) FILTER (WHERE {where})", where_params))
                else:
                    columns.append((f"COUNT(CASE WHEN {where} THEN 1 END)", where_params))
                continue
        inner, inner_params = _count_statement(
            condition=view.condition, extra=view.extra, ctx=ctx, scope=scope
        )
        columns.append((f"(SELECT COUNT(*) FROM ({inner}) v{i})", list(inner_params)))  # noqa: S608
    select = ", ".join(sql for sql, _p in columns)
    params = [p for _sql, ps in columns for p in ps]
    if not shared:
        return f"SELECT {select}", params
    base = Ticket.objects.filter(scope, status_category__in=sorted(_UNRESOLVED)).order_by().values("id")
    base_sql, base_params = base.query.sql_with_params()
    prefix = f"SELECT {connection.ops.quote_name(Ticket._meta.db_table)}.{connection.ops.quote_name('id')} "
    assert base_sql.startswith(prefix), base_sql
    return f"SELECT {select} {base_sql.removeprefix(prefix)}", params + list(base_params)


def _condition_key(condition: Any) -> str:
    return json.dumps(condition, sort_keys=True, separators=(",", ":"), default=str)


def view_counts(*, views: Sequence[SavedView], ctx: ViewContext) -> dict[int, int]:
    """How many tickets each view holds for this agent: one statement, one count per view
    (`view_counts_statement`: the views of unresolved tickets in one pass over their index,
    "Recently solved" from the solved instants' own). Its SQL is compiled once per process for
    the agent, their departments, the views as they are and the custom fields
    (`queues.statements`)."""
    if not views:
        return {}
    using = Ticket.objects.db
    key = (
        "counts",
        ctx.key,
        tuple((v.pk, v.updated_at, _condition_key(v.condition), v.extra) for v in views),
    )
    sql, params = COMPILED.statement(
        key, lambda now: view_counts_statement(views, replace(ctx, now=now)), now=ctx.now, using=using
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return {v.pk: int(n or 0) for v, n in zip(views, row, strict=True)}


def view_count(*, view: SavedView, ctx: ViewContext) -> int:
    """How many tickets `view` (its condition and extra filter; the page's filters included)
    holds for this agent: one statement, compiled once per process like `view_counts`."""
    using = Ticket.objects.db
    key = ("count", ctx.key, _condition_key(view.condition), view.extra)

    def build(now: datetime) -> tuple[str, list[Any]]:
        scope = ticket_selectors.ticket_scope(principal=ctx.user)
        inner, params = _count_statement(
            condition=view.condition, extra=view.extra, ctx=replace(ctx, now=now), scope=scope
        )
        return f"SELECT COUNT(*) FROM ({inner}) v", list(params)  # noqa: S608

    sql, params = COMPILED.statement(key, build, now=ctx.now, using=using)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0] or 0)


def ticket_versions(*, user: User, ids: Iterable[int]) -> dict[int, int]:
    """The current version of each of these tickets the agent may see."""
    rows = Ticket.objects.filter(ticket_selectors.ticket_scope(principal=user), pk__in=list(ids))
    return dict(rows.values_list("pk", "version"))

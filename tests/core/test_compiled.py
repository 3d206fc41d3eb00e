"""Statements compiled once and run again with another id and instant (`core.compiled`): the
rows come back as the queryset itself would give them (fields, select_related, annotations), an
id or an instant that the SQL does not take as a plain parameter is not reused, and on
PostgreSQL the statement is prepared once per connection with a generic plan."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, DataError, connection, transaction
from django.db.models import BooleanField, CharField, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from sportello.core import compiled
from sportello.core.compiled import ModelStatements
from sportello.tickets.models import Ticket, TicketTag
from testing import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(desk: Any, open_ticket: Any) -> list[Any]:
    made = [open_ticket(f"Ticket {i}", tags=["vip"] if i % 2 else []) for i in range(4)]
    return [Ticket.objects.get(pk=t.pk) for t in made]


def _page(ident: int, at: datetime) -> QuerySet[Ticket]:
    # A select_related, a subquery, an instant parameter and a literal '%' in one statement.
    first_tag = TicketTag.objects.filter(ticket_id=OuterRef("pk")).order_by("name").values("name")[:1]
    return (
        Ticket.objects.filter(pk=ident, created_at__lte=at + timedelta(days=1))
        .select_related("requester", "department")
        .annotate(
            first_tag=Subquery(first_tag),
            label=RawSQL("'100%%'", (), output_field=CharField()),
        )
    )


def _same(a: Ticket, b: Ticket) -> None:
    fields = [f.attname for f in Ticket._meta.concrete_fields]
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert (a.requester.email, a.department.name) == (b.requester.email, b.department.name)
    assert (a.first_tag, a.label) == (b.first_tag, b.label)  # type: ignore[attr-defined]


def test_the_rows_are_the_querysets_for_every_id(tickets: list[Any]) -> None:
    statements = ModelStatements()
    for t in tickets:
        [got] = statements.rows("page", _page, ids=(t.pk,), now=NOW)
        [expected] = list(_page(t.pk, NOW))
        _same(got, expected)
        assert got.label == "100%"  # type: ignore[attr-defined]
    assert statements.rows("page", _page, ids=(10**9,), now=NOW) == []
    # the instant is a parameter too: a day before the tickets were made, none is found
    assert statements.rows("page", _page, ids=(tickets[0].pk,), now=NOW - timedelta(days=3)) == []
    assert len(statements) == 1
    assert statements._items[(connection.alias, 1, "page")] is not None  # compiled once, reused


def test_a_statement_whose_sql_moves_with_the_id_is_not_reused(tickets: list[Any]) -> None:
    def odd_or_even(ident: int, at: datetime) -> QuerySet[Ticket]:
        if ident % 2:
            return Ticket.objects.filter(pk=ident)
        return Ticket.objects.filter(Q(pk=ident) | Q(pk=ident + 1))

    statements = ModelStatements()
    for t in tickets:
        got = statements.rows("odd", odd_or_even, ids=(t.pk,), now=NOW)
        assert sorted(x.pk for x in got) == sorted(x.pk for x in odd_or_even(t.pk, NOW))
    assert statements._items[(connection.alias, 1, "odd")] is None  # built every time instead


def test_an_id_used_in_arithmetic_is_not_taken_for_a_parameter(tickets: list[Any]) -> None:
    def next_one(ident: int, at: datetime) -> QuerySet[Ticket]:
        return Ticket.objects.filter(pk=ident + 1)

    statements = ModelStatements()
    [got] = statements.rows("next", next_one, ids=(tickets[0].pk,), now=NOW)
    assert got.pk == tickets[0].pk + 1
    assert statements._items[(connection.alias, 1, "next")] is None


def test_two_ids_and_values_rows(tickets: list[Any]) -> None:
    # The customer panel's shape: a requester's tickets but one, as tuples.
    def others(requester: int, ticket: int, at: datetime) -> QuerySet[Any]:
        return (
            Ticket.objects.filter(requester_id=requester, created_at__lte=at)
            .exclude(pk=ticket)
            .order_by("pk")
            .values_list("pk", "subject")
        )

    statements = ModelStatements()
    requester = tickets[0].requester_id
    for t in tickets:
        got = statements.rows("others", others, ids=(requester, t.pk), now=NOW)
        assert got == list(others(requester, t.pk, NOW))
        assert (t.pk, t.subject) not in got
        assert len(got) == len(tickets) - 1
    assert statements._items[(connection.alias, 2, "others")] is not None


def test_the_least_recently_used_statement_leaves_first(tickets: list[Any]) -> None:
    statements = ModelStatements(size=2)
    for key in ("a", "b", "a", "c"):
        statements.rows(key, _page, ids=(tickets[0].pk,), now=NOW)
    assert list(statements._items) == [(connection.alias, 1, "a"), (connection.alias, 1, "c")]


def _plans(name: str) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s", [name]
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row is not None else (0, 0)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_prepares_the_statement_once_with_a_generic_plan(tickets: list[Any]) -> None:
    statements = ModelStatements()
    statements.rows("prepared", _page, ids=(tickets[0].pk,), now=NOW)
    entry = statements._items[(connection.alias, 1, "prepared")]
    assert entry is not None
    executed = compiled._prepared_sql(entry.sql, [0, NOW], using=connection.alias)
    name = executed.removeprefix("EXECUTE ").split("(")[0]
    before = _plans(name)
    for _ in range(3):
        for t in tickets:
            [got] = statements.rows("prepared", _page, ids=(t.pk,), now=NOW)
            assert got.pk == t.pk
    after = _plans(name)
    # planned once, then reused: every execution took the generic plan
    assert (after[0] - before[0], after[1] - before[1]) == (12, 0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_statement_postgresql_will_not_prepare_runs_as_it_is(tickets: list[Any]) -> None:
    # A parameter whose type nothing in the statement tells cannot be prepared without one.
    def untyped(ident: int, at: datetime) -> QuerySet[Ticket]:
        echo = RawSQL("%s IS NULL", ("x",), output_field=BooleanField())
        return Ticket.objects.filter(pk=ident).annotate(echo=echo)

    statements = ModelStatements()
    with transaction.atomic():
        [got] = statements.rows("untyped", untyped, ids=(tickets[1].pk,), now=NOW)
        assert got.echo is False  # type: ignore[attr-defined]
        # and the transaction it ran in goes on
        assert Ticket.objects.filter(pk=tickets[1].pk).exists()
    entry = statements._items[(connection.alias, 1, "untyped")]
    assert entry is not None
    assert entry.sql in compiled._unpreparable


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_failed_transaction_does_not_keep_a_statement_from_being_prepared(tickets: list[Any]) -> None:
    def probe(ident: int, at: datetime) -> QuerySet[Ticket]:
        return Ticket.objects.filter(pk=ident).annotate(n=RawSQL("%s + 424242", (1,)))

    statements = ModelStatements()

    def in_a_failed_transaction() -> None:
        with transaction.atomic():
            with connection.cursor() as cursor, contextlib.suppress(DataError):
                cursor.execute("SELECT 1 / 0")  # the transaction has failed; Django does not know
            statements.rows("probe", probe, ids=(tickets[0].pk,), now=NOW)

    with pytest.raises(DatabaseError):
        in_a_failed_transaction()
    entry = statements._items[(connection.alias, 1, "probe")]
    assert entry is not None
    assert entry.sql not in compiled._unpreparable
    [got] = statements.rows("probe", probe, ids=(tickets[0].pk,), now=NOW)
    assert got.n == 424243  # type: ignore[attr-defined]
    assert compiled._prepared_sql(entry.sql, [0], using=connection.alias).startswith("EXECUTE ")

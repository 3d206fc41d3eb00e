"""Rows of the hot paths written and read in plain SQL, statements made once per model.

Building a statement through the ORM (the query, its compiler, every value prepared through
the compiler's layers) cost several times what running it does on the paths every change takes:
the ticket's insert and update, its message, events and tags, the agent behind a token. These
helpers write and read the same rows the ORM would, column for column, with the same value
preparation (`Field.pre_save`, `get_db_prep_save`) and conversion (the backend's and the
field's converters); only the statement is made once per model and database instead of once per
call. Signals are not sent: the models written here have no receivers (`bulk_create` sends none
either). `tests/core/test_rows.py` compares what they write and read with the ORM's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, models
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True, slots=True)
class _Insert:
    fields: tuple[Field[Any, Any], ...]  # written, in order (the auto primary key is not)
    head: str  # INSERT INTO t (c, ...) VALUES
    row: str  # (%s, ...)
    returning: str  # " RETURNING pk" when the primary key is made by the database


@dataclass(frozen=True, slots=True)
class _Select:
    columns: str  # t.c, ... (every concrete field)
    names: tuple[str, ...]  # their attnames, for Model.from_db
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]  # (index, converters, column)


def _column(field: Any) -> str:
    return str(field.column)


_inserts: dict[tuple[type[Model], str], _Insert] = {}
_selects: dict[tuple[type[Model], str], _Select] = {}


def _insert_plan(model: type[Model], using: str) -> _Insert:
    found = _inserts.get((model, using))
    if found is not None:
        return found
    meta = model._meta
    quote = connections[using].ops.quote_name
    pk = meta.pk
    auto = isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField)
    fields = tuple(f for f in meta.local_concrete_fields if not f.generated and not (auto and f is pk))
    plan = _Insert(
        fields=fields,
        head=f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(_column(f)) for f in fields)}) VALUES ",  # noqa: S608
        row="(" + ", ".join(["%s"] * len(fields)) + ")",
        returning=f" RETURNING {quote(_column(pk))}" if auto else "",
    )
    _inserts[(model, using)] = plan
    return plan


def insert_rows(objs: Sequence[Model], *, using: str = "default") -> None:
    """Insert `objs` (instances of one model, not yet saved) in one statement, as `save()` or
    `bulk_create` would; their primary keys are set from the database's."""
    if not objs:
        return
    model = type(objs[0])
    plan = _insert_plan(model, using)
    connection = connections[using]
    params: list[Any] = []
    for obj in objs:
        if type(obj) is not model:
            raise TypeError("insert_rows: one model per call")
        obj._prepare_related_fields_for_save(operation_name="insert_rows")  # type: ignore[attr-defined]
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in plan.fields]
    sql = plan.head + ", ".join([plan.row] * len(objs)) + plan.returning
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchall() if plan.returning else ()
    pk = model._meta.pk
    assert pk is not None
    for obj, row in zip(objs, ids, strict=False):
        setattr(obj, pk.attname, row[0])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


def update_row(obj: Model, names: Sequence[str], *, using: str = "default") -> None:
    """`obj.save(update_fields=names)` for a row known to exist (names: field names or
    attnames), in one statement."""
    if not names:
        return
    meta = type(obj)._meta
    connection = connections[using]
    quote = connection.ops.quote_name
    fields: list[Any] = [meta.get_field(n) for n in names]
    pk = meta.pk
    assert pk is not None
    sets = ", ".join(f"{quote(_column(f))} = %s" for f in fields)
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(_column(pk))} = %s",  # noqa: S608
            [*params, pk.get_db_prep_value(obj.pk, connection)],
        )


def _select_plan(model: type[Model], alias: str, using: str) -> _Select:
    found = _selects.get((model, alias))
    if found is not None:
        return found
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    converters = []
    for i, f in enumerate(fields):
        column = f.get_col(alias)
        found_converters = tuple(connection.ops.get_db_converters(column)) + tuple(
            column.get_db_converters(connection)
        )
        if found_converters:
            converters.append((i, found_converters, column))
    plan = _Select(
        columns=", ".join(f"{quote(alias)}.{quote(_column(f))}" for f in fields),
        names=tuple(f.attname for f in fields),
        converters=tuple(converters),
    )
    _selects[(model, alias)] = plan
    return plan


def select_columns(model: type[Model], alias: str, *, using: str = "default") -> str:
    """The select list of every concrete column of `model` from the table aliased `alias`, for
    a statement that `from_row` turns back into instances."""
    return _select_plan(model, alias, using).columns


def column_count(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def from_row[M: Model](model: type[M], alias: str, values: Sequence[Any], *, using: str = "default") -> M:
    """An instance of `model` from the columns `select_columns(model, alias)` read, converted as
    the ORM converts them."""
    plan = _select_plan(model, alias, using)
    connection = connections[using]
    row = list(values)
    for i, converters, column in plan.converters:
        value = row[i]
        for convert in converters:
            value = convert(value, column, connection)
        row[i] = value
    return model.from_db(using, plan.names, row)


def get_by_pk[M: Model](model: type[M], pk: int, *, using: str = "default") -> M | None:
    """The row of `model` with this primary key, read in one plain statement; None when none."""
    connection = connections[using]
    meta = model._meta
    assert meta.pk is not None
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_columns(model, 'r', using=using)} FROM {quote(meta.db_table)} r "  # noqa: S608
            f"WHERE r.{quote(_column(meta.pk))} = %s",
            [pk],
        )
        found = cursor.fetchone()
    return None if found is None else from_row(model, "r", found, using=using)

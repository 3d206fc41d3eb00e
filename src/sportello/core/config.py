"""Signatures of what admins configure, read in one statement per change, and the one
per-process cache of its parsed form.

Configuration kinds whose parsed form is cached per process (event and time rules, SLA
policies, calendars, tier paths, blueprints, notification templates) register the table of
their head rows here (`register_signature`): each has `id`, `version`, `active` and
`updated_at`, and every write moves one of count, id sum, version sum or latest update of the
active rows. `signatures(memo)` reads all of them at once — one statement per change, however
many kinds of configuration there are.

`config_cached(name, build, memo)` is the cache: the value built under the signature `name`
had when it was built, rebuilt (one value per name) when the signature moves. What a kind
caches item by item — rules parsed by (id, version), blueprints by their text — lives in a
`config_store(name)`. `forget_all()` drops every value and store at once (tests roll back and
reuse ids); `forget(name)` drops one name's value and its stores (`name` and `name.*`).

`read_once()` is for a batch of changes made in one transaction (a round of timers): while it
runs, the signatures are read by the first change only, and what is read through `once(name,
build)` (the custom fields' specs) is built once, the later changes of the batch using the same.
A configuration saved by another process meanwhile is seen by the next batch, as a change that
started a moment later would see it. A change (`tickets.pipeline`), a mail message and a request
(`ReadOnceMiddleware`) each run in one block: one signature read for all of it, read again after
the block itself saved configuration (`bump`; the save and delete signals of registered tables).

The desk's structure — departments, teams, memberships, statuses, custom fields and layouts,
mailboxes and our addresses — has no version column: its tables are watched instead
(`watch(name, *models)`), and every save or delete of their rows (and every change of a watched
many-to-many) stamps a new random value on the generation row `config.<name>` of `core_sequence`,
in the writer's transaction (`bump`). The generation is one more part of the signatures'
statement, so the per-process values built from those tables (`config_cached(...,
signature=name)`) are rebuilt after any process commits a change, and a value built inside a
transaction that changed them and then rolled back is never taken for a later one (its random
generation never comes back). Writes that bypass the model signals (`QuerySet.update`,
`bulk_create`) call `bump(name)` themselves.
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import apps as django_apps
from django.db import connection, connections
from django.db.models import Model, signals
from django.http import HttpRequest, HttpResponseBase

_TABLES: dict[str, str] = {}
# Names whose signature is a generation row (`watch`, `bump`).
_GENERATIONS: set[str] = set()


def register_signature(name: str, table: str) -> None:
    _TABLES[name] = table
    # Its model's saves and deletes (only that model's: a receiver for every model would cost
    # every bulk delete a read of its rows) make the current block read the signatures again.
    for model in django_apps.get_models():
        if model._meta.db_table == table:
            uid = f"config.signature.{table}"
            signals.post_save.connect(_saved, sender=model, weak=False, dispatch_uid=uid)
            signals.post_delete.connect(_saved, sender=model, weak=False, dispatch_uid=uid + ".delete")


def _saved(sender: Any, **kwargs: Any) -> None:
    """A row of a registered configuration was written: the current `read_once()` block reads
    the signatures again (the writer's next read sees what it wrote)."""
    batch = _batch.get()
    if batch:
        batch.clear()


def _generation_key(name: str) -> str:
    return f"config.{name}"


def bump(name: str, *, using: str = "default") -> None:
    """The configuration `name` changed: stamp its generation row with a new random value, in
    the caller's transaction. The current `read_once()` block reads the signatures again."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_sequence (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [_generation_key(name), secrets.randbits(62)],
        )
    batch = _batch.get()
    if batch is not None:
        batch.clear()


def watch(name: str, *models: type[Model], unwatched: frozenset[str] = frozenset()) -> None:
    """Saves and deletes of `models`' rows (an automatic many-to-many table: its adds, removes
    and clears) move the signature `name`. `unwatched`: columns a save may write without moving
    it (`save(update_fields=...)` naming only those: an agent's presence, their last sign-in)."""
    _GENERATIONS.add(name)

    def moved(sender: Any, using: str = "default", **kwargs: Any) -> None:
        if not kwargs.get("action", "post_").startswith("post_"):
            return
        fields = kwargs.get("update_fields")
        if fields and unwatched and set(fields) <= unwatched:
            return
        bump(name, using=using)

    for model in models:
        uid = f"config.{name}.{model._meta.label}"
        if model._meta.auto_created:  # the through table of a ManyToManyField
            signals.m2m_changed.connect(moved, sender=model, weak=False, dispatch_uid=uid)
        else:
            signals.post_save.connect(moved, sender=model, weak=False, dispatch_uid=uid)
            signals.post_delete.connect(moved, sender=model, weak=False, dispatch_uid=uid + ".delete")


_PART = (
    "(SELECT CAST(COUNT(*) AS TEXT) || ':' || CAST(COALESCE(SUM(id), 0) AS TEXT) || ':' || "
    "CAST(COALESCE(SUM(version), 0) AS TEXT) || ':' || COALESCE(CAST(MAX(updated_at) AS TEXT), '') "
    "FROM {table} WHERE active)"
)


def _part(table: str) -> str:
    return _PART.format(table=connection.ops.quote_name(table))  # a model's table, registered by its app


def _generation_part(name: str) -> str:
    # `name` is a watched configuration's name, given by its app: a literal, not input.
    key = _generation_key(name)
    return f"(SELECT COALESCE(CAST(value AS TEXT), '') FROM core_sequence WHERE name = '{key}')"  # noqa: S608


# Within `read_once()`: what the batch read (the signatures under "signatures", then `once`'s).
_batch: ContextVar[dict[str, Any] | None] = ContextVar("config_batch", default=None)


@contextmanager
def read_once() -> Iterator[None]:
    """Configuration read once for every change made while the block runs (see the module doc).
    Nested blocks share the outer one's reads."""
    if _batch.get() is not None:
        yield
        return
    token = _batch.set({})
    try:
        yield
    finally:
        _batch.reset(token)


class ReadOnceMiddleware:
    """A request reads the configuration's signatures once, however many changes it makes and
    cached configurations it reads. A request that saves configuration reads them again after
    the save (`bump`, and the registered tables' save and delete signals, clear the block), so
    it sees what it saved."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with read_once():
            return self.get_response(request)


def once[T](name: str, build: Callable[[], T]) -> T:
    """`build()`, made once per `read_once()` block (every call outside one builds)."""
    batch = _batch.get()
    if batch is None:
        return build()
    if name not in batch:
        batch[name] = build()
    return batch[name]  # type: ignore[no-any-return]


def signatures(memo: dict[str, Any] | None = None) -> dict[str, str]:
    """The signature of each registered configuration, read once per change (kept in `memo`),
    or once per `read_once()` block."""
    found = memo.get("signatures") if memo is not None else None
    if found is None:
        batch = _batch.get()
        found = batch.get("signatures") if batch is not None else None
        if found is None:
            names = sorted(_TABLES)
            generations = sorted(_GENERATIONS)
            parts = [_part(_TABLES[n]) for n in names] + [_generation_part(n) for n in generations]
            row = _read_signatures("SELECT " + ", ".join(parts))
            found = dict(zip(names, row[: len(names)], strict=True))
            found.update((n, v or "") for n, v in zip(generations, row[len(names) :], strict=True))
            if batch is not None:
                batch["signatures"] = found
        if memo is not None:
            memo["signatures"] = found
    return found


# PostgreSQL connections on which the signatures' statement is prepared: planning its dozen
# subqueries costs several times running them, on every change and page. PREPARE is not undone
# by a rollback, and a connection lost takes its statement with it (a new one is not in the set).
_prepared: weakref.WeakSet[Any] = weakref.WeakSet()
_PREPARED_NAME = "sportello_config_signatures"


def _read_signatures(sql: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql)
        else:
            raw = connection.connection
            if raw not in _prepared:  # once per connection, on its own session (not a change's statement)
                raw.execute(f"PREPARE {_PREPARED_NAME} AS {sql}")
                _prepared.add(raw)
            cursor.execute(f"EXECUTE {_PREPARED_NAME}")
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


# -- the cache -----------------------------------------------------------------------------------

# name -> (the signature it was built under, the value)
_values: dict[str, tuple[str, Any]] = {}
# name -> a dict its kind keys itself; cleared, never replaced (modules keep a reference)
_stores: dict[str, dict[Any, Any]] = {}


def config_cached[T](
    name: str, build: Callable[[], T], memo: dict[str, Any] | None = None, *, signature: str | None = None
) -> T:
    """The value `build()` made under the current signature of `signature` (default: `name`),
    built again when that signature moved. One value per name is kept."""
    current = signatures(memo)[signature or name]
    found = _values.get(name)
    if found is not None and found[0] == current:
        return found[1]
    value = build()
    _values[name] = (current, value)
    return value


def config_store(name: str) -> dict[Any, Any]:
    """A per-process dict under `name`, for what a kind caches item by item. `forget_all` (and
    `forget` of its name or of the part before its first dot) clears it."""
    return _stores.setdefault(name, {})


def forget(name: str) -> None:
    """Drop what is cached under `name`: its value and the stores `name` and `name.*`."""
    _values.pop(name, None)
    for store, found in _stores.items():
        if store == name or store.startswith(name + "."):
            found.clear()


def forget_all() -> None:
    """Drop every cached configuration (tests roll transactions back and reuse ids)."""
    _values.clear()
    for found in _stores.values():
        found.clear()

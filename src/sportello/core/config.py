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
started a moment later would see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection

_TABLES: dict[str, str] = {}


def register_signature(name: str, table: str) -> None:
    _TABLES[name] = table


_PART = (
    "(SELECT CAST(COUNT(*) AS TEXT) || ':' || CAST(COALESCE(SUM(id), 0) AS TEXT) || ':' || "
    "CAST(COALESCE(SUM(version), 0) AS TEXT) || ':' || COALESCE(CAST(MAX(updated_at) AS TEXT), '') "
    "FROM {table} WHERE active)"
)


def _part(table: str) -> str:
    return _PART.format(table=connection.ops.quote_name(table))  # a model's table, registered by its app


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
            with connection.cursor() as cursor:
                cursor.execute("SELECT " + ", ".join(_part(_TABLES[n]) for n in names))
                found = dict(zip(names, cursor.fetchone(), strict=True))
            if batch is not None:
                batch["signatures"] = found
        if memo is not None:
            memo["signatures"] = found
    return found


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

"""Querysets built and compiled once per process, then run again with other ids and instant.

Building a rich queryset (annotations, subqueries, joins) and compiling it to SQL costs Python
time on every request, often more than the database takes to answer it: the ticket page's own
statement spent about 10 ms there for 2 ms in PostgreSQL. For a statement whose SQL depends only
on things the caller puts in the key (who reads: their id and role) and whose parameters vary
with a few integers (the ids of the rows asked for) and the request's instant, `rows()` builds it
once per key, finds which parameters are which id and which are instants at a fixed distance
from `now`, and from then on only binds new values and lets Django turn the rows into what the
queryset gives (model instances with their select_related objects and annotations, or values),
through its own iteration and converters.

Finding the parameters: on a miss the queryset is built and compiled twice, with two sets of
sentinel ids (negative, never a row's; odd in one set, even in the other) and two sentinel
instants far apart. The SQL must be the same; a parameter equal in both is a constant, one
equal to an id's two sentinels is that id, and one that is an instant at the same distance from
each sentinel instant is that instant's offset from `now`. Anything else (the SQL changes with
an id, a value derived from one some other way) and the statement is not kept: every call then
builds and runs the queryset as usual.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

Build = Callable[..., QuerySet[Any]]  # build(*ids, now)

# Sentinels: ids no row has (negative; odd in the first set, even in the second), instants no
# request asks at, each pair far apart.
_MAX_IDS = 8


def _sentinel(position: int, which: int) -> int:
    return -7_000_000_001 - 1_000 * position - 17 * which


_AT = (
    datetime(1971, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
    datetime(1983, 9, 10, 11, 12, 13, 141516, tzinfo=UTC),
)
_NEAR = timedelta(days=366)  # an instant within this of a sentinel is derived from it


@dataclass(frozen=True, slots=True)
class _Id:
    position: int


@dataclass(frozen=True, slots=True)
class Shift:
    """A parameter that is the call's instant plus `offset` (also `queues.statements`')."""

    offset: timedelta


@dataclass(frozen=True, slots=True)
class _Compiled:
    queryset: QuerySet[Any]  # the first one built: what kind of rows it gives
    compiler: SQLCompiler  # its compilation: what the rows' columns are and how to convert them
    sql: str
    params: tuple[Any, ...]  # a constant, an _Id, or a Shift from the call's instant

    def bind(self, ids: tuple[int, ...], now: datetime, *, using: str) -> list[Any]:
        adapt = connections[using].ops.adapt_datetimefield_value
        return [
            ids[p.position] if isinstance(p, _Id) else adapt(now + p.offset) if isinstance(p, Shift) else p
            for p in self.params
        ]


def instant_param(value: Any, *, using: str) -> datetime | None:
    """`value` as an aware instant, if it is one as the backend was given it (a datetime, or the
    text SQLite stores, in the connection's zone)."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (
            parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=connections[using].timezone or UTC)
        )
    return None


def _slots(first: Sequence[Any], second: Sequence[Any], *, count: int, using: str) -> tuple[Any, ...] | None:
    """Each parameter's slot, from the statement compiled with each set of sentinels; None when
    a parameter moved in a way that is neither an id nor an instant at a fixed offset."""
    if len(first) != len(second):
        return None
    adapt = connections[using].ops.adapt_datetimefield_value
    positions = {(_sentinel(k, 0), _sentinel(k, 1)): k for k in range(count)}
    out: list[Any] = []
    for a, b in zip(first, second, strict=True):
        if type(a) is int and type(b) is int and (a, b) in positions:
            out.append(_Id(positions[a, b]))
            continue
        at, bt = instant_param(a, using=using), instant_param(b, using=using)
        if at is not None and bt is not None:
            offset = at - _AT[0]
            if abs(offset) < _NEAR:
                if bt - _AT[1] != offset or adapt(_AT[0] + offset) != a or adapt(_AT[1] + offset) != b:
                    return None
                out.append(Shift(offset))
                continue
        if type(a) is type(b) and a == b:
            out.append(a)
            continue
        return None
    return tuple(out)


class ModelStatements:
    """At most `size` compiled statements, by key, the least recently used leaving first."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        # None: found not to be reusable; built at every call from then on.
        self._items: OrderedDict[Hashable, _Compiled | None] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def _compile(self, build: Build, *, count: int, using: str) -> _Compiled | None:
        compiled = []
        for which, at in enumerate(_AT):
            queryset = build(*(_sentinel(k, which) for k in range(count)), at).using(using)
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            compiled.append((queryset, compiler, sql, params))
        (queryset, compiler, sql, params), (_, _, sql2, params2) = compiled
        if sql != sql2:
            return None
        slots = _slots(params, params2, count=count, using=using)
        if slots is None:
            return None
        return _Compiled(queryset=queryset, compiler=compiler, sql=sql, params=slots)

    def rows(
        self, key: Hashable, build: Build, *, ids: tuple[int, ...], now: datetime, using: str = "default"
    ) -> list[Any]:
        """What `list(build(*ids, now))` gives, its SQL compiled once per key (and `build`'s
        number of ids)."""
        if len(ids) > _MAX_IDS:
            raise ValueError(f"at most {_MAX_IDS} ids")
        full_key = (using, len(ids), key)
        with self._lock:
            known = full_key in self._items
            hit = self._items.get(full_key)
            if known:
                self._items.move_to_end(full_key)
        if not known:
            hit = self._compile(build, count=len(ids), using=using)
            with self._lock:
                self._items[full_key] = hit
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        if hit is None:
            return list(build(*ids, now).using(using))
        return _run(hit, hit.bind(ids, now, using=using), using=using)


# The process's statements: every caller keys its own (a name first).
STATEMENTS = ModelStatements(size=512)


# -- PostgreSQL: prepared once per connection ------------------------------------------------------

# The statements prepared on each PostgreSQL connection (by name), and those PostgreSQL would not
# prepare (run as they are). A prepared statement lives as long as its session; a rollback does
# not undo it, and a connection lost takes its statements with it (a new one is not a key here).
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_unpreparable: set[str] = set()
_PLACEHOLDER = re.compile(r"%%|%s")


def _prepared_sql(sql: str, params: list[Any], *, using: str) -> str:
    """On PostgreSQL, `EXECUTE` of the statement prepared on this connection (planning a large
    statement costs more than running it; PostgreSQL plans a prepared one once it has seen its
    plan does not depend on the values), preparing it first if need be; elsewhere, or when
    PostgreSQL refused to prepare it, the statement itself."""
    connection = connections[using]
    if connection.vendor != "postgresql" or sql in _unpreparable:
        return sql
    name = "sportello_q_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    connection.ensure_connection()
    raw = connection.connection
    known = _prepared.get(raw)
    if known is None or name not in known:
        numbered = iter(range(1, len(params) + 1))
        text = _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else f"${next(numbered)}", sql)
        try:
            # In its own savepoint: a refusal must not abort the request's transaction.
            # The connection plans it once (`core.dburl.PG_SESSION_OPTIONS`: a generic plan).
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(f"PREPARE {name} AS {text}")  # no parameters: `%` is plain
        except DatabaseError as exc:
            # PostgreSQL's verdict on the statement itself (class 42: it cannot be prepared as
            # written) holds for good; anything else (a transaction already failed, a lost
            # connection) says nothing of it, and the statement then fails or runs as it would.
            if str(getattr(exc.__cause__, "sqlstate", "") or "").startswith("42"):
                _unpreparable.add(sql)
            return sql
        _prepared.setdefault(raw, set()).add(name)
    return f"EXECUTE {name}(" + ", ".join(["%s"] * len(params)) + ")" if params else f"EXECUTE {name}"


def _run(compiled: _Compiled, params: list[Any], *, using: str) -> list[Any]:
    """The rows of the compiled statement with these parameters, as its queryset gives them:
    Django's own iteration over a compiler that answers with this SQL."""
    runner = copy.copy(compiled.compiler)
    runner.connection = connections[using]
    sql = _prepared_sql(compiled.sql, params, using=using)
    runner.as_sql = lambda *args, **kwargs: (sql, params)  # type: ignore[method-assign, assignment]
    queryset = compiled.queryset.all()  # a copy, to hold this run's rows
    queryset.query.get_compiler = lambda *args, **kwargs: runner  # type: ignore[method-assign]
    return list(queryset)

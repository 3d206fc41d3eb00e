"""Statements compiled once per process and reused: building a view's queryset and compiling its
SQL costs more than running it (the sidebar's eight counts: about 15 ms of Python for 5 ms of
PostgreSQL on 1M tickets).

A statement is kept under a key that holds everything its SQL depends on (the caller builds it:
the agent, their departments, each view's condition, the custom fields' definitions). Its
parameters may also depend on the instant a page asks at (`$days_ago:N`, the at-risk window,
`ticket.overdue`): on a miss the statement is compiled at `now` and again at a probe instant a
few days and some odd hours later; a parameter that differs between the two must be an instant
the same distance from each (`now - 7 days`), and is then recomputed from each request's own
`now`. Any other difference (the SQL itself, a parameter moved by some other amount, or a value
that is not an instant) and the statement is not kept: it is compiled at every request, as
without this cache.

The cache holds at most `size` statements, the least recently used leaving first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections

from sportello.core.compiled import Shift, instant_param

# Far enough from `now` that any whole-day or whole-hour rounding would show.
PROBE = timedelta(days=3, hours=5, minutes=7, seconds=11, microseconds=13)

Build = Callable[[datetime], tuple[str, Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    params: tuple[Any, ...]  # a value, or a Shift to resolve against `now`

    def bind(self, now: datetime, *, using: str) -> list[Any]:
        adapt = connections[using].ops.adapt_datetimefield_value
        return [adapt(now + p.offset) if isinstance(p, Shift) else p for p in self.params]


def derive(
    first: tuple[str, Sequence[Any]],
    second: tuple[str, Sequence[Any]],
    *,
    now: datetime,
    probe: datetime,
    using: str,
) -> Compiled | None:
    """The statement compiled at `now` (`first`) and at `probe` (`second`) as one that binds to any
    instant, or None when they differ in anything but instants at a fixed distance from each."""
    (sql, params), (sql2, params2) = first, second
    if sql != sql2 or len(params) != len(params2):
        return None
    adapt = connections[using].ops.adapt_datetimefield_value
    out: list[Any] = []
    for a, b in zip(params, params2, strict=True):
        if type(a) is type(b) and a == b:
            out.append(a)
            continue
        at, bt = instant_param(a, using=using), instant_param(b, using=using)
        if at is None or bt is None or at - now != bt - probe:
            return None
        offset = at - now
        if adapt(now + offset) != a or adapt(probe + offset) != b:
            return None
        out.append(Shift(offset))
    return Compiled(sql=sql, params=tuple(out))


class StatementCache:
    """At most `size` compiled statements, by key, least recently used evicted first."""

    def __init__(self, size: int) -> None:
        self.size = size
        # None: compiled twice and found to hold something else than instants that move with
        # `now`; compiled once per request from then on.
        self._items: OrderedDict[Hashable, Compiled | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def constant(
        self, key: Hashable, build: Callable[[], tuple[str, Sequence[Any]]], *, using: str
    ) -> tuple[str, list[Any]]:
        """The SQL and parameters `build()` gives (a statement that does not depend on the
        instant it is asked at), compiled at most once per key."""
        full_key = (using, key)
        with self._lock:
            hit = self._items.get(full_key)
            if hit is not None:
                self._items.move_to_end(full_key)
        if hit is not None:
            return hit.sql, list(hit.params)
        sql, params = build()
        self._keep(full_key, Compiled(sql=sql, params=tuple(params)))
        return sql, list(params)

    def _keep(self, full_key: Hashable, compiled: Compiled | None) -> None:
        with self._lock:
            self._items[full_key] = compiled
            self._items.move_to_end(full_key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def statement(self, key: Hashable, build: Build, *, now: datetime, using: str) -> tuple[str, list[Any]]:
        """The SQL and parameters `build(now)` would give, compiled at most once per key."""
        full_key = (using, key)
        with self._lock:
            known = full_key in self._items
            hit = self._items.get(full_key)
            if known:
                self._items.move_to_end(full_key)
        if hit is not None:
            return hit.sql, hit.bind(now, using=using)
        sql, params = build(now)
        if known:
            return sql, list(params)
        compiled = derive((sql, params), build(now + PROBE), now=now, probe=now + PROBE, using=using)
        self._keep(full_key, compiled)
        return sql, list(params)

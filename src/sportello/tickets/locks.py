"""Locking a ticket for a change: the ticket's row alone, then a fresh read of what it refers to.

A change to a ticket holds the lock on its row (`SELECT … FOR UPDATE`) for the whole
transaction. The lock is taken on the bare row, by id, and only then is the ticket read with
its related rows and filtered by the actor's permission scope, in a second statement.

Why not one statement: on PostgreSQL, a `FOR UPDATE` query that joins other tables (the status,
the department, the scope's department membership) and finds the row locked waits for the
other writer, then re-checks its conditions against the row's new version but with the joined
rows it read before waiting. When the other writer moved the ticket to another status or
department, the re-check fails and the query returns nothing: the change answered "ticket not
found" and was lost. The bare lock has nothing to re-check but the id, and the read after it
(a new statement) sees what the other writer committed.

On SQLite the transaction already holds the database's write lock (`BEGIN IMMEDIATE`); the
same two statements run and the first one locks nothing more.

A batch of changes in one transaction that already holds its tickets' locks (a round of
timers, which locks the tickets of its timers in one statement first) reads them for their
changes in one statement too (`tickets_held`): each change then takes its ticket from the batch
— no lock to take, nothing to read — once; a second change of the same ticket in the batch
reads it afresh (the lock is held: only the read runs). This is exact because the batch's
tickets cannot change but by the batch's own changes, each of which writes its own ticket only
(a change that saves a ticket drops it from the batch, `held_ticket_saved`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound

from .models import Ticket, TicketTag
from .selectors import ticket_scope

# What a change reads with its ticket (`pipeline.ticket_apply`): the batch reads the same.
CHANGE_RELATED = ("status", "department", "requester", "sla", "blueprint_run")
_TAGS = "_locked_tags"


class _Held:
    """The tickets a batch holds locked: those not yet taken by a change, and all their ids."""

    __slots__ = ("ids", "tickets")

    def __init__(self, tickets: dict[int, Ticket]) -> None:
        self.tickets = tickets
        self.ids = frozenset(tickets)


_held: ContextVar[_Held | None] = ContextVar("tickets_held", default=None)


def _tag_names() -> RawSQL:
    """The ticket's tag names as one value of its row: an array on PostgreSQL, a JSON array on
    SQLite (`locked_tags` reads either)."""
    tags, tickets = TicketTag._meta.db_table, Ticket._meta.db_table
    names = f"SELECT t.name FROM {tags} t WHERE t.ticket_id = {tickets}.id"  # noqa: S608  (table names)
    if connection.vendor == "postgresql":
        sql = f"ARRAY({names})"
    else:
        sql = f"(SELECT json_group_array(name) FROM ({names}))"  # noqa: S608  (table names)
    return RawSQL(sql, ())  # noqa: S611  (no parameter: the SQL is constant)


def locked_tags(ticket: Ticket) -> list[str] | None:
    """The tag names read with the ticket by `ticket_lock(..., tags=True)`, sorted; None when
    they were not read with it."""
    found: Any = ticket.__dict__.get(_TAGS)
    if found is None:
        return None
    names = json.loads(found) if isinstance(found, str) else list(found)
    return sorted(names)


def _read(qs: Any, *, related: tuple[str, ...], only: tuple[str, ...], tags: bool) -> Any:
    if related:
        qs = qs.select_related(*related)
    if only:
        qs = qs.only(*only)
    if tags:
        qs = qs.annotate(**{_TAGS: _tag_names()})
    return qs


@contextmanager
def tickets_held(ids: Iterable[int]) -> Iterator[None]:
    """The tickets `ids`, whose rows the current transaction holds locked, read in one statement
    for the changes made while the block runs (see the module doc)."""
    wanted = sorted(set(ids))
    rows = _read(Ticket.objects.filter(pk__in=wanted), related=CHANGE_RELATED, only=(), tags=True)
    found = {t.pk: t for t in rows}
    token = _held.set(_Held(found))
    try:
        yield
    finally:
        _held.reset(token)


def held_ticket_saved(ticket_id: int) -> None:
    """A change saved the ticket: the batch's copy, if still there, is no longer what is stored."""
    held = _held.get()
    if held is not None:
        held.tickets.pop(ticket_id, None)


def ticket_lock(
    *,
    ticket_id: int,
    principal: User | Contact | None = None,
    related: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    tags: bool = False,
) -> Ticket:
    """The ticket, its row locked until the transaction ends, read after the lock with `related`
    (`select_related`) and only `only` fields when given; `tags`: its tag names read with it
    (`locked_tags`). With a `principal`, a ticket outside its scope is `NotFound`, exactly like
    a missing one (the lock is released with the transaction, which the error rolls back)."""
    held = _held.get()
    if held is not None and isinstance(ticket_id, int) and ticket_id in held.ids:
        if principal is None and not only and set(related) <= set(CHANGE_RELATED):
            ticket = held.tickets.pop(ticket_id, None)
            if ticket is not None:
                return ticket
        locked = [ticket_id]  # the batch holds its lock: only the read runs
    else:
        try:
            bare = Ticket.objects.select_for_update().filter(pk=ticket_id)
            locked = list(bare.values_list("pk", flat=True))
        except (ValueError, OverflowError, TypeError):
            raise NotFound("ticket not found") from None
        if not locked:
            raise NotFound("ticket not found")
    scope = ticket_scope(principal=principal) if principal is not None else Q()
    qs = _read(Ticket.objects.filter(scope), related=related, only=only, tags=tags)
    ticket = qs.filter(pk=locked[0]).first()
    if ticket is None:
        raise NotFound("ticket not found")
    return ticket  # type: ignore[no-any-return]

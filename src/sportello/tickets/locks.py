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
"""

from __future__ import annotations

from django.db.models import Q

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound

from .models import Ticket
from .selectors import ticket_scope


def ticket_lock(
    *,
    ticket_id: int,
    principal: User | Contact | None = None,
    related: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
) -> Ticket:
    """The ticket, its row locked until the transaction ends, read after the lock with `related`
    (`select_related`) and only `only` fields when given. With a `principal`, a ticket outside
    its scope is `NotFound`, exactly like a missing one (the lock is released with the
    transaction, which the error rolls back)."""
    try:
        locked = list(Ticket.objects.select_for_update().filter(pk=ticket_id).values_list("pk", flat=True))
    except (ValueError, OverflowError, TypeError):
        raise NotFound("ticket not found") from None
    if not locked:
        raise NotFound("ticket not found")
    scope = ticket_scope(principal=principal) if principal is not None else Q()
    qs = Ticket.objects.filter(scope)
    if related:
        qs = qs.select_related(*related)
    if only:
        qs = qs.only(*only)
    ticket = qs.filter(pk=locked[0]).first()
    if ticket is None:
        raise NotFound("ticket not found")
    return ticket

"""Reads of tasks, permission-scoped: a person sees the tasks of the tickets they may read, and
the tasks assigned to them or created by them (on any ticket)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound
from sportello.tickets.models import Ticket
from sportello.tickets.selectors import ticket_scope

from .models import Task, TaskStatus


def task_scope(*, principal: User | Contact) -> Q:
    if isinstance(principal, Contact) or not principal.is_active:
        return Q(pk__in=[])
    readable = Ticket.objects.filter(ticket_scope(principal=principal)).values("pk")
    return Q(ticket__in=readable) | Q(assignee=principal) | Q(created_by=principal)


def task_list(
    *,
    principal: User | Contact,
    ticket_id: int | None = None,
    assignee_id: int | None = None,
    status: str | None = None,
    overdue_at: datetime | None = None,
) -> QuerySet[Task]:
    """`overdue_at`: only open tasks whose due instant is before it."""
    qs = Task.objects.filter(task_scope(principal=principal)).select_related("ticket")
    if ticket_id is not None:
        qs = qs.filter(ticket_id=ticket_id)
    if assignee_id is not None:
        qs = qs.filter(assignee_id=assignee_id)
    if status is not None:
        qs = qs.filter(status=status)
    if overdue_at is not None:
        qs = qs.filter(status=TaskStatus.OPEN, due_at__lt=overdue_at)
    return qs


def tasks_of_readable(*, ticket: Ticket) -> QuerySet[Task]:
    """The tasks of a ticket the caller has read for its principal (through the tickets'
    permission-scoped reads): every task of a ticket one may read is theirs to see (`task_scope`),
    so no scope is applied again."""
    return Task.objects.filter(ticket_id=ticket.pk)


def task_get(*, principal: User | Contact, task_id: int) -> Task:
    task = (
        Task.objects.filter(task_scope(principal=principal))
        .select_related("ticket")
        .filter(pk=task_id)
        .first()
    )
    if task is None:
        raise NotFound("task not found")
    return task

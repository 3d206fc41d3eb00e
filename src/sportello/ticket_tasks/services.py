"""Tasks on tickets: create, change, complete, reopen.

Who may do what:
- anyone who may add an internal note to the ticket (its department's agents and light agents,
  admins) creates tasks on it and changes them;
- the task's assignee — who may belong to any department, and need not see the ticket otherwise
  — completes and reopens it (so do those who may change it).
A task is assigned to one active person: agent, light agent or admin.

Every write records an event on the ticket (kind `task`; field `created`, `updated`,
`completed` or `reopened`; the task's id and what changed) through the change pipeline, in the
same transaction, and re-arms the task's reminders (`reminders.reminders_arm`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from sportello.accounts.models import User
from sportello.core.actors import Via
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.core.text import clean_text
from sportello.engine.rules import format_duration, parse_duration
from sportello.engine.schema import RuleSchemaError
from sportello.tickets import permissions, pipeline
from sportello.tickets.models import EventKind, Ticket
from sportello.tickets.selectors import ticket_scope
from sportello.tickets.services import actor_for

from .models import Task, TaskStatus
from .reminders import reminders_arm

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
REMINDERS_MAX = 5
REMINDER_MAX = timedelta(days=365)
UNSET: Any = object()


def ticket_for_tasks(*, actor: User, ticket_id: int) -> Ticket:
    """The ticket, when `actor` may add tasks to it (NotFound when they may not read it)."""
    ticket = Ticket.objects.filter(ticket_scope(principal=actor)).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound("ticket not found")
    permissions.check_may_change(
        principal=actor, ticket=ticket, fields=False, public_message=False, internal_message=True
    )
    return ticket


def _may_edit(actor: User, task: Task) -> bool:
    return Ticket.objects.filter(ticket_scope(principal=actor)).filter(pk=task.ticket_id).exists()


def _assignee(raw: Any) -> User:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationFailed("must be the id of an active agent", field="assignee_id")
    user = User.objects.filter(pk=raw, is_active=True).first()
    if user is None:
        raise ValidationFailed(f"no active agent with id {raw}", field="assignee_id")
    return user


def _title(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed("must be a string", field="title")
    return clean_text(raw, field="title", max_length=TITLE_MAX, single_line=True, required=True)


def _description(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationFailed("must be a string", field="description")
    return clean_text(raw, field="description", max_length=DESCRIPTION_MAX)


def _due(raw: Any) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, datetime) or raw.tzinfo is None:
        raise ValidationFailed("must be a date and time with a UTC offset", field="due_at")
    return raw


def _reminders(raw: Any) -> list[int]:
    """Durations before the due instant ("1d", "2h", "0m" = at it) as seconds, latest first."""
    if not isinstance(raw, list | tuple):
        raise ValidationFailed("must be a list of durations such as 1d or 2h", field="reminders")
    if len(raw) > REMINDERS_MAX:
        raise ValidationFailed(f"at most {REMINDERS_MAX} reminders", field="reminders")
    seconds: set[int] = set()
    for i, item in enumerate(raw):
        try:
            value = parse_duration(item, f"reminders[{i}]")
        except RuleSchemaError as exc:
            raise ValidationFailed(exc.message, field=exc.path) from None
        if value < timedelta(0) or value > REMINDER_MAX:
            raise ValidationFailed(
                "must be between 0 and 365 days before the due date", field=f"reminders[{i}]"
            )
        seconds.add(int(value.total_seconds()))
    return sorted(seconds, reverse=True)


def reminders_out(seconds: list[int]) -> list[str]:
    """As written: "1d", "2h"; at the due instant itself "0m"."""
    return [format_duration(timedelta(seconds=s)) if s else "0m" for s in seconds]


def _snapshot(task: Task) -> dict[str, Any]:
    return {
        "task": task.pk,
        "title": task.title,
        "assignee": task.assignee_id,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "status": task.status,
    }


def _record(*, task: Task, actor: User, via: Via, field: str, old: Any, new: Any, now: datetime) -> None:
    """The task's event on its ticket, through the pipeline. The service has authorised the
    actor (an assignee may act on a task of a ticket they cannot otherwise change)."""
    pipeline.ticket_apply(
        ticket_id=task.ticket_id,
        mutation=pipeline.Mutation(
            actor=actor_for(actor),
            via=via,
            cause=f"task:{task.pk}",
            records=(pipeline.NewRecord(kind=EventKind.TASK, field=field, old=old, new=new),),
            authorised=True,
        ),
        now=now,
    )


@transaction.atomic
def task_create(
    *,
    actor: User,
    ticket_id: int,
    title: Any,
    assignee_id: Any,
    description: Any = "",
    due_at: Any = None,
    reminders: Any = (),
    via: Via = Via.API,
    now: datetime,
) -> Task:
    ticket = ticket_for_tasks(actor=actor, ticket_id=ticket_id)
    offsets = _reminders(reminders)
    due = _due(due_at)
    if offsets and due is None:
        raise ValidationFailed("reminders need a due date", field="reminders")
    task = Task.objects.create(
        ticket=ticket,
        title=_title(title),
        description=_description(description),
        assignee=_assignee(assignee_id),
        due_at=due,
        reminders=offsets,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    _record(task=task, actor=actor, via=via, field="created", old=None, new=_snapshot(task), now=now)
    reminders_arm(task, now=now)
    return task


@transaction.atomic
def task_update(
    *,
    actor: User,
    task_id: int,
    title: Any = UNSET,
    description: Any = UNSET,
    assignee_id: Any = UNSET,
    due_at: Any = UNSET,
    reminders: Any = UNSET,
    expected_version: int | None = None,
    via: Via = Via.API,
    now: datetime,
) -> Task:
    """Change what is given (UNSET leaves it). 409 when `expected_version` is stale."""
    task = _locked(actor, task_id)
    if not _may_edit(actor, task):
        raise PermissionDenied("only those who may change the ticket edit its tasks")
    permissions.check_may_change(
        principal=actor, ticket=None, fields=False, public_message=False, internal_message=True
    )
    _check_version(task, expected_version)
    before = _snapshot(task)
    if title is not UNSET:
        task.title = _title(title)
    if description is not UNSET:
        task.description = _description(description)
    if assignee_id is not UNSET:
        task.assignee = _assignee(assignee_id)
    if due_at is not UNSET:
        task.due_at = _due(due_at)
    if reminders is not UNSET:
        task.reminders = _reminders(reminders)
    if task.reminders and task.due_at is None:
        raise ValidationFailed("reminders need a due date", field="reminders")
    after = _snapshot(task)
    changed = {k: after[k] for k in after if after[k] != before[k]}
    if not changed and description is UNSET and reminders is UNSET:
        return task
    task.version += 1
    task.updated_at = now
    task.save()
    old = {k: before[k] for k in changed}
    _record(
        task=task, actor=actor, via=via, field="updated", old=old, new={"task": task.pk, **changed}, now=now
    )
    reminders_arm(task, now=now)
    return task


@transaction.atomic
def task_complete(*, actor: User, task_id: int, via: Via = Via.API, now: datetime) -> Task:
    return _set_status(actor, task_id, TaskStatus.DONE, via=via, now=now)


@transaction.atomic
def task_reopen(*, actor: User, task_id: int, via: Via = Via.API, now: datetime) -> Task:
    return _set_status(actor, task_id, TaskStatus.OPEN, via=via, now=now)


def _set_status(actor: User, task_id: int, status: str, *, via: Via, now: datetime) -> Task:
    task = _locked(actor, task_id)
    if task.assignee_id != actor.pk and not _may_edit(actor, task):
        raise PermissionDenied("only the task's assignee or those who may change the ticket may do this")
    if not actor.is_active:
        raise PermissionDenied("this agent is deactivated")
    if task.status == status:
        return task  # already so: nothing to record
    task.status = status
    task.completed_at = now if status == TaskStatus.DONE else None
    task.completed_by = actor if status == TaskStatus.DONE else None
    task.version += 1
    task.updated_at = now
    task.save()
    field = "completed" if status == TaskStatus.DONE else "reopened"
    _record(task=task, actor=actor, via=via, field=field, old=None, new=_snapshot(task), now=now)
    reminders_arm(task, now=now)
    return task


def _locked(actor: User, task_id: int) -> Task:
    from .selectors import task_scope

    # The task's row alone is locked, then read in the actor's scope (a join or subquery in the
    # locking statement would be re-checked on PostgreSQL against rows read before the wait).
    try:
        locked = list(Task.objects.select_for_update().filter(pk=task_id).values_list("pk", flat=True))
    except (ValueError, OverflowError, TypeError):
        raise NotFound("task not found") from None
    task = Task.objects.filter(task_scope(principal=actor)).filter(pk__in=locked).first()
    if task is None:
        raise NotFound("task not found")
    return task


def _check_version(task: Task, expected: int | None) -> None:
    from sportello.core.errors import Conflict

    if expected is not None and expected != task.version:
        raise Conflict(
            f"the task changed since you loaded it (your version {expected}, current {task.version}); "
            "reload and try again",
            field="version",
            code="stale_version",
        )

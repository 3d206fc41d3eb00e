"""Task reminders on exact timers, like time rules' steps.

Arming (`reminders_arm`, called by every task write in its transaction): an open task with a due
instant has one `TaskReminder` row per reminder offset, for that due instant; rows of another
due instant, of a done task, or of an offset no longer asked for are dropped unless already sent.
A reminder whose instant is already past when it is armed is not armed (a task created due in
30 minutes with a one-hour reminder is not reminded at once of what its author just wrote).

Sending (`reminders_send_due`, the worker's poller `reminders_poll`, through the one timer
mechanism, `core.timers`): due rows are claimed in rounds with `FOR UPDATE SKIP LOCKED` (SQLite:
the write lock), the task re-checked (still open, same due instant), the e-mail to the assignee
written to the outbox and `sent_at` set, in the round's transaction: a reminder is sent once,
whatever crashes or how many workers run. The assignee also
gets an in-app notification (`inbox`) in that transaction, when they may see the ticket.
One that fails unexpectedly is rolled back alone, retried with back-off, then parked
(`core.timers`); the others fire meanwhile.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import Q

from sportello.core import timers as mechanism
from sportello.core.timers import Round, TimerKind, register_timer_kind
from sportello.inbox.models import NotificationKind
from sportello.inbox.services import notification_add
from sportello.notifications.context import public_url
from sportello.outbox import services as outbox
from sportello.tickets.selectors import ticket_visible_ids

from .models import Task, TaskReminder, TaskStatus


def reminders_arm(task: Task, *, now: datetime) -> None:
    pending = TaskReminder.objects.filter(task=task, sent_at__isnull=True)
    if task.status != TaskStatus.OPEN or task.due_at is None:
        pending.delete()
        return
    wanted = {
        offset: task.due_at - timedelta(seconds=offset)
        for offset in task.reminders
        if task.due_at - timedelta(seconds=offset) >= now
    }
    pending.exclude(task_due_at=task.due_at, offset__in=list(wanted)).delete()
    TaskReminder.objects.bulk_create(
        [
            TaskReminder(task=task, offset=offset, task_due_at=task.due_at, remind_at=at)
            for offset, at in wanted.items()
        ],
        ignore_conflicts=True,  # armed already (or sent: a reminder is not sent twice)
    )


def reminder_send(*, reminder_id: int, now: datetime) -> str | None:
    """Send one due reminder; its outcome (`sent`, `stale`), or None when it is gone, not due or
    held by another worker."""
    return mechanism.fire_one(REMINDERS, reminder_id, now=now)


def _send(reminder: TaskReminder, rnd: Round) -> str:
    """The reminder kind's action on one claimed row (`core.timers`)."""
    now = rnd.now
    task = reminder.task
    if task.status != TaskStatus.OPEN or task.due_at != reminder.task_due_at:
        rnd.drop(reminder)  # done, or moved since: its own reminders are armed
        return "stale"
    ticket = task.ticket
    overdue = task.due_at <= now
    when = "is overdue" if overdue else f"is due {task.due_at:%Y-%m-%d %H:%M} UTC"
    outbox.outbox_add(
        kind="email",
        ticket=ticket,
        change_id=uuid.uuid4(),
        dedupe_key=f"task-reminder:{reminder.pk}",
        payload={
            "to": [task.assignee.email],
            "subject": f"[#{ticket.number}] Task {when}: {task.title}"[:250],
            "body": f"Your task on ticket #{ticket.number} ({ticket.subject}) {when}:\n\n"
            f"{task.title}\n\n{task.description}".rstrip()
            + f"\n\nOpen the ticket: {public_url()}/tickets/{ticket.pk}/\n",
            "ticket_number": ticket.number,
            "task": task.pk,
        },
        now=now,
    )
    if ticket_visible_ids(principal=task.assignee, ids=[ticket.pk]):  # else it would lead nowhere
        notification_add(
            recipient_id=task.assignee_id,
            kind=NotificationKind.TASK_DUE,
            ticket=ticket,
            parts={"title": task.title, "overdue": overdue},
            now=now,
        )
    rnd.sent(reminder)  # `sent_at` set with the round
    return "sent"


def reminders_send_due(*, now: datetime, limit: int = mechanism.ROUND_MAX) -> list[str]:
    """Send the reminders due at `now`; a failing one is retried, then parked (`core.timers`)."""
    return mechanism.fire_due(REMINDERS, now=now, limit=limit)


def reminders_poll(now: datetime) -> datetime | None:
    """The worker's poller: send what is due, then say when to look again (at most a second
    away, so reminders armed meanwhile by other processes are not missed)."""
    return mechanism.poll(REMINDERS, now)


REMINDERS = TimerKind(
    name="task_reminder",
    model=TaskReminder,
    fire=lambda reminder, rnd: _send(reminder, rnd),
    key=("task_id", "offset", "task_due_at"),
    sent_field="sent_at",
    due_field="remind_at",
    ticket_field="task__ticket_id",
    pending=Q(sent_at__isnull=True),
    load=("task", "task__ticket", "task__assignee"),
    related=("task",),
    describe=lambda r: f"reminder of task {r.task_id} ({r.task.title}), {r.offset}s before it is due"[:300],
)


def register() -> None:
    from sportello.core.worker import register_poller

    register_timer_kind(REMINDERS)
    register_poller("task_reminders", reminders_poll)

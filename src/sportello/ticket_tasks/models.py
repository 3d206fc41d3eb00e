"""Tasks: work items on a ticket, each assigned to one person (of any department), with a due
instant and reminders before it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sportello.core.models import RetriedTimer
from sportello.tickets.models import Ticket


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class Task(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks")
    due_at = models.DateTimeField(null=True, blank=True)
    # Seconds before `due_at` at which the assignee is reminded (0: at the due instant).
    reminders = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # the overdue list of an agent: open tasks by due instant
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["ticket", "status"], name="task_ticket"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk}: {self.title}"


class TaskReminder(RetriedTimer):
    """A reminder armed for a task: `remind_at` = the task's `due_at` (as it was when armed) minus
    `offset` seconds. One row per (task, offset, due instant): re-arming after the due date moves
    adds rows for the new instant; sending sets `sent_at` in the same transaction as the
    notification, so a reminder is sent once whatever crashes or how many workers run."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="armed_reminders")
    offset = models.PositiveIntegerField()
    task_due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["remind_at", "id"]
        constraints = [
            models.UniqueConstraint("task", "offset", "task_due_at", name="ticket_tasks_reminder_unique")
        ]
        indexes = [
            models.Index(
                fields=["remind_at", "id"], name="task_reminder_due", condition=Q(sent_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"reminder of task {self.task_id} at {self.remind_at}"

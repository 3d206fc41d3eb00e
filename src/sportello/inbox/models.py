"""In-app notifications: what an agent should look at, shown behind the bell in the top bar.

A notification is written by the change pipeline (`inbox.hooks`), in the change's own
transaction: it exists exactly when the change that caused it was committed.
"""

from __future__ import annotations

from django.db import models

from sportello.accounts.models import User
from sportello.tickets.models import Ticket


class NotificationKind(models.TextChoices):
    MENTION = "mention", "Mention"
    ASSIGNED = "assigned", "Assigned"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breach"
    TASK_DUE = "task_due", "Task due"


class Notification(models.Model):
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    # Who or what caused it ("Marta Rossi", "SLA policy VIP", "rule Route returns"), and the
    # words that go with it (a note's excerpt; an SLA metric key), rendered in the viewer's
    # language when shown.
    actor_label = models.CharField(max_length=200, blank=True, default="")
    parts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="inbox_recipient_newest"),
            models.Index(
                fields=["recipient"], name="inbox_recipient_unread", condition=models.Q(read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id} on {self.ticket_id}"

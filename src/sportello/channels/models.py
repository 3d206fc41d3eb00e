"""The outbox: outbound effects written in the ticket's transaction, delivered by workers."""

from __future__ import annotations

import uuid

from django.db import models


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    kind = models.CharField(max_length=20)  # email, webhook
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="outbox"
    )
    change_id = models.UUIDField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    # Sent to receivers on every attempt (`X-Sportello-Delivery`) so they can de-duplicate.
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set while an attempt is in flight (claimed, not yet recorded); a crashed attempt's lease
    # runs out and the item becomes deliverable again.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["ticket", "id"], name="outbox_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedupe_key}"


class WebhookSecret(models.Model):
    """A shared secret that signs webhook deliveries, referred to by name from rules
    (`secret_ref`), so rules never hold the secret itself."""

    name = models.CharField(max_length=100, unique=True)
    secret = models.CharField(max_length=500)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name  # never the secret

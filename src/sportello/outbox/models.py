"""The outbox: outbound effects written in the ticket's transaction, delivered by workers;
the secrets that sign webhooks, and the automatic replies counted against the daily cap.

The tables keep the names they had when these models belonged to `channels`."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Transient failures went on past the retry window: kept, visible, retried only on request.
    PARKED = "parked", "Parked"


class ReplyMessageId(models.Func):
    """The message an e-mail item sends (an agent's reply; `notifications` writes its id into the
    payload), as the index `outbox_email_reply` holds it: a ticket page finds how its replies'
    e-mails fared by their ids, without reading the rest of the outbox. The JSON path is written
    into the SQL, not bound: SQLite uses an expression index only for the very same expression."""

    output_field = models.IntegerField()
    template = "CAST(JSON_EXTRACT(%(expressions)s, '$.message_id') AS integer)"

    def __init__(self) -> None:
        super().__init__(models.F("payload"))

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="((%(expressions)s ->> 'message_id'))::integer", **extra_context
        )


class OutboxMessage(models.Model):
    kind = models.CharField(max_length=20)  # email, webhook
    # Where a webhook goes (`scheme://host:port`): deliveries to one destination are bounded in
    # number in flight, and wait while that destination is failing. Empty for e-mail.
    destination = models.CharField(max_length=300, blank=True, default="")
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
    # The task (its result id) whose attempt holds the lease: when that task is recovered from a
    # dead worker and runs again, the lease is its own lost attempt and need not be waited out.
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    # Transient failures are retried until the retry window, counted from here (else from
    # `created_at`), has passed; a parked delivery retried on request starts a new window.
    window_start = models.DateTimeField(null=True, blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "channels_outboxmessage"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["ticket", "id"], name="outbox_ticket"),
            models.Index(fields=["destination", "status"], name="outbox_destination"),
            # Whole, not partial over e-mails: SQLite would not use a partial index for a kind
            # given as a parameter. Items without a reply (webhooks, notices) hold NULL.
            models.Index(ReplyMessageId(), name="outbox_email_reply"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedupe_key}"


class WebhookSecret(models.Model):
    """A shared secret that signs webhook deliveries, referred to by name from rules
    (`secret_ref`), so rules never hold the secret itself. Values are stored encrypted
    (`outbox.secrets`); after a rotation the previous value keeps signing, next to the new
    one, until `previous_until`."""

    name = models.CharField(max_length=100, unique=True)
    secret = models.TextField()  # encrypted (outbox.secrets.seal), never returned
    previous = models.TextField(blank=True, default="")  # encrypted; "" when none
    previous_until = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)  # how many values it has had
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rotated_at = models.DateTimeField(null=True, blank=True)
    rotated_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "channels_webhooksecret"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name  # never the secret


class AutoReply(models.Model):
    """An automatic message sent to an address (a notification, not an agent's reply): counted
    per recipient to cap automatic replies and so stop ping-pong with other robots."""

    recipient = models.EmailField(max_length=254)  # lower-cased
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField()

    class Meta:
        db_table = "channels_autoreply"
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["recipient", "sent_at"], name="autoreply_recipient")]

    def __str__(self) -> str:
        return f"automatic mail to {self.recipient} at {self.sent_at}"

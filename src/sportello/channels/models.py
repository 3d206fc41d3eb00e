"""The outbox: outbound effects written in the ticket's transaction, delivered by workers."""

from __future__ import annotations

import uuid

from django.db import models


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Transient failures went on past the retry window: kept, visible, retried only on request.
    PARKED = "parked", "Parked"


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
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["ticket", "id"], name="outbox_ticket"),
            models.Index(fields=["destination", "status"], name="outbox_destination"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedupe_key}"


class WebhookSecret(models.Model):
    """A shared secret that signs webhook deliveries, referred to by name from rules
    (`secret_ref`), so rules never hold the secret itself. Values are stored encrypted
    (`channels.secrets`); after a rotation the previous value keeps signing, next to the new
    one, until `previous_until`."""

    name = models.CharField(max_length=100, unique=True)
    secret = models.TextField()  # encrypted (channels.secrets.seal), never returned
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
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name  # never the secret


class ImapSecurity(models.TextChoices):
    SSL = "ssl", "TLS from the start (993)"
    STARTTLS = "starttls", "STARTTLS (143)"
    NONE = "none", "None (loopback only)"


class Mailbox(models.Model):
    """An address the desk receives mail at, for one department, and optionally the IMAP
    account it is read from (mail may instead arrive from an MTA: the inbound endpoint or
    `sportello mail ingest`). One poller at a time holds its lease."""

    address = models.EmailField(max_length=254, unique=True)  # stored lower-cased
    department = models.ForeignKey("accounts.Department", on_delete=models.PROTECT, related_name="mailboxes")
    active = models.BooleanField(default=True)
    imap_host = models.CharField(max_length=255, blank=True, default="")
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=10, choices=ImapSecurity.choices, default=ImapSecurity.SSL)
    imap_username = models.CharField(max_length=255, blank=True, default="")
    imap_password = models.CharField(max_length=500, blank=True, default="")  # never shown by the API
    imap_folder = models.CharField(max_length=200, default="INBOX")
    # On the first read of a folder (or after its UIDs were renumbered), messages already marked
    # read are left alone — years of old mail do not become tickets — unless this is set.
    imap_take_read = models.BooleanField(default=False)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)  # the highest UID whose message is committed
    # Up to this UID (the folder's highest when it was first read), read messages are skipped.
    skip_read_through = models.BigIntegerField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class InboundStatus(models.TextChoices):
    TICKET = "ticket", "New ticket"
    REPLY = "reply", "Reply on a ticket"
    BOUNCE = "bounce", "Bounce"
    QUARANTINE = "quarantine", "Quarantined"
    IGNORED = "ignored", "Ignored (our own message, a loop)"


class InboundMail(models.Model):
    """Every message received, whatever became of it, with its raw bytes kept (in the
    attachment storage). `dedupe_key` makes ingestion idempotent: the same message (its
    Message-ID and sender, or without a Message-ID its bytes) is applied once."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    via = models.CharField(max_length=10)  # imap, mta (the endpoint), pipe (the command)
    dedupe_key = models.CharField(max_length=80, unique=True)
    header_message_id = models.CharField(max_length=998, blank=True, default="")  # its Message-ID header
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    raw_key = models.CharField(max_length=64, blank=True, default="")  # storage key of the raw bytes
    sender = models.CharField(max_length=254, blank=True, default="")  # addr-spec, lower-cased
    recipient = models.CharField(max_length=254, blank=True, default="")  # the address it came in at
    subject = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=12, choices=InboundStatus.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    automatic = models.BooleanField(default=False)  # auto-submitted, bulk, list: never auto-answered
    reopened = models.BooleanField(default=False)  # it reopened its ticket (reopenings are rate-limited)
    # The other addresses in To/Cc of an accepted message, ",a@x,b@y,": participants of the ticket.
    participants = models.TextField(blank=True, default="")
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_mail"
    )
    message = models.ForeignKey(
        "tickets.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    defects = models.JSONField(default=list)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["sender", "received_at"], name="inbound_sender"),
            models.Index(fields=["status", "received_at"], name="inbound_status"),
            models.Index(fields=["ticket", "received_at"], name="inbound_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.dedupe_key}"


class AddressHealth(models.Model):
    """Deliverability of an address we send to: bounces received (delivery status
    notifications) mark it bouncing; a later successful reply from it clears the mark."""

    email = models.EmailField(max_length=254, unique=True)  # lower-cased
    bouncing = models.BooleanField(default=False)
    bounces = models.PositiveIntegerField(default=0)
    last_bounce_at = models.DateTimeField(null=True, blank=True)
    last_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return f"{self.email}{' (bouncing)' if self.bouncing else ''}"


class AutoReply(models.Model):
    """An automatic message sent to an address (a notification, not an agent's reply): counted
    per recipient to cap automatic replies and so stop ping-pong with other robots."""

    recipient = models.EmailField(max_length=254)  # lower-cased
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["recipient", "sent_at"], name="autoreply_recipient")]

    def __str__(self) -> str:
        return f"automatic mail to {self.recipient} at {self.sent_at}"

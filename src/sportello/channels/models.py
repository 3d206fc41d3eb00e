"""Mail intake: the mailboxes the desk receives at, every message received, and the
deliverability of the addresses we send to."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.deconstruct import deconstructible

# The leading characters of a received Message-ID that its index holds (an index entry has a size
# limit; a Message-ID may have 998 characters): threading looks ids up by this prefix, then exactly.
MESSAGE_ID_PREFIX = 200


@deconstructible(path="sportello.channels.models.MessageIdPrefix")
class MessageIdPrefix(models.Func):
    """The indexed prefix of `InboundMail.header_message_id` (index `inbound_message_id`). Its
    bounds are written in the SQL, not passed as parameters: SQLite uses an index on an
    expression only for a query that spells the expression the same way."""

    function = "SUBSTR"
    template = f"%(function)s(%(expressions)s, 1, {MESSAGE_ID_PREFIX})"
    output_field = models.CharField()

    def __init__(self, **extra: Any) -> None:
        super().__init__(models.F("header_message_id"), **extra)


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
            # Threading: a reply naming a message that opened or answered a ticket.
            models.Index(
                MessageIdPrefix(), condition=models.Q(ticket__isnull=False), name="inbound_message_id"
            ),
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

"""Outbound effects. `outbox_add` runs inside the ticket's transaction; delivery happens in a
worker after commit (a rollback leaves nothing behind, a crash after commit loses nothing)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMessage
from django.db import transaction

from sportello.core import clock

from .models import OutboxMessage, OutboxStatus

MAX_ATTEMPTS = 8


def outbox_add(
    *,
    kind: str,
    ticket: Any,
    change_id: uuid.UUID | None,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    from .tasks import deliver_outbox

    # Dedupe keys are built from ids that are new in this transaction (message, change), so a
    # plain insert is right; a repeated key is a bug and fails the mutation loudly.
    item = OutboxMessage.objects.create(
        dedupe_key=dedupe_key,
        kind=kind,
        ticket=ticket,
        change_id=change_id,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    deliver_outbox.enqueue(outbox_id=item.pk)
    return item


def _deliver_email(payload: dict[str, Any]) -> None:
    msg = EmailMessage(
        subject=" ".join(str(payload["subject"]).split()),  # no header injection through line breaks
        body=str(payload["body"]),
        to=list(payload["to"]),
    )
    msg.send(fail_silently=False)


def outbox_deliver(*, outbox_id: int) -> OutboxStatus:
    """Deliver one outbox item at most once: the row is claimed under a lock and marked sent in
    the same transaction as the attempt's outcome."""
    now = clock.now()
    with transaction.atomic():
        item = OutboxMessage.objects.select_for_update().filter(pk=outbox_id).first()
        if item is None or item.status != OutboxStatus.PENDING:
            return OutboxStatus(item.status) if item else OutboxStatus.FAILED
        item.attempts += 1
        try:
            if item.kind == "email":
                _deliver_email(item.payload)
            else:
                raise ValueError(f"unknown outbox kind {item.kind!r}")
        except Exception as exc:
            item.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if item.attempts >= MAX_ATTEMPTS:
                item.status = OutboxStatus.FAILED
            else:
                item.next_attempt_at = now + timedelta(seconds=min(3600, 2**item.attempts * 5))
            item.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            if item.status == OutboxStatus.PENDING:
                from .tasks import deliver_outbox

                deliver_outbox.using(run_after=item.next_attempt_at).enqueue(outbox_id=item.pk)
            return OutboxStatus(item.status)
        item.status = OutboxStatus.SENT
        item.sent_at = now
        item.save(update_fields=["attempts", "status", "sent_at"])
        return OutboxStatus.SENT

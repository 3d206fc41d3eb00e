"""Outbound effects. `outbox_add` runs inside the ticket's transaction; delivery happens in a
worker after commit (a rollback leaves nothing behind, a crash after commit loses nothing).

Delivery is claim, attempt, record: a short transaction claims the row under its lock (counting
the attempt and taking a lease), the attempt runs outside any transaction (no network call holds
a database lock), and a second short transaction records the outcome and, for a transient
failure, enqueues the next attempt after a full-jitter exponential back-off. Two workers never
attempt one item at once; an attempt lost with its worker is retried when its lease runs out.
"""

from __future__ import annotations

import logging
import random
import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from sportello.core import clock

from . import webhooks
from .models import OutboxMessage, OutboxStatus, WebhookSecret

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000


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


def retry_delay(*, attempt: int, base: float, cap: float, rng: random.Random | None = None) -> timedelta:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt - 1))] after failed attempt n."""
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 60))
    return timedelta(seconds=(rng or random).uniform(0.0, ceiling))


class PermanentFailure(Exception):
    """Retrying cannot help (a refused destination, a 4xx answer, an unusable payload)."""


class TransientFailure(Exception):
    """Worth another attempt later."""


@dataclass(frozen=True, slots=True)
class _Claim:
    kind: str
    payload: dict[str, Any]
    delivery_id: str
    attempts: int


def _config(key: str) -> Any:
    return settings.SPORTELLO[key]


def _deliver_email(payload: dict[str, Any]) -> None:
    try:
        msg = EmailMessage(
            subject=" ".join(str(payload["subject"]).split()),  # no header injection via line breaks
            body=str(payload["body"]),
            to=list(payload["to"]),
        )
    except (KeyError, TypeError) as exc:
        raise PermanentFailure(f"unusable e-mail payload: {type(exc).__name__}: {exc}") from exc
    try:
        msg.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentFailure(f"recipients refused: {', '.join(sorted(exc.recipients))}") from exc


def _deliver_webhook(payload: dict[str, Any], *, delivery_id: str, now: datetime) -> None:
    try:
        url, body = str(payload["url"]), str(payload["body"])
        headers = {str(k): str(v) for k, v in dict(payload.get("headers") or {}).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"unusable webhook payload: {type(exc).__name__}: {exc}") from exc
    secret: str | None = None
    if ref := payload.get("secret_ref"):
        secret = WebhookSecret.objects.filter(name=str(ref)).values_list("secret", flat=True).first()
        if secret is None:
            raise PermanentFailure(f"unknown webhook secret {str(ref)[:100]!r}")
    result = webhooks.webhook_send(
        url=url,
        body=body,
        delivery_id=delivery_id,
        timestamp=int(now.timestamp()),
        secret=secret,
        headers=headers,
        allow=webhooks.AllowList.parse(_config("WEBHOOK_ALLOW")),
        limits=webhooks.Limits(
            connect_timeout=float(_config("WEBHOOK_CONNECT_TIMEOUT")),
            total_timeout=float(_config("WEBHOOK_TOTAL_TIMEOUT")),
            max_response_bytes=int(_config("WEBHOOK_MAX_RESPONSE_BYTES")),
        ),
    )
    if result.outcome is webhooks.Outcome.PERMANENT:
        raise PermanentFailure(result.error)
    if result.outcome is webhooks.Outcome.RETRY:
        raise TransientFailure(result.error)


def _attempt(claim: _Claim, *, now: datetime) -> None:
    if claim.kind == "email":
        _deliver_email(claim.payload)
    elif claim.kind == "webhook":
        _deliver_webhook(claim.payload, delivery_id=claim.delivery_id, now=now)
    else:
        raise PermanentFailure(f"unknown outbox kind {claim.kind[:40]!r}")


def _claim(*, outbox_id: int, now: datetime) -> _Claim | OutboxStatus:
    from .tasks import deliver_outbox

    with transaction.atomic():
        item = OutboxMessage.objects.select_for_update().filter(pk=outbox_id).first()
        if item is None:
            return OutboxStatus.FAILED
        if item.status != OutboxStatus.PENDING:
            return OutboxStatus(item.status)
        if item.lease_until is not None and item.lease_until > now:
            # Another attempt is in flight (or died with its worker): look again when it ends.
            deliver_outbox.using(run_after=item.lease_until).enqueue(outbox_id=item.pk)
            return OutboxStatus.PENDING
        if item.lease_until is None and item.next_attempt_at > now:
            return OutboxStatus.PENDING  # early duplicate; the scheduled attempt has its own job
        if item.lease_until is not None and item.attempts >= int(_config("OUTBOX_MAX_ATTEMPTS")):
            item.status = OutboxStatus.FAILED
            item.lease_until = None
            item.last_error = (item.last_error + " (last attempt lost with its worker)").strip()
            item.save(update_fields=["status", "lease_until", "last_error"])
            return OutboxStatus.FAILED
        item.attempts += 1
        item.lease_until = now + timedelta(seconds=float(_config("OUTBOX_LEASE")))
        item.save(update_fields=["attempts", "lease_until"])
        return _Claim(
            kind=item.kind, payload=item.payload, delivery_id=str(item.delivery_id), attempts=item.attempts
        )


def _record(
    *, outbox_id: int, claim: _Claim, error: Exception | None, now: datetime, rng: random.Random | None
) -> OutboxStatus:
    from .tasks import deliver_outbox

    with transaction.atomic():
        item = OutboxMessage.objects.select_for_update().get(pk=outbox_id)
        if item.status != OutboxStatus.PENDING or item.attempts != claim.attempts:
            return OutboxStatus(item.status)  # a later claim took over after our lease ran out
        item.lease_until = None
        fields = ["status", "lease_until", "last_error", "next_attempt_at", "sent_at"]
        if error is None:
            item.status = OutboxStatus.SENT
            item.sent_at = now
            item.last_error = ""
            item.save(update_fields=fields)
            return OutboxStatus.SENT
        item.last_error = str(error)[:ERROR_MAX_CHARS] or type(error).__name__
        permanent = isinstance(error, PermanentFailure)
        if permanent or item.attempts >= int(_config("OUTBOX_MAX_ATTEMPTS")):
            item.status = OutboxStatus.FAILED
        else:
            item.next_attempt_at = now + retry_delay(
                attempt=item.attempts,
                base=float(_config("OUTBOX_RETRY_BASE")),
                cap=float(_config("OUTBOX_RETRY_CAP")),
                rng=rng,
            )
            deliver_outbox.using(run_after=item.next_attempt_at).enqueue(outbox_id=item.pk)
        item.save(update_fields=fields)
        return OutboxStatus(item.status)


def outbox_deliver(
    *, outbox_id: int, now: datetime | None = None, rng: random.Random | None = None
) -> OutboxStatus:
    """Make one delivery attempt for an outbox item, if it is due; returns its state after."""
    now = now or clock.now()
    claim = _claim(outbox_id=outbox_id, now=now)
    if not isinstance(claim, _Claim):
        return claim
    error: Exception | None = None
    try:
        _attempt(claim, now=now)
    except (PermanentFailure, TransientFailure) as exc:
        error = exc
    except Exception as exc:  # mail backends raise many kinds; all are worth a retry
        error = TransientFailure(f"{type(exc).__name__}: {exc}")
    if error is not None:
        logger.info("outbox %s attempt %s failed: %s", outbox_id, claim.attempts, error)
    return _record(outbox_id=outbox_id, claim=claim, error=error, now=now, rng=rng)


def outbox_sweep(*, now: datetime, grace: timedelta = timedelta(minutes=10), limit: int = 200) -> int:
    """Re-enqueue delivery for pending items overdue by more than `grace` that have no queued or
    running job (the job failed outright, e.g. the database refused a lock). Returns how many."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from .tasks import deliver_outbox

    overdue = OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING, next_attempt_at__lt=now - grace
    ).exclude(lease_until__gte=now)
    count = 0
    for pk in overdue.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]:
        queued = DBTaskResult.objects.filter(
            task_path=deliver_outbox.module_path,
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
            args_kwargs__kwargs__outbox_id=pk,
        ).exists()
        if not queued:
            deliver_outbox.enqueue(outbox_id=pk)
            count += 1
    return count

"""Outbound effects. `outbox_add` runs inside the ticket's transaction; delivery happens in a
worker after commit (a rollback leaves nothing behind, a crash after commit loses nothing).

Delivery is claim, attempt, record: a short transaction claims the row under its lock (counting
the attempt and taking a lease), the attempt runs outside any transaction (no network call holds
a database lock), and a second short transaction records the outcome and, for a transient
failure, enqueues the next attempt after a full-jitter exponential back-off. Two workers never
attempt one item at once; an attempt lost with its worker is retried when its lease runs out, or
as soon as its task is recovered from the dead worker (the task owns the lease).

Fairness: e-mails and webhooks wait in queues of their own ("email", "webhook"), which the
worker claims from in turn, so a slow or dead webhook receiver never holds up mail. Within the
webhooks, destinations (scheme://host:port) take turns (`destination_priority`); a destination
has at most WEBHOOK_MAX_IN_FLIGHT attempts in flight, and while one of its deliveries waits to be
retried after a transient failure, its other deliveries wait too (no attempt is spent on them):
a dead receiver costs one bounded attempt (WEBHOOK_TOTAL_TIMEOUT) per back-off step, not one per
delivery.

Transient failures are retried until OUTBOX_MAX_ATTEMPTS are made and the retry window has
passed (MAIL_RETRY_WINDOW, WEBHOOK_RETRY_WINDOW: a day), then the item is parked: kept, listed
for admins (`selectors.parked_list`), retried on request (`delivery_retry`), never dropped. An
agent's reply is the exception: it fails, and that is recorded on the ticket (below).

E-mail (`outbox.email` builds and sends the message): an SMTP 5xx answer to the message is a permanent
failure, a 4xx answer, a refused or broken connection or a timeout a transient one, retried as
above. Automatic mails are capped per recipient per day (`MAIL_AUTO_REPLIES_PER_DAY`): past the
cap a recipient is skipped, and a mail left with nobody to go to fails as suppressed. When a delivery
fails for good, the hooks registered with `outbox.hooks.on_delivery_failed` run after the failure
is recorded (the tickets app records an agent's failed reply on its ticket and tells its author).

Each kind's attempt is made by its transport (`outbox.transport`: `outbox.email`,
`outbox.webhooks`); this module knows no kind.
"""

from __future__ import annotations

import json
import logging
import random
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import router, transaction
from django.db.models import Count, Min
from django.tasks import Task

from sportello.accounts.models import Role, User
from sportello.core import clock
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.engine.actions import check_url
from sportello.engine.schema import RuleSchemaError

from . import email, hooks, webhooks  # noqa: F401  (each registers its transport)
from .email import AUTO_REPLY_WINDOW
from .models import AutoReply, OutboxMessage, OutboxStatus, ReplyMessageId, WebhookSecret
from .queueing import FAIR_RANK_MAX, NewItem, items_add
from .transport import Attempt, PermanentFailure, TransientFailure, transport_for

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000
# The task queue of a kind without a transport (its delivery fails as unknown).
DEFAULT_QUEUE = "default"


def delivery_queue(kind: str) -> str:
    transport = transport_for(kind)
    return transport.queue if transport is not None else DEFAULT_QUEUE


def webhook_destination(url: object) -> str:
    """`scheme://host:port` of a webhook URL, lower-cased (the unit of concurrency and of
    back-off); empty for something that is not an http(s) URL."""
    try:
        parts = urlsplit(str(url))
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if scheme not in ("http", "https") or not host:
            return ""
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"[:300]


def destination_priority(item: OutboxMessage) -> int:
    """The task priority of a webhook delivery: minus the number of other deliveries pending to
    its destination (at most FAIR_RANK_MAX). The queue is claimed by priority first, so a
    destination with a backlog takes turns with the others (its n-th waiting delivery goes with
    theirs of the same rank) instead of holding them up, retries included. E-mail: 0."""
    if item.kind != "webhook" or not item.destination:
        return 0
    others = OutboxMessage.objects.filter(destination=item.destination, status=OutboxStatus.PENDING).exclude(
        pk=item.pk
    )
    return -others[:FAIR_RANK_MAX].count()


# The job that makes one delivery attempt (`jobs.deliver_outbox`, which calls this module): it
# registers itself here when the jobs are loaded (`OutboxConfig.ready`), so this module never
# imports the jobs.
_delivery_task: Task[..., Any] | None = None


def delivery_task_register(task: Task[..., Any]) -> None:
    global _delivery_task
    _delivery_task = task


def _delivery_job() -> Task[..., Any]:
    if _delivery_task is None:
        raise RuntimeError("the outbox's delivery job is not registered (is sportello.outbox installed?)")
    return _delivery_task


def _enqueue(item: OutboxMessage, *, run_after: datetime | None = None) -> None:
    task = _delivery_job().using(
        queue_name=delivery_queue(item.kind), run_after=run_after, priority=destination_priority(item)
    )
    task.enqueue(outbox_id=item.pk)


def _new_item(*, kind: str, dedupe_key: str, payload: dict[str, Any]) -> NewItem:
    return NewItem(
        kind=kind,
        destination=webhook_destination(payload.get("url")) if kind == "webhook" else "",
        dedupe_key=dedupe_key,
        payload=payload,
        queue=delivery_queue(kind),
    )


def _ticket_id(ticket: Any) -> int | None:
    if ticket is None:
        return None
    if ticket.pk is None:
        raise ValueError("an outbox item cannot refer to an unsaved ticket")
    return int(ticket.pk)


def outbox_add(
    *,
    kind: str,
    ticket: Any,
    change_id: uuid.UUID | None,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    """Queue one outbound effect: its outbox row and the job of its first delivery attempt, due
    now, in the caller's transaction (`queueing`). Returns the row."""
    # Dedupe keys are built from ids that are new in this transaction (message, change), so a
    # plain insert is right; a repeated key is a bug and fails the mutation loudly.
    new = _new_item(kind=kind, dedupe_key=dedupe_key, payload=payload)
    [pk] = items_add([new], ticket_id=_ticket_id(ticket), change_id=change_id, now=now, task=_delivery_job())
    item = OutboxMessage(
        id=pk,
        kind=kind,
        destination=new.destination,
        ticket=ticket,
        change_id=change_id,
        dedupe_key=dedupe_key,
        delivery_id=new.delivery_id,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    item._state.adding = False
    item._state.db = router.db_for_write(OutboxMessage)
    return item


def outbox_add_all(
    *,
    effects: Sequence[Mapping[str, Any]],
    ticket: Any,
    change_id: uuid.UUID | None,
    now: datetime,
) -> list[int]:
    """Queue the outbound effects of one change (`{"kind", "dedupe_key", "payload"}`, as
    `outbox_add` takes them) together: the rows in one statement, their delivery jobs in
    another, each with the priority it would have had if added alone in turn. Returns the rows'
    ids, in order."""
    if not effects:
        return []
    items = [_new_item(kind=e["kind"], dedupe_key=e["dedupe_key"], payload=e["payload"]) for e in effects]
    return items_add(items, ticket_id=_ticket_id(ticket), change_id=change_id, now=now, task=_delivery_job())


def retry_delay(*, attempt: int, base: float, cap: float, rng: random.Random | None = None) -> timedelta:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt - 1))] after failed attempt n."""
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 60))
    return timedelta(seconds=(rng or random).uniform(0.0, ceiling))


@dataclass(frozen=True, slots=True)
class _Claim:
    outbox_id: int
    kind: str
    payload: dict[str, Any]
    delivery_id: str
    attempts: int


@dataclass(frozen=True, slots=True)
class _Done:
    status: OutboxStatus
    failed_now: bool = False  # this call moved the item to failed


def _attempt(claim: _Claim, *, now: datetime) -> tuple[str, ...]:
    """Deliver a claimed item through its kind's transport; returns the recipients of an
    automatic mail it sent."""
    transport = transport_for(claim.kind)
    if transport is None:
        raise PermanentFailure(f"unknown outbox kind {claim.kind[:40]!r}")
    attempt = Attempt(
        outbox_id=claim.outbox_id, payload=claim.payload, delivery_id=claim.delivery_id, now=now
    )
    return transport.deliver(attempt)


def _out_of_attempts(item: OutboxMessage, *, now: datetime) -> bool:
    """No attempt is left: OUTBOX_MAX_ATTEMPTS are made and, for an e-mail or a webhook, its
    retry window has passed too (since it was queued, or since an admin retried it)."""
    if item.attempts < int(settings.SPORTELLO["OUTBOX_MAX_ATTEMPTS"]):
        return False
    transport = transport_for(item.kind)
    if transport is None:
        return True
    window = transport.retry_window()
    return now - (item.window_start or item.created_at) >= timedelta(seconds=window)


def _is_reply(item: OutboxMessage) -> bool:
    """An agent's reply sent by e-mail: it fails rather than parks (its failure is recorded on
    the ticket, through `hooks.delivery_failed`)."""
    message_id = item.payload.get("message_id") if isinstance(item.payload, dict) else None
    return item.kind == "email" and isinstance(message_id, int) and not isinstance(message_id, bool)


def _give_up(item: OutboxMessage, *, now: datetime) -> None:
    """Out of attempts after transient failures: an agent's reply fails (and is reported on its
    ticket); anything else is parked, never dropped."""
    if _is_reply(item):
        item.status = OutboxStatus.FAILED
    else:
        item.status = OutboxStatus.PARKED
        item.parked_at = now
        logger.warning(
            "outbox %s (%s) parked after %s attempts: %s", item.pk, item.kind, item.attempts, item.last_error
        )


def _destination_wait(item: OutboxMessage, *, now: datetime) -> datetime | None:
    """For a webhook: when to look again because its destination is busy (WEBHOOK_MAX_IN_FLIGHT
    attempts in flight) or failing (another of its deliveries waits to be retried); None if it
    may go now."""
    if item.kind != "webhook" or not item.destination:
        return None
    others = OutboxMessage.objects.filter(destination=item.destination, status=OutboxStatus.PENDING).exclude(
        pk=item.pk
    )
    failing = others.filter(attempts__gt=0, lease_until__isnull=True, next_attempt_at__gt=now).aggregate(
        until=Min("next_attempt_at")
    )["until"]
    if failing is not None:
        return failing
    busy = others.filter(lease_until__gt=now).aggregate(n=Count("id"), until=Min("lease_until"))
    if busy["n"] >= max(1, int(settings.SPORTELLO["WEBHOOK_MAX_IN_FLIGHT"])):
        return min(busy["until"], now + timedelta(seconds=float(settings.SPORTELLO["WEBHOOK_TOTAL_TIMEOUT"])))
    return None


def _claim(*, outbox_id: int, now: datetime, lease_owner: str = "") -> _Claim | _Done:
    with transaction.atomic():
        item = OutboxMessage.objects.select_for_update().filter(pk=outbox_id).first()
        if item is None:
            return _Done(OutboxStatus.FAILED)
        if item.status != OutboxStatus.PENDING:
            return _Done(OutboxStatus(item.status))
        own_lost = bool(lease_owner) and item.lease_owner == lease_owner
        if item.lease_until is not None and item.lease_until > now and not own_lost:
            # Another attempt is in flight (or died with its worker): look again when it ends.
            _enqueue(item, run_after=item.lease_until)
            return _Done(OutboxStatus.PENDING)
        if item.lease_until is None and item.next_attempt_at > now:
            return _Done(OutboxStatus.PENDING)  # early duplicate; the scheduled attempt has its own job
        if item.lease_until is not None and _out_of_attempts(item, now=now):
            item.lease_until = None
            item.lease_owner = ""
            item.last_error = (item.last_error + " (last attempt lost with its worker)").strip()
            _give_up(item, now=now)
            item.save(update_fields=["status", "lease_until", "lease_owner", "last_error", "parked_at"])
            return _Done(OutboxStatus(item.status), failed_now=item.status == OutboxStatus.FAILED)
        if item.lease_until is None and (wait := _destination_wait(item, now=now)) is not None:
            # Its destination is busy or failing: no attempt is spent; it goes when that ends.
            item.next_attempt_at = wait
            item.save(update_fields=["next_attempt_at"])
            _enqueue(item, run_after=wait)
            return _Done(OutboxStatus.PENDING)
        item.attempts += 1
        item.lease_until = now + timedelta(seconds=float(settings.SPORTELLO["OUTBOX_LEASE"]))
        item.lease_owner = lease_owner[:64]
        item.save(update_fields=["attempts", "lease_until", "lease_owner"])
        return _Claim(
            outbox_id=item.pk,
            kind=item.kind,
            payload=item.payload,
            delivery_id=str(item.delivery_id),
            attempts=item.attempts,
        )


def _record(
    *,
    outbox_id: int,
    claim: _Claim,
    error: Exception | None,
    automatic_to: Sequence[str] = (),
    now: datetime,
    rng: random.Random | None,
) -> _Done:
    with transaction.atomic():
        item = OutboxMessage.objects.select_for_update().get(pk=outbox_id)
        if item.status != OutboxStatus.PENDING or item.attempts != claim.attempts:
            return _Done(OutboxStatus(item.status))  # a later claim took over after our lease ran out
        item.lease_until = None
        item.lease_owner = ""
        fields = [
            "status",
            "lease_until",
            "lease_owner",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "parked_at",
        ]
        if error is None:
            item.status = OutboxStatus.SENT
            item.sent_at = now
            item.last_error = ""
            item.save(update_fields=fields)
            AutoReply.objects.bulk_create(
                [AutoReply(recipient=a, ticket_id=item.ticket_id, sent_at=now) for a in automatic_to]
            )
            return _Done(OutboxStatus.SENT)
        item.last_error = str(error)[:ERROR_MAX_CHARS] or type(error).__name__
        if isinstance(error, PermanentFailure):
            item.status = OutboxStatus.FAILED
        elif _out_of_attempts(item, now=now):
            _give_up(item, now=now)
        else:
            item.next_attempt_at = now + retry_delay(
                attempt=item.attempts,
                base=float(settings.SPORTELLO["OUTBOX_RETRY_BASE"]),
                cap=float(settings.SPORTELLO["OUTBOX_RETRY_CAP"]),
                rng=rng,
            )
            _enqueue(item, run_after=item.next_attempt_at)
        item.save(update_fields=fields)
        return _Done(OutboxStatus(item.status), failed_now=item.status == OutboxStatus.FAILED)


def outbox_deliver(
    *,
    outbox_id: int,
    now: datetime | None = None,
    rng: random.Random | None = None,
    lease_owner: str = "",
) -> OutboxStatus:
    """Make one delivery attempt for an outbox item, if it is due; returns its state after.
    `lease_owner`: the id of the task making the attempt (see `_claim`)."""
    now = now or clock.now()
    claim = _claim(outbox_id=outbox_id, now=now, lease_owner=lease_owner)
    if isinstance(claim, _Done):
        done = claim
    else:
        error: Exception | None = None
        automatic_to: tuple[str, ...] = ()
        try:
            automatic_to = _attempt(claim, now=now)
        except (PermanentFailure, TransientFailure) as exc:
            error = exc
        except Exception as exc:  # mail backends raise many kinds; all are worth a retry
            error = TransientFailure(f"{type(exc).__name__}: {exc}")
        if error is not None:
            logger.info("outbox %s attempt %s failed: %s", outbox_id, claim.attempts, error)
        done = _record(
            outbox_id=outbox_id, claim=claim, error=error, automatic_to=automatic_to, now=now, rng=rng
        )
    if done.failed_now:
        hooks.delivery_failed(outbox_id=outbox_id, now=now)
    return done.status


def auto_replies_prune(*, now: datetime) -> int:
    """Forget the automatic-reply records the daily cap no longer reads."""
    return AutoReply.objects.filter(sent_at__lte=now - AUTO_REPLY_WINDOW).delete()[0]


def delivery_states(message_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The e-mail delivery state of messages (an agent's reply sent by e-mail), by message id:
    {"status": pending|sent|failed, "attempts", "last_error", "sent_at"}. Messages not sent by
    e-mail are absent. One query."""
    if not message_ids:
        return {}
    rows = (
        OutboxMessage.objects.annotate(reply_id=ReplyMessageId())
        .filter(kind="email", reply_id__in=list(message_ids))
        # Sorted here, not by the database: SQLite would rather walk the table in id order
        # than look each reply up in `outbox_email_reply` and sort the few it finds.
        .order_by()
        .values_list("id", "reply_id", "status", "attempts", "last_error", "sent_at")
    )
    return {
        int(mid): {"status": status, "attempts": attempts, "last_error": last_error, "sent_at": sent_at}
        for _, mid, status, attempts, last_error, sent_at in sorted(rows, key=lambda r: r[0])
    }


def outbox_sweep(*, now: datetime, grace: timedelta = timedelta(minutes=10), limit: int = 200) -> int:
    """Re-enqueue delivery for pending items overdue by more than `grace` that have no queued or
    running job (the job failed outright, e.g. the database refused a lock). Returns how many."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    overdue = OutboxMessage.objects.filter(
        status=OutboxStatus.PENDING, next_attempt_at__lt=now - grace
    ).exclude(lease_until__gte=now)
    count = 0
    for item in overdue.order_by("next_attempt_at").only("pk", "kind")[:limit]:
        queued = DBTaskResult.objects.filter(
            task_path=_delivery_job().module_path,
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
            args_kwargs__kwargs__outbox_id=item.pk,
        ).exists()
        if not queued:
            _enqueue(item)
            count += 1
    return count


def _require_admin(principal: Any) -> None:
    if not isinstance(principal, User) or not principal.is_active or principal.role != Role.ADMIN:
        raise PermissionDenied("only admins can do this")


def delivery_retry(*, actor: Any, outbox_id: int, now: datetime) -> OutboxMessage:
    """Put a parked delivery back in the queue (admins): a new retry window starts now, the
    attempts made so far are kept. Logged with the admin who asked."""
    _require_admin(actor)
    with transaction.atomic():
        item = OutboxMessage.objects.select_for_update().filter(pk=outbox_id).first()
        if item is None:
            raise NotFound(f"no delivery with id {outbox_id}")
        if item.status != OutboxStatus.PARKED:
            raise Conflict(f"delivery {outbox_id} is {item.status}, not parked", field="id")
        item.status = OutboxStatus.PENDING
        item.window_start = now
        item.next_attempt_at = now
        item.parked_at = None
        item.save(update_fields=["status", "window_start", "next_attempt_at", "parked_at"])
        _enqueue(item)
    logger.info(
        "outbox %s (%s) retried by %s after %s attempts", item.pk, item.kind, actor.email, item.attempts
    )
    return item


TEST_EVENT = "ping"
_EVENT_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def webhook_test_send(
    *, actor: Any, url: str, secret_ref: str | None, event: str = "", now: datetime
) -> OutboxMessage:
    """Queue a test delivery (admins): a real webhook through the outbox — signed with the
    secret `secret_ref` names (if any), attempted, retried and parked like any other, listed in
    the delivery log — to `url`, validated as a rule's webhook action's URL. Its body is JSON:
    `{"event": <event, "ping" by default>, "test": true, "sent_at", "sent_by"}`, and it carries
    `X-Sportello-Test: 1`. Returns the outbox row (its first attempt is due now)."""
    _require_admin(actor)
    try:
        url = check_url(url.strip() if isinstance(url, str) else url, "url")
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field="url") from None
    ref = (secret_ref or "").strip() or None
    if ref is not None and not WebhookSecret.objects.filter(name=ref).exists():
        raise ValidationFailed(f"no webhook secret {ref!r}", field="secret_ref")
    name = (event or "").strip() or TEST_EVENT
    if not _EVENT_NAME.fullmatch(name):
        raise ValidationFailed(
            "must be 1 to 64 characters a-z 0-9 _ . -, starting with a letter or a digit", field="event"
        )
    body = json.dumps(
        {"event": name, "test": True, "sent_at": now.isoformat(), "sent_by": actor.email}, sort_keys=True
    )
    with transaction.atomic():
        item = outbox_add(
            kind="webhook",
            ticket=None,
            change_id=None,
            dedupe_key=f"webhook-test:{uuid.uuid4()}",
            payload={
                "url": url,
                "body": body,
                "secret_ref": ref,
                "headers": {"X-Sportello-Test": "1"},
                "test": True,
            },
            now=now,
        )
    logger.info("outbox %s: test webhook to %s queued by %s", item.pk, item.destination, actor.email)
    return item

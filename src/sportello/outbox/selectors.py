"""Reads of the outbox: the delivery state of a ticket's notifications and webhooks, the parked
deliveries (admins), and the outbox's health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q, QuerySet

from sportello.accounts.models import Role, User
from sportello.contacts.models import Contact
from sportello.core.errors import NotFound, PermissionDenied

from .models import OutboxMessage, OutboxStatus


def delivery_list(*, principal: Any, ticket: Any) -> QuerySet[OutboxMessage]:
    """Deliveries for a ticket the caller already fetched through `ticket_get_for`. Delivery
    state is internal: customers get the same answer as for a missing ticket."""
    if isinstance(principal, Contact):
        raise NotFound("ticket not found")
    return OutboxMessage.objects.filter(ticket=ticket)


def parked_list(*, principal: Any, kind: str | None = None) -> QuerySet[OutboxMessage]:
    """Deliveries parked after their retry window (admins), oldest first."""
    if not isinstance(principal, User) or not principal.is_active or principal.role != Role.ADMIN:
        raise PermissionDenied("only admins can do this")
    qs = OutboxMessage.objects.filter(status=OutboxStatus.PARKED)
    return qs.filter(kind=kind) if kind else qs


def outbox_health(*, now: datetime) -> dict[str, Any]:
    """What the outbox holds, for monitoring: deliveries pending (queued or retrying), the age in
    seconds of the oldest pending one (0 when none), in flight, parked and failed, in total and
    per kind. One query."""
    rows = (
        OutboxMessage.objects.exclude(status=OutboxStatus.SENT)
        .order_by()
        .values_list("kind", "status")
        .annotate(n=Count("id"), oldest=Min("created_at"), leased=Count("id", filter=Q(lease_until__gt=now)))
    )
    kinds: dict[str, dict[str, int]] = {}
    total = {"pending": 0, "in_flight": 0, "parked": 0, "failed": 0}
    oldest: datetime | None = None
    for kind, status, n, first, leased in rows:
        counts = kinds.setdefault(str(kind), {"pending": 0, "in_flight": 0, "parked": 0, "failed": 0})
        key = str(status)
        if key not in counts:
            continue
        counts[key] += n
        total[key] += n
        if status == OutboxStatus.PENDING:
            counts["in_flight"] += leased
            total["in_flight"] += leased
            oldest = first if oldest is None or first < oldest else oldest
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return {**total, "oldest_pending_age": age, "by_kind": dict(sorted(kinds.items()))}


def webhook_deliveries(*, principal: Any, status: str | None = None) -> QuerySet[OutboxMessage]:
    """Webhook deliveries (admins), for `paging.paginate` by id: the delivery log, optionally
    of one status (pending, sent, failed, parked)."""
    if not isinstance(principal, User) or not principal.is_active or principal.role != Role.ADMIN:
        raise PermissionDenied("only admins can do this")
    qs = OutboxMessage.objects.filter(kind="webhook").defer("payload")
    return qs.filter(status=status) if status else qs


def webhook_delivery(*, principal: Any, outbox_id: int) -> OutboxMessage:
    """One webhook delivery of the log (admins); NotFound for an unknown id or another kind."""
    if not isinstance(principal, User) or not principal.is_active or principal.role != Role.ADMIN:
        raise PermissionDenied("only admins can do this")
    item = OutboxMessage.objects.filter(pk=outbox_id, kind="webhook").defer("payload").first()
    if item is None:
        raise NotFound(f"no webhook delivery with id {outbox_id}")
    return item

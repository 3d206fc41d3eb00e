"""Writes of the inbox: an agent marks their own notifications read. Each is one conditional
UPDATE (only unread rows, only the agent's own), so concurrent clicks never fail or double-count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import User
from sportello.core.errors import NotFound
from sportello.tickets.models import Ticket

from .models import Notification, NotificationKind


def notification_add(
    *,
    recipient_id: int,
    kind: NotificationKind,
    ticket: Ticket,
    now: datetime,
    actor_label: str = "",
    parts: dict[str, Any] | None = None,
) -> Notification:
    """One notification, written in the caller's transaction (a task reminder sent)."""
    return Notification.objects.create(
        recipient_id=recipient_id, kind=kind, ticket=ticket, actor_label=actor_label[:200],
        parts=dict(parts or {}), created_at=now,
    )  # fmt: skip


def notification_mark_read(*, user: User, notification_id: int, now: datetime) -> Notification:
    """Mark one of `user`'s notifications read. Someone else's is reported as missing."""
    if not 0 < notification_id < 2**63:
        raise NotFound("notification not found")
    Notification.objects.filter(pk=notification_id, recipient=user, read_at__isnull=True).update(read_at=now)
    found = Notification.objects.select_related("ticket").filter(pk=notification_id, recipient=user).first()
    if found is None:
        raise NotFound("notification not found")
    return found


def notification_mark_all_read(*, user: User, now: datetime) -> int:
    """Mark every unread notification of `user` read; returns how many this call marked."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=now)

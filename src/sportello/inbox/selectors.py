"""Reads of the inbox: an agent only ever reads their own notifications."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from sportello.accounts.models import User

from .models import Notification

LIST_LIMIT = 100


def notification_list(*, user: User, limit: int = LIST_LIMIT) -> QuerySet[Notification]:
    """The agent's latest notifications, newest first, with their tickets."""
    return (
        Notification.objects.filter(recipient=user)
        .select_related("ticket")
        .order_by("-created_at", "-id")[:limit]
    )


def notification_summary(*, user: User) -> tuple[int, int]:
    """(unread count, latest id): what the bell shows and its ETag is made of, in one query."""
    row = Notification.objects.filter(recipient=user).aggregate(
        unread=Count("pk", filter=Q(read_at__isnull=True)), latest=Max("pk")
    )
    return int(row["unread"] or 0), int(row["latest"] or 0)

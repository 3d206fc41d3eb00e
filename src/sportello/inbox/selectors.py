"""Reads of the inbox: an agent only ever reads their own notifications."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Value, When

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


PANEL_LIMIT = 8


def notification_latest(*, user: User, limit: int = PANEL_LIMIT) -> QuerySet[Notification]:
    """What the bell's panel shows: the agent's unread notifications first, then the read ones,
    each newest first, with their tickets."""
    unread_first = Case(
        When(read_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        Notification.objects.filter(recipient=user)
        .select_related("ticket")
        .order_by(unread_first, "-created_at", "-id")[:limit]
    )


def notification_summary(*, user: User) -> tuple[int, int]:
    """(unread count, latest id): what the bell shows and its ETag is made of, in one query."""
    row = Notification.objects.filter(recipient=user).aggregate(
        unread=Count("pk", filter=Q(read_at__isnull=True)), latest=Max("pk")
    )
    return int(row["unread"] or 0), int(row["latest"] or 0)

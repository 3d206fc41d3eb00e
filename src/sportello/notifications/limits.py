"""The hourly limit of automatic notifications to one customer: a ledger of what was sent to
each address, claimed in the sending change's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from .models import (
    CustomerNotification,
)

# The same shape as the `template` of a rule's `notify` action (engine.actions).
LIMIT_WINDOW = timedelta(hours=1)
LEDGER_RETENTION = timedelta(days=1)


# --------------------------------------------------------------------------------------------
# The hourly limit of automatic notifications to one customer


def customer_notifications_per_hour() -> int:
    return int(settings.SPORTELLO.get("CUSTOMER_NOTIFICATIONS_PER_HOUR", 10))


def customer_notification_allowed(*, email: str, now: datetime) -> bool:
    """Whether one more automatic notification to `email` stays within the hourly limit: fewer
    than `CUSTOMER_NOTIFICATIONS_PER_HOUR` were queued to it in the hour up to `now`. Agents'
    replies are not counted (they are never recorded here)."""
    sent = CustomerNotification.objects.filter(
        email=email.lower(), created_at__gt=now - LIMIT_WINDOW, created_at__lte=now
    ).count()
    return sent < customer_notifications_per_hour()


def customer_notification_record(*, email: str, ticket_number: int | None, now: datetime) -> None:
    """Count an automatic notification queued to `email` (in the caller's transaction: a
    rollback un-counts it)."""
    CustomerNotification.objects.create(email=email.lower(), ticket_number=ticket_number, created_at=now)


def customer_notification_claim(*, email: str, ticket_number: int | None, now: datetime) -> bool:
    """Allowed → recorded and True; over the limit → nothing recorded and False."""
    if not customer_notification_allowed(email=email, now=now):
        return False
    customer_notification_record(email=email, ticket_number=ticket_number, now=now)
    return True


def customer_notifications_prune(*, now: datetime) -> int:
    """Forget ledger rows no limit reads any more."""
    return CustomerNotification.objects.filter(created_at__lt=now - LEDGER_RETENTION).delete()[0]

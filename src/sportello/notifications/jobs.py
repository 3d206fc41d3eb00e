"""Background work of notifications: forgetting the customer-limit ledger's old rows."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task

from sportello.core import clock
from sportello.core.scheduler import register_job

from . import limits


@task()
def prune_customer_notifications() -> int:
    return limits.customer_notifications_prune(now=clock.now())


register_job(name="customer_notifications_prune", every=timedelta(hours=1), task=prune_customer_notifications)

"""Background work of reports: folding past days' roll-up rows into one per key; e-mailing the
scheduled reports that are due (`reports.subscriptions`)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task

from sportello.core import clock
from sportello.core.scheduler import register_job

from . import rollups, subscriptions


@task()
def compact_rollups() -> int:
    return rollups.compact_yesterday(clock.now())


register_job(name="reports_compact", every=timedelta(hours=1), task=compact_rollups)


@task()
def send_scheduled_reports() -> int:
    return subscriptions.reports_send_due(now=clock.now())


register_job(name="reports_scheduled", every=timedelta(minutes=15), task=send_scheduled_reports)

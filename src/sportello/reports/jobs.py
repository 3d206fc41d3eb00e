"""Background work of reports: folding past days' roll-up rows into one per key."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task

from sportello.core import clock
from sportello.core.scheduler import register_job

from . import rollups


@task()
def compact_rollups() -> int:
    return rollups.compact_yesterday(clock.now())


register_job(name="reports_compact", every=timedelta(hours=1), task=compact_rollups)

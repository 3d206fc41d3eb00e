"""Worker entry points of the SLA app (Django's tasks API; the database backend runs them)."""

from __future__ import annotations

from django.tasks import task

from sportello.core import clock

from . import reflow


@task()
def reflow_clocks(*, policy: str | None = None, calendar: str | None = None, after: int = 0) -> int | None:
    """Reflow one batch of clocks; the next batch is a new job (each job stays short)."""
    last, _, _ = reflow.reflow_batch(policy=policy, calendar=calendar, after=after, now=clock.now())
    if last is not None:
        reflow_clocks.enqueue(policy=policy, calendar=calendar, after=last)
    return last

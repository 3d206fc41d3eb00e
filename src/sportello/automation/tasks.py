"""Worker entry points of the automation app (Django's tasks API; the database backend runs them)."""

from __future__ import annotations

from django.tasks import task

from . import timers


@task()
def rearm_timers(*, after_id: int = 0) -> int | None:
    """Arm time-rule timers on existing tickets, one batch per run; the next batch is a new job."""
    last = timers.timers_rearm(after_id=after_id)
    if last is not None:
        rearm_timers.enqueue(after_id=last)
    return last

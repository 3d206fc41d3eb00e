"""Worker entry points of the automation app (Django's tasks API; the database backend runs them)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task

from sportello.core import clock
from sportello.core.scheduler import register_job

from . import timers, traces


@task()
def rearm_timers(*, after_id: int = 0) -> int | None:
    """Arm time-rule timers on existing tickets, one batch per run; the next batch is a new job."""
    last = timers.timers_rearm(after_id=after_id)
    if last is not None:
        rearm_timers.enqueue(after_id=last)
    return last


@task()
def prune_rule_traces() -> int:
    """Housekeeping: the quiet rule traces past their retention (`traces.rule_traces_prune`)."""
    return traces.rule_traces_prune(now=clock.now())


register_job(name="rule_traces_prune", every=timedelta(hours=1), task=prune_rule_traces)

"""Background jobs of the outbox (Django's tasks API; the database backend runs them): one
delivery attempt, and the periodic sweep and pruning."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import TaskContext, task

from sportello.core import clock
from sportello.core.scheduler import register_job

from . import services


@task(takes_context=True)
def deliver_outbox(context: TaskContext, *, outbox_id: int) -> str:
    # The task's id owns the lease of its attempt: if the task is recovered from a dead worker
    # and runs again, it takes over its own lost attempt at once.
    owner = str(context.task_result.id)
    return str(services.outbox_deliver(outbox_id=outbox_id, lease_owner=owner))


services.delivery_task_register(deliver_outbox)  # what the outbox enqueues for each attempt


@task()
def sweep_outbox() -> int:
    return services.outbox_sweep(now=clock.now())


register_job(name="outbox_sweep", every=timedelta(minutes=5), task=sweep_outbox)


@task()
def prune_auto_replies() -> int:
    return services.auto_replies_prune(now=clock.now())


register_job(name="auto_replies_prune", every=timedelta(hours=1), task=prune_auto_replies)

"""Worker entry points (Django's tasks API; the database backend runs them)."""

from __future__ import annotations

from django.tasks import task

from . import services


@task()
def deliver_outbox(*, outbox_id: int) -> str:
    return str(services.outbox_deliver(outbox_id=outbox_id))

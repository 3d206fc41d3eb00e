"""Worker entry points of the contacts app (Django's tasks API; the database backend runs them)."""

from __future__ import annotations

from django.tasks import task

from sportello.core import clock

from . import transfer


@task()
def contact_import_run(*, import_id: int) -> str:
    """Import a queued CSV file of contacts (`transfer.contact_import_run`)."""
    imp = transfer.contact_import_run(import_id=import_id, now=clock.now)
    return imp.status if imp is not None else "not queued"

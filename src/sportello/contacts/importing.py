"""Starting a previewed CSV import of contacts: queued once, as a job of the worker
(`jobs.contact_import_run`), in the same transaction as its status (a rollback leaves no job)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from sportello.accounts.models import User
from sportello.core.errors import NotFound

from .jobs import contact_import_run
from .models import ContactImport, ImportStatus
from .services import require_writer


def contact_import_start(*, actor: User | None, import_id: int, now: datetime) -> ContactImport:
    """Queue the import of a previewed file (once: a started import is not queued again)."""
    require_writer(actor)
    with transaction.atomic():
        started = ContactImport.objects.filter(pk=import_id, status=ImportStatus.PREVIEW).update(
            status=ImportStatus.QUEUED
        )
        if started:
            contact_import_run.enqueue(import_id=import_id)
    imp = ContactImport.objects.filter(pk=import_id).first()
    if imp is None:
        raise NotFound("import not found")
    return imp

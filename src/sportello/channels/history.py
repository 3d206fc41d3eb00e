"""The history of mailboxes (`core.snapshots`): each is recorded by id (its address may change)
as what an admin sets — address, department, whether it receives, and how it is read over
IMAP — and restored through `channels.mailboxes`. The IMAP password is never part of it: a
history must not keep a secret, so restoring a version keeps the password the mailbox has."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import Department
from sportello.core.errors import ValidationFailed
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import mailboxes
from .mailboxes import MAILBOXES
from .models import Mailbox


def _id(key: str) -> int | None:
    return int(key) if key.isascii() and key.isdigit() and len(key) <= 18 else None


def mailbox_definition(m: Mailbox) -> Definition:
    return {
        "address": m.address,
        "department": m.department.slug,
        "active": m.active,
        "imap_host": m.imap_host,
        "imap_port": m.imap_port,
        "imap_security": m.imap_security,
        "imap_username": m.imap_username,
        "imap_folder": m.imap_folder,
        "imap_take_read": m.imap_take_read,
    }


def _read(key: str) -> tuple[str, Definition] | None:
    pk = _id(key)
    found = Mailbox.objects.select_related("department").filter(pk=pk).first() if pk is not None else None
    return None if found is None else (found.address, mailbox_definition(found))


def _lock(key: str) -> Mailbox | None:
    pk = _id(key)
    return None if pk is None else Mailbox.objects.select_for_update().filter(pk=pk).first()


def _apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    pk = _id(key)
    assert pk is not None  # restored things exist (core.history locked them)
    slug = definition.get("department")
    department = Department.objects.filter(slug=slug).first()
    if department is None:
        raise ValidationFailed(f"no department '{slug}' any more", field="department")
    data = {name: value for name, value in definition.items() if name != "department"}
    mailboxes.mailbox_update(
        actor=actor, mailbox_id=pk, data={**data, "department_id": department.pk}, now=now
    )


def _existing() -> list[str]:
    return [str(pk) for pk in Mailbox.objects.order_by("pk").values_list("pk", flat=True)]


register_snapshot_kind(
    SnapshotKind(name=MAILBOXES, label="mailbox", lock=_lock, read=_read, existing=_existing, apply=_apply)
)

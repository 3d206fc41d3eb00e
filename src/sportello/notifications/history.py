"""The history of the canned responses shared with a department (`core.snapshots`): recorded by
id as the document the configuration export writes (department, title, language, body) and
restored through `notifications.canned`. An agent's personal canned responses are theirs, not
the desk's configuration: they have no history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import Department
from sportello.core.errors import ValidationFailed
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import canned
from .models import CannedResponse

CANNED = "canned_responses"


def _id(key: str) -> int | None:
    return int(key) if key.isascii() and key.isdigit() and len(key) <= 18 else None


def canned_definition(c: CannedResponse) -> Definition:
    department = c.owner_department
    return {
        "department": department.slug if department is not None else None,
        "title": c.title,
        "language": c.language,
        "body": c.body,
    }


def _read(key: str) -> tuple[str, Definition] | None:
    pk = _id(key)
    found = (
        CannedResponse.objects.select_related("owner_department")
        .filter(pk=pk, owner_department__isnull=False)
        .first()
        if pk is not None
        else None
    )
    return None if found is None else (found.title, canned_definition(found))


def _lock(key: str) -> CannedResponse | None:
    pk = _id(key)
    if pk is None:
        return None
    return CannedResponse.objects.select_for_update().filter(pk=pk, owner_department__isnull=False).first()


def _apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    pk = _id(key)
    assert pk is not None  # restored things exist (core.history locked them)
    slug = definition.get("department")
    department = Department.objects.filter(slug=slug).first() if slug else None
    if department is None:
        raise ValidationFailed(f"no department '{slug}' to share it with any more", field="department")
    canned.canned_update(
        actor=actor,
        canned_id=pk,
        department_id=department.pk,
        title=definition["title"],
        body=definition["body"],
        language=definition.get("language", ""),
        now=now,
    )


def _existing() -> list[str]:
    rows = CannedResponse.objects.filter(owner_department__isnull=False).order_by("pk")
    return [str(pk) for pk in rows.values_list("pk", flat=True)]


register_snapshot_kind(
    SnapshotKind(
        name=CANNED, label="canned response", lock=_lock, read=_read, existing=_existing, apply=_apply
    )
)

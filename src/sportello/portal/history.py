"""The portal's settings in the configuration history (`core.snapshots`, kind "portal", key
"1"), and what a contact merge does with the portal's rows of a contact (`contacts.merging`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import ngettext

from sportello.contacts import merging
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import services
from .models import CustomerPassword, DesignatedContact, PortalSettings, SignInLink

PORTAL = "portal"


def _read(key: str) -> tuple[str, Definition] | None:
    row = PortalSettings.objects.defer("logo").filter(pk=1).first() if key == "1" else None
    return None if row is None else ("Portal", services.portal_settings_definition(row))


def _lock(key: str) -> PortalSettings | None:
    return PortalSettings.objects.select_for_update().filter(pk=1).first() if key == "1" else None


def _apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    row = services.portal_settings_get()
    services.portal_settings_update(
        actor=actor,
        version=row.version,
        enabled=bool(definition.get("enabled")),
        name=str(definition.get("name") or row.name),
        colour=str(definition.get("colour") or row.colour),
        default_language=str(definition.get("default_language") or row.default_language),
        remove_logo=not definition.get("logo_sha256"),
        now=now,
    )


def _existing() -> list[str]:
    return ["1"] if PortalSettings.objects.filter(pk=1).exists() else []


def register() -> None:
    register_snapshot_kind(
        SnapshotKind(
            name=PORTAL, label="portal settings", lock=_lock, read=_read, existing=_existing, apply=_apply
        )
    )
    # Sign-in links are short-lived and personal: a merge drops the source's. Its password and
    # designation go to the target when the target has none.
    merging.register_reference(
        merging.ContactReference(
            model=SignInLink,
            field="contact",
            count=lambda pk: 0,
            move=lambda m: SignInLink.objects.filter(contact_id=m.source.pk).delete()[0] and 0,
            describe=lambda n: "",
        )
    )
    for model in (CustomerPassword, DesignatedContact):
        merging.register_reference(
            merging.ContactReference(
                model=model,
                field="contact",
                count=lambda pk, model=model: model.objects.filter(contact_id=pk).count(),  # type: ignore[misc]
                move=lambda m, model=model: _move_one(model, m),  # type: ignore[misc]
                describe=lambda n: ngettext("%(n)s portal setting", "%(n)s portal settings", n) % {"n": n},
            )
        )


def _move_one(model: Any, m: merging.Move) -> int:
    if model.objects.filter(contact_id=m.target.pk).exists():
        model.objects.filter(contact_id=m.source.pk).delete()
        return 0
    return int(model.objects.filter(contact_id=m.source.pk).update(contact_id=m.target.pk))

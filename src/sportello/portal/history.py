"""The portal's settings in the configuration history (`core.snapshots`, kind "portal", key
"1"), and what a contact merge does with the portal's rows of a contact (`contacts.merging`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import ngettext

from sportello.accounts.models import Department
from sportello.contacts import merging
from sportello.contacts.models import Organization
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import services
from .models import CustomerPassword, DesignatedContact, PortalSettings, SignInLink

PORTAL = "portal"


def _designated_read(key: str) -> tuple[str, Definition] | None:
    found = Organization.objects.filter(pk=int(key)).first() if key.isdigit() else None
    return None if found is None else (found.name, services.designated_definition(found))


def _designated_lock(key: str) -> Organization | None:
    return Organization.objects.select_for_update().filter(pk=int(key)).first() if key.isdigit() else None


def _designated_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    organization = Organization.objects.get(pk=int(key))
    services.designated_restore(organization=organization, definition=definition, actor=actor, now=now)


def _designated_existing() -> list[str]:
    ids = DesignatedContact.objects.exclude(organization=None).values_list("organization_id", flat=True)
    return [str(pk) for pk in sorted(set(ids))]


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
        hidden_departments=list(
            Department.objects.filter(slug__in=definition.get("hidden_departments") or []).values_list(
                "pk", flat=True
            )
        ),
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
    register_snapshot_kind(
        SnapshotKind(
            name=services.DESIGNATED,
            label="designated contacts",
            lock=_designated_lock,
            read=_designated_read,
            existing=_designated_existing,
            apply=_designated_apply,
        )
    )
    # Sign-in links are short-lived and personal: a merge drops the source's. Its password and
    # designation go to the target when the target has none.
    merging.register_reference(
        merging.ContactReference(
            model=SignInLink,
            field="contact",
            count=lambda pk: SignInLink.objects.filter(contact_id=pk).count(),
            move=lambda m: SignInLink.objects.filter(contact_id=m.source.pk).delete()[0] and 0,
            describe=lambda n: (
                ngettext("%(n)s portal sign-in link (discarded)", "%(n)s portal sign-in links (discarded)", n)
                % {"n": n}
            ),
        )
    )
    merging.register_reference(
        merging.ContactReference(
            model=CustomerPassword,
            field="contact",
            count=lambda pk: CustomerPassword.objects.filter(contact_id=pk).count(),
            move=lambda m: _move_one(CustomerPassword, m),
            describe=lambda n: (
                ngettext(
                    "%(n)s portal password (moved when the contact kept has none)",
                    "%(n)s portal passwords (moved when the contact kept has none)",
                    n,
                )
                % {"n": n}
            ),
        )
    )
    merging.register_reference(
        merging.ContactReference(
            model=DesignatedContact,
            field="contact",
            count=lambda pk: DesignatedContact.objects.filter(contact_id=pk).count(),
            move=lambda m: _move_one(DesignatedContact, m),
            describe=lambda n: (
                ngettext(
                    "%(n)s designation to see the organization's requests in the portal "
                    "(moved when the contact kept has none)",
                    "%(n)s designations to see the organization's requests in the portal "
                    "(moved when the contact kept has none)",
                    n,
                )
                % {"n": n}
            ),
        )
    )


def _move_one(model: Any, m: merging.Move) -> int:
    if model.objects.filter(contact_id=m.target.pk).exists():
        model.objects.filter(contact_id=m.source.pk).delete()
        return 0
    return int(model.objects.filter(contact_id=m.source.pk).update(contact_id=m.target.pk))

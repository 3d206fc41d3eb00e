"""The history of statuses, custom fields and layouts (`core.snapshots`): a status and a field
are recorded by key, a layout by its department's slug, each as the document the configuration
export writes for it, and restored through `tickets.statuses` and `tickets.fields_services`.

A status's place in the order is not part of its definition: reordering is not a change of any
one status (and restoring a status leaves the order as it is).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sportello.accounts.models import Department
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import fields_services, statuses
from .models import CustomerAccess, CustomField, LayoutField, Status

FIELDS = "fields"
LAYOUTS = "layouts"


def status_definition(s: Status) -> Definition:
    return {
        "key": s.key,
        "name": s.name,
        "category": s.category,
        "default": s.is_default,
        "active": s.is_active,
    }


def _status_read(key: str) -> tuple[str, Definition] | None:
    s = Status.objects.filter(key=key).first()
    return None if s is None else (s.name, status_definition(s))


def _status_lock(key: str) -> Status | None:
    return Status.objects.select_for_update().filter(key=key).first()


def _status_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    status = Status.objects.get(key=key)
    active = bool(definition.get("active", True))
    default = bool(definition.get("default", False))
    # A default is never unset directly: restoring a version that was not the default leaves
    # the default as it is (the module notes of tickets.statuses).
    statuses.status_update(
        actor=actor,
        status_id=status.pk,
        now=now,
        name=definition["name"],
        category=definition["category"],
        is_active=active,
        is_default=True if default and not status.is_default else None,
    )


def field_definition(f: CustomField) -> Definition:
    return {
        "key": f.key,
        "label": f.label,
        "type": f.type,
        "options": [{"value": o["value"], "label": o.get("label") or o["value"]} for o in f.options or []],
        "description": f.description,
        "position": f.position,
        "active": f.is_active,
    }


def _field_read(key: str) -> tuple[str, Definition] | None:
    f = CustomField.objects.filter(key=key).first()
    return None if f is None else (f.label, field_definition(f))


def _field_lock(key: str) -> CustomField | None:
    return CustomField.objects.select_for_update().filter(key=key).first()


def _field_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    field = CustomField.objects.get(key=key)
    fields_services.custom_field_update(
        actor=actor,
        field=field,
        label=definition["label"],
        options=[fields_services.FieldOption(o["value"], o.get("label", "")) for o in definition["options"]],
        description=definition.get("description", ""),
        position=int(definition.get("position", 0)),
        is_active=bool(definition.get("active", True)),
    )


def layout_definition(department: Department) -> Definition:
    rows = (
        LayoutField.objects.filter(department=department).select_related("field").order_by("position", "id")
    )
    return {"department": department.slug, "fields": [layout_row_definition(row) for row in rows]}


def layout_row_definition(row: LayoutField) -> Definition:
    """One row of a layout as the configuration export writes it (its field loaded)."""
    entry: dict[str, Any] = {
        "field": row.field.key,
        "required": row.required,
        "required_from_customer": row.required_from_customer,
        "customer_access": row.customer_access,
    }
    if row.allowed_values is not None:
        entry["allowed_values"] = list(row.allowed_values)
    return entry


def _layout_read(key: str) -> tuple[str, Definition] | None:
    d = Department.objects.filter(slug=key).first()
    return None if d is None else (d.name, layout_definition(d))


def _layout_lock(key: str) -> Department | None:
    return Department.objects.select_for_update().filter(slug=key).first()


def _layout_apply(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    department = Department.objects.get(slug=key)
    rows = [
        fields_services.LayoutRowSpec(
            field=item["field"],
            required=item.get("required", "none"),
            required_from_customer=bool(item.get("required_from_customer", False)),
            allowed_values=item.get("allowed_values"),
            customer_access=item.get("customer_access", CustomerAccess.EDIT),
        )
        for item in definition.get("fields", [])
    ]
    fields_services.layout_replace(actor=actor, department=department, rows=rows)


register_snapshot_kind(
    SnapshotKind(
        name=statuses.STATUSES,
        label="status",
        lock=_status_lock,
        read=_status_read,
        existing=lambda: list(Status.objects.order_by("key").values_list("key", flat=True)),
        apply=_status_apply,
    )
)
register_snapshot_kind(
    SnapshotKind(
        name=FIELDS,
        label="custom field",
        lock=_field_lock,
        read=_field_read,
        existing=lambda: list(CustomField.objects.order_by("key").values_list("key", flat=True)),
        apply=_field_apply,
    )
)
register_snapshot_kind(
    SnapshotKind(
        name=LAYOUTS,
        label="layout",
        lock=_layout_lock,
        read=_layout_read,
        existing=lambda: list(Department.objects.order_by("slug").values_list("slug", flat=True)),
        apply=_layout_apply,
    )
)

"""What admins configure for tickets, as a per-process cache: statuses, custom fields and each
department's layout, rebuilt when any process changes them (`core.config.watch`, signature
"desk", shared with `accounts.structure`).

The rows returned are shared by every request of the process: read them, never change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sportello.accounts.structure import DESK
from sportello.core.config import config_cached

from .models import CustomField, LayoutField, Status, StatusCategory


@dataclass(frozen=True, slots=True)
class TicketConfiguration:
    statuses: tuple[Status, ...]  # every status, active or not, in their order
    by_key: dict[str, Status]  # the active ones by key
    by_id: dict[int, Status]  # every status by id
    defaults: dict[str, Status]  # each category's default status
    fields: dict[str, CustomField]  # every custom field by key, active or not, in their order
    layouts: dict[int, tuple[LayoutField, ...]]  # department id -> its active fields, in order

    def default_status(self, category: StatusCategory) -> Status:
        found = self.defaults.get(category)
        if found is None:
            raise Status.DoesNotExist(f"no default status in the category {category}")
        return found

    def layout(self, department_id: int | None) -> tuple[LayoutField, ...]:
        """The department's layout: its rows (with their field) whose field is active."""
        return self.layouts.get(department_id, ()) if department_id is not None else ()


def _read() -> TicketConfiguration:
    statuses = tuple(Status.objects.order_by("position", "id"))
    fields = {f.key: f for f in CustomField.objects.order_by("position", "id")}
    by_pk = {f.pk: f for f in fields.values()}
    layouts: dict[int, list[LayoutField]] = {}
    for row in LayoutField.objects.order_by("position", "id"):
        field = by_pk.get(row.field_id)
        if field is not None and field.is_active:
            row.field = field
            layouts.setdefault(row.department_id, []).append(row)
    return TicketConfiguration(
        statuses=statuses,
        by_key={s.key: s for s in statuses if s.is_active},
        by_id={s.pk: s for s in statuses},
        defaults={s.category: s for s in reversed(statuses) if s.is_default},
        fields=fields,
        layouts={d: tuple(rows) for d, rows in layouts.items()},
    )


def configuration(memo: dict[str, Any] | None = None) -> TicketConfiguration:
    """Statuses, custom fields and layouts as last committed (one signature read per change or
    page; three statements when another process changed them)."""
    return config_cached("desk.tickets", _read, memo, signature=DESK)

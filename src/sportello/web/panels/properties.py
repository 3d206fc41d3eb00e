"""Ticket page panel: the properties (standard fields and the layout's custom fields).

Agents who may edit get the form (`properties_form`); light agents read the same values as a
list (`custom_fields`: label and displayed value, picklist values by their labels)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from sportello.tickets import selectors
from sportello.tickets.models import LayoutField, Ticket

from ..properties_form import TicketPropertiesForm
from .reads import page_reads

TEMPLATE = "web/ticket/_properties.html"


def display_value(row: LayoutField, value: Any) -> str:
    """A stored custom-field value as people read it: option labels, yes/no, local times."""
    if value is None or value == "" or value == []:
        return "—"
    labels = {o["value"]: o.get("label") or o["value"] for o in row.field.options or []}
    if isinstance(value, list):
        return ", ".join(str(labels.get(v, v)) for v in value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if row.field.type == "datetime" and isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return date_format(timezone.localtime(at), "DATETIME_FORMAT")
    return str(labels.get(value, value)) if isinstance(value, str) else str(value)


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    reads = page_reads(shared, request, ticket)
    layouts = reads.layouts
    rows = layouts.get(ticket.department_id, [])
    values = ticket.custom_fields or {}
    out: dict[str, Any] = {
        # The layout's fields agents must fill before solving, still empty (mail cannot fill them).
        "fields_to_fill": [
            r.field.label for r in selectors.ticket_fields_to_fill(ticket=ticket, layouts=layouts)
        ],
        "tags": [t.name for t in ticket.tags.all()],
    }
    if shared["may_edit"]:
        out["properties_form"] = TicketPropertiesForm(
            ticket=ticket,
            user=request.user,  # type: ignore[arg-type]
            layouts=layouts,
            choices=reads.property_choices(),
        )
        out["custom_fields"] = []
    else:
        out["properties_form"] = None
        out["custom_fields"] = [(r.field.label, display_value(r, values.get(r.field.key))) for r in rows]
    return out

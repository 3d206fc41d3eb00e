"""Ticket page panel: the properties (standard fields and the layout's custom fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sportello.tickets import selectors
from sportello.tickets.models import CustomField, Ticket

from ..forms import TicketPropertiesForm

TEMPLATE = "web/ticket/_properties.html"


def _custom_fields(ticket: Ticket) -> list[tuple[str, str]]:
    values = ticket.custom_fields or {}
    if not values:
        return []
    rows = []
    for field in CustomField.objects.filter(key__in=values.keys()):
        value = values[field.key]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "✓" if value else "✗"
        rows.append((field.label, "" if value is None else str(value)))
    return rows


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    return {
        "custom_fields": _custom_fields(ticket),
        # The layout's fields agents must fill before solving, still empty (mail cannot fill them).
        "fields_to_fill": [r.field.label for r in selectors.ticket_fields_to_fill(ticket=ticket)],
        "tags": [t.name for t in ticket.tags.all()],
        "properties_form": TicketPropertiesForm(ticket=ticket) if shared["may_edit"] else None,
    }

"""Helpers of the blueprint tests, imported by name (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any


def returns_definition(desk: Any, **overrides: Any) -> dict[str, Any]:
    """Received → awaiting the item (needs an order id and a note) → refunded (admins)."""
    return {
        "key": "returns",
        "name": "Returns",
        "department": desk.books.pk,
        "entry": {"field": "ticket.custom.kind", "op": "is", "value": "return"},
        "states": [
            {"key": "received", "name": "Received", "status": "open"},
            {"key": "awaiting-item", "name": "Awaiting the item", "status": "pending"},
            {"key": "refunded", "name": "Refunded", "status": "solved", "terminal": True},
        ],
        "transitions": [
            {
                "key": "label-sent",
                "name": "Send the return label",
                "from": "received",
                "to": "awaiting-item",
                "owners": {"roles": ["agent", "admin"]},
                "during": {
                    "fields": [
                        {
                            "field": "ticket.custom.order_id",
                            "required": True,
                            "matches": "^[A-Z]{2}[0-9]{6}$",
                            "message": "An order id looks like AB123456",
                        }
                    ],
                    "note": "required",
                },
                "after": [
                    {"add_tags": ["label_sent"]},
                    {
                        "notify": {
                            "to": ["requester"],
                            "subject": "Your return label for {{ ticket.custom.order_id }}",
                            "body": "Print the label and send the item back.",
                        }
                    },
                ],
            },
            {
                "key": "refund",
                "name": "Refund",
                "from": "awaiting-item",
                "to": "refunded",
                "owners": {"roles": ["admin"]},
                "during": {
                    "fields": [
                        {"field": "ticket.custom.refund_amount", "required": True, "min": 0, "max": 500}
                    ]
                },
            },
        ],
        **overrides,
    }


def run_of(ticket: Any) -> Any:
    from sportello.blueprints.models import TicketBlueprint

    return TicketBlueprint.objects.get(ticket_id=ticket.pk)


def blueprint_events(ticket: Any) -> list[tuple[str, str, str]]:
    """(field, actor kind, cause) of the ticket's blueprint events, in order."""
    from sportello.tickets.models import TicketEvent

    return list(
        TicketEvent.objects.filter(ticket_id=ticket.pk, kind="blueprint")
        .order_by("at", "id")
        .values_list("field", "actor_kind", "cause")
    )

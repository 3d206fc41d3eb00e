"""Workflow set-ups, imported by name by the blueprint, web and browser tests (fixtures live in
conftest.py files): an SLA policy with a warning, the Returns process of Books with its custom
fields, a tier path, a ticket a customer opened (so its first-response clock runs), and readers
of a ticket's process."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def sla_policy(desk: Any, now: datetime, *, within: str = "1h", warn_before: str = "15m") -> Any:
    """Every ticket: first response and resolution within `within`, warned `warn_before` the
    breach; pending pauses the resolution clock."""
    from sportello.sla.services import policy_save

    policy, _ = policy_save(
        definition={
            "key": "standard",
            "name": "Standard support",
            "when": {"all": []},
            "targets": {
                "first_response": {p: {"within": within} for p in ("low", "normal", "high", "urgent")},
                "resolution": {p: {"within": "8h"} for p in ("low", "normal", "high", "urgent")},
            },
            "warnings": [{"before": warn_before}],
        },
        actor=desk.admin,
        now=now,
    )
    return policy


def returns_fields(desk: Any) -> None:
    """`kind` (a picklist), `order_id` (text) and `refund_amount` (decimal) in the Books layout."""
    from sportello.tickets.fields_services import (
        FieldOption,
        LayoutRowSpec,
        custom_field_create,
        layout_replace,
    )

    custom_field_create(
        actor=None,
        key="kind",
        label="Kind",
        type="picklist",
        options=[FieldOption("return", "Return"), FieldOption("exchange", "Exchange")],
    )
    custom_field_create(actor=None, key="order_id", label="Order number", type="text")
    custom_field_create(actor=None, key="refund_amount", label="Refund amount", type="decimal")
    layout_replace(
        actor=None,
        department=desk.books,
        rows=[LayoutRowSpec("kind"), LayoutRowSpec("order_id"), LayoutRowSpec("refund_amount")],
    )


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


def returns_blueprint(desk: Any, now: datetime) -> Any:
    """The Returns process as the ticket page shows it: on every Books ticket (no entry
    condition, no actions after the label is sent), two days allowed in Received, and the label
    step also asks the kind, with its own message for an order number."""
    from sportello.blueprints.services import blueprint_save

    definition = returns_definition(desk)
    del definition["entry"]
    definition["states"][0]["time_limit"] = "2d"
    label_sent = definition["transitions"][0]
    del label_sent["after"]
    label_sent["during"]["fields"] = [
        {**label_sent["during"]["fields"][0], "message": "An order number looks like AB123456"},
        {"field": "ticket.custom.kind", "allowed_values": ["return", "exchange"]},
    ]
    row, _ = blueprint_save(definition=definition, actor=desk.admin, now=now)
    return row


def tier_path(desk: Any, now: datetime) -> dict[str, Any]:
    """Books: Tier 1 (Novels) → Tier 2 (Second line) → Engineering (Electronics)."""
    from sportello.accounts.services import team_create
    from sportello.sla.tiers import tier_path_save

    t2 = team_create(name="Second line", department=desk.books, members=[desk.agent])
    t3 = team_create(name="Engineering", department=desk.electronics)
    tier_path_save(
        definition={
            "key": "books",
            "name": "Books support",
            "department": desk.books.pk,
            "tiers": [
                {"key": "t1", "name": "Tier 1", "team": desk.team.pk},
                {"key": "t2", "name": "Tier 2", "team": t2.pk},
                {"key": "t3", "name": "Engineering", "team": t3.pk, "department": desk.electronics.pk},
            ],
        },
        actor=desk.admin,
        now=now,
    )
    return {"t2": t2, "t3": t3}


def customer_ticket(desk: Any, now: datetime, subject: str = "Wrong edition", **fields: Any) -> Any:
    """A ticket Alice opened by e-mail in Books, assigned to Bruno."""
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.tickets import pipeline
    from sportello.tickets.pipeline import NewMessage

    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"),
        via=Via.EMAIL,
        subject=subject,
        requester_id=desk.alice.pk,
        department_id=desk.books.pk,
        description=NewMessage(body="The book I received is the wrong edition."),
        now=now,
        fields={"assignee": desk.agent.pk, **fields},
    ).ticket


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


def warranty_definition(desk: Any, **overrides: Any) -> dict[str, Any]:
    """Received → Inspecting (two days at most) → Replaced (the subject must be filled) or
    Rejected, in Electronics: the Console's blueprint editor tests."""
    return {
        "key": "warranty",
        "name": "Warranty claim",
        "department": desk.electronics.pk,
        "states": [
            {"key": "received", "name": "Received", "status": "open"},
            {"key": "inspecting", "name": "Inspecting", "status": "pending", "time_limit": "2d"},
            {"key": "replaced", "name": "Replaced", "status": "solved", "terminal": True},
            {"key": "rejected", "name": "Rejected", "status": "closed", "terminal": True},
        ],
        "transitions": [
            {"key": "inspect", "name": "Inspect", "from": "received", "to": "inspecting"},
            {
                "key": "replace",
                "name": "Replace",
                "from": "inspecting",
                "to": "replaced",
                "owners": {"roles": ["agent"]},
                "during": {"fields": [{"field": "ticket.subject", "required": True, "min_length": 3}]},
                "after": [{"add_tags": ["replaced"]}],
            },
            {"key": "reject", "name": "Reject", "from": "inspecting", "to": "rejected"},
        ],
        **overrides,
    }

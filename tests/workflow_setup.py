"""Set-ups of the ticket page's workflow panels, shared by the web and browser tests: an SLA
policy with a warning, the Returns process of Books with its custom fields, a tier path, and a
ticket a customer opened (so its first-response clock runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def forget_caches() -> None:
    """Parsed configurations are cached per process; tests roll back and reuse ids."""
    from sportello.blueprints.definitions import forget_departments, forget_parsed_blueprints
    from sportello.sla.calendars import forget_calendars
    from sportello.sla.services import forget_policies
    from sportello.sla.tiers import forget_paths

    forget_parsed_blueprints()
    forget_departments()
    forget_policies()
    forget_calendars()
    forget_paths()


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


def returns_blueprint(desk: Any, now: datetime) -> Any:
    """Every Books ticket: Received → Awaiting the item (an order number, a reason and a note
    are asked; 5 days to get there) → Refunded (admins only)."""
    from sportello.blueprints.services import blueprint_save

    row, _ = blueprint_save(
        definition={
            "key": "returns",
            "name": "Returns",
            "department": desk.books.pk,
            "states": [
                {"key": "received", "name": "Received", "status": "open", "time_limit": "2d"},
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
                                "message": "An order number looks like AB123456",
                            },
                            {"field": "ticket.custom.kind", "allowed_values": ["return", "exchange"]},
                        ],
                        "note": "required",
                    },
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
        },
        actor=desk.admin,
        now=now,
    )
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

"""What a ticket's customer may do with each field of the department's layout: nothing (hidden:
agents only), see its value (read) or see and fill it (edit, the default). Customers never set a
field they cannot fill, and never read a hidden field's value; agents are unaffected."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.actors import Actor, ActorKind, Via
from sportello.core.errors import ValidationFailed
from sportello.tickets.models import LayoutField, Ticket
from testing import NOW


@pytest.fixture
def access(desk: Any) -> Any:
    """Books: an order number customers fill, a gift flag they only see, and an internal
    rating they never see."""
    from sportello.tickets.fields_services import LayoutRowSpec, custom_field_create, layout_replace

    custom_field_create(actor=None, key="order_number", label="Order number", type="text")
    custom_field_create(actor=None, key="gift", label="Gift wrapped", type="boolean")
    custom_field_create(actor=None, key="rating", label="Internal rating", type="text")
    layout_replace(
        actor=None,
        department=desk.books,
        rows=[
            LayoutRowSpec("order_number"),
            LayoutRowSpec("gift", customer_access="read"),
            LayoutRowSpec("rating", customer_access="hidden"),
        ],
    )
    return desk


def customer_opens(desk: Any, custom_fields: dict[str, Any]) -> Any:
    from sportello.tickets import services

    data = {
        "subject": "About my order",
        "description": "Please help.",
        "department_id": desk.books.pk,
        "custom_fields": custom_fields,
    }
    return services.ticket_open(principal=desk.alice, via=Via.PORTAL, data=data, now=NOW)


# --------------------------------------------------------------------------------------------
# The layout


def test_rows_saved_without_a_say_let_customers_fill_the_field(desk: Any, api: Any) -> None:
    from sportello.tickets.fields_services import LayoutRowSpec, custom_field_create, layout_replace

    custom_field_create(actor=None, key="order_number", label="Order number", type="text")
    (row,) = layout_replace(actor=None, department=desk.books, rows=[LayoutRowSpec("order_number")])
    assert row.customer_access == "edit"
    r = api(desk.agent).get(f"/departments/{desk.books.pk}/layout")
    assert [f["customer_access"] for f in r.json()["fields"]] == ["edit"]


def test_an_admin_sets_what_customers_may_do_through_the_api(access: Any, api: Any) -> None:
    admin = api(access.admin)
    r = admin.put(
        f"/departments/{access.books.pk}/layout",
        {"fields": [{"field": "rating", "customer_access": "read"}, {"field": "gift"}]},
    )
    assert r.status_code == 200, r.content
    assert [(f["field"], f["customer_access"]) for f in r.json()["fields"]] == [
        ("rating", "read"),
        ("gift", "edit"),
    ]
    r = admin.put(
        f"/departments/{access.books.pk}/layout",
        {"fields": [{"field": "rating", "customer_access": "secret"}]},
    )
    assert r.status_code == 422
    assert LayoutField.objects.filter(department=access.books).count() == 2


@pytest.mark.parametrize("customer_access", ["hidden", "read"])
def test_a_field_customers_cannot_fill_cannot_be_required_of_them(
    access: Any, api: Any, customer_access: str
) -> None:
    # when an admin requires of customers a field they cannot fill
    r = api(access.admin).put(
        f"/departments/{access.books.pk}/layout",
        {
            "fields": [
                {"field": "order_number"},
                {"field": "gift", "customer_access": customer_access, "required_from_customer": True},
            ]
        },
    )
    # then it is refused naming the row, and the layout stays as it was
    assert r.status_code == 422
    assert (r.json()["error"]["field"], r.json()["error"]["message"]) == (
        "fields.1.required_from_customer",
        "gift can be required of customers only when customers can fill it",
    )
    saved = LayoutField.objects.filter(department=access.books).order_by("position")
    assert [(x.field.key, x.customer_access) for x in saved] == [
        ("order_number", "edit"),
        ("gift", "read"),
        ("rating", "hidden"),
    ]


def test_changing_what_customers_may_do_changes_the_layouts_fingerprint(access: Any) -> None:
    from sportello.core.errors import Conflict
    from sportello.tickets.fields_services import (
        LayoutRowSpec,
        layout_fingerprint,
        layout_get,
        layout_replace,
    )

    seen = layout_fingerprint(layout_get(department=access.books))
    rows = [
        LayoutRowSpec("order_number"),
        LayoutRowSpec("gift"),
        LayoutRowSpec("rating", customer_access="hidden"),
    ]
    layout_replace(actor=access.admin, department=access.books, rows=rows, expected=seen)
    assert layout_fingerprint(layout_get(department=access.books)) != seen
    with pytest.raises(Conflict) as refused:
        layout_replace(actor=access.admin, department=access.books, rows=rows, expected=seen)
    assert refused.value.code == "stale_layout"


# --------------------------------------------------------------------------------------------
# Customers' changes


@pytest.mark.parametrize(("key", "value"), [("gift", True), ("rating", "A+")])
def test_a_customer_cannot_set_a_field_they_cannot_fill(access: Any, key: str, value: Any) -> None:
    # when Alice opens a ticket setting a read-only or a hidden field
    with pytest.raises(ValidationFailed) as refused:
        customer_opens(access, {"order_number": "B-1", key: value})
    # then it is refused naming the field, and nothing is written
    assert (refused.value.field, refused.value.message) == (
        f"custom_fields.{key}",
        "cannot be set by customers in this department",
    )
    assert Ticket.objects.count() == 0


def test_a_customer_fills_the_fields_they_can(access: Any) -> None:
    outcome = customer_opens(access, {"order_number": "B-1"})
    assert outcome.ticket.custom_fields == {"order_number": "B-1"}


def test_agents_set_every_field_of_the_layout(access: Any, api: Any) -> None:
    r = api(access.agent).post(
        "/tickets",
        {
            "subject": "About an order",
            "description": "Phoned in.",
            "department_id": access.books.pk,
            "requester_id": access.alice.pk,
            "custom_fields": {"order_number": "B-1", "gift": True, "rating": "A+"},
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["custom_fields"] == {"order_number": "B-1", "gift": True, "rating": "A+"}


def test_a_customers_reply_keeps_the_values_agents_set(access: Any, api: Any) -> None:
    from sportello.tickets import pipeline
    from sportello.tickets.pipeline import Mutation, NewMessage

    ticket = api(access.agent).post(
        "/tickets",
        {"subject": "S", "description": "D", "department_id": access.books.pk,
         "requester_id": access.alice.pk, "custom_fields": {"gift": True, "rating": "A+"}},
    ).json()  # fmt: skip
    alice = Actor(ActorKind.CONTACT, access.alice.pk, "Alice", principal=access.alice)
    mutation = Mutation(actor=alice, via=Via.EMAIL, message=NewMessage(body="Thanks", public=True))
    pipeline.ticket_apply(ticket_id=ticket["id"], mutation=mutation, now=NOW)
    assert Ticket.objects.get(pk=ticket["id"]).custom_fields == {"gift": True, "rating": "A+"}


# --------------------------------------------------------------------------------------------
# What customers read


def test_a_customer_reads_every_value_but_those_of_hidden_fields(access: Any) -> None:
    from sportello.tickets import selectors

    ticket = Ticket(
        department=access.books,
        custom_fields={"order_number": "B-1", "gift": True, "rating": "A+", "retired": "x"},
    )
    assert selectors.ticket_custom_fields_for(principal=access.alice, ticket=ticket) == {
        "order_number": "B-1",
        "gift": True,
    }
    assert selectors.ticket_custom_fields_for(principal=access.agent, ticket=ticket) == {
        "order_number": "B-1",
        "gift": True,
        "rating": "A+",
        "retired": "x",
    }
    # with the layouts a page read already
    layouts = selectors.department_layouts(department_ids=[access.books.pk])
    assert selectors.customer_custom_fields(ticket=ticket, layouts=layouts) == {
        "order_number": "B-1",
        "gift": True,
    }


def test_an_agents_reply_mailed_to_the_customer_never_carries_a_hidden_value(access: Any, api: Any) -> None:
    from sportello.notifications.services import template_save
    from sportello.outbox.models import OutboxMessage

    template_save(
        key="agent_reply", language="en", subject="Re: {{ ticket.subject }}",
        body_text="{{ message.body }} gift={{ ticket.custom.gift }} rating={{ ticket.custom.rating }}",
        actor=access.admin, now=NOW,
    )  # fmt: skip
    agent = api(access.agent)
    ticket = agent.post(
        "/tickets",
        {"subject": "S", "description": "D", "department_id": access.books.pk,
         "requester_id": access.alice.pk, "custom_fields": {"gift": True, "rating": "A+"}},
    ).json()  # fmt: skip
    r = agent.post(f"/tickets/{ticket['id']}/messages", {"body": "On its way.", "public": True})
    assert r.status_code == 201, r.content
    (mail,) = [m.payload for m in OutboxMessage.objects.filter(ticket_id=ticket["id"], kind="email")]
    assert mail["body"] == "On its way. gift=True rating="


def test_a_rules_notification_shows_hidden_values_to_agents_only(access: Any, api: Any) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.notifications.services import template_save
    from sportello.outbox.models import OutboxMessage

    template_save(
        key="status_changed", language="en", subject="Update",
        body_text="gift={{ ticket.custom.gift }} rating={{ ticket.custom.rating }}",
        actor=access.admin, now=NOW,
    )  # fmt: skip
    definition = {
        "key": "tell",
        "name": "tell",
        "when": {"all": [{"field": "event.type", "op": "is", "value": "ticket.created"}]},
        "actions": [
            {"notify": {"to": ["requester", f"agent:{access.agent.pk}"], "template": "status_changed"}}
        ],
    }
    rule_save(kind=RuleKind.EVENT, definition=definition, created_by=access.admin, now=NOW)
    ticket = api(access.agent).post(
        "/tickets",
        {"subject": "S", "description": "D", "department_id": access.books.pk,
         "requester_id": access.alice.pk, "custom_fields": {"gift": False, "rating": "A+"}},
    ).json()  # fmt: skip
    sent = [
        (m.payload["to"], m.payload["body"])
        for m in OutboxMessage.objects.filter(ticket_id=ticket["id"], kind="email").order_by("id")
    ]
    assert sent == [
        (["alice@acme.test"], "gift=False rating="),
        (["bruno@desk.test"], "gift=False rating=A+"),
    ]

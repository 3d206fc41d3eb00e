"""The Books/Electronics story, end to end through the API: one `subcategory` picklist, each
department's layout allowing its own values, enforced on POST and PATCH /tickets."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.tickets.models import Ticket, TicketEvent


@pytest.fixture
def story(desk: Any, api: Any) -> Any:
    """`subcategory` (novels, textbooks, phones, laptops); Books requires it and allows novels
    and textbooks; Electronics allows phones and laptops and has an optional `warranty_months`."""
    admin = api(desk.admin)
    r = admin.post(
        "/fields",
        {
            "key": "subcategory",
            "label": "Subcategory",
            "type": "picklist",
            "options": [{"value": v} for v in ("novels", "textbooks", "phones", "laptops")],
        },
    )
    assert r.status_code == 201, r.content
    r = admin.post("/fields", {"key": "warranty_months", "label": "Warranty (months)", "type": "number"})
    assert r.status_code == 201, r.content
    r = admin.put(
        f"/departments/{desk.books.pk}/layout",
        {"fields": [{"field": "subcategory", "required": True, "allowed_values": ["novels", "textbooks"]}]},
    )
    assert r.status_code == 200, r.content
    r = admin.put(
        f"/departments/{desk.electronics.pk}/layout",
        {
            "fields": [
                {"field": "subcategory", "allowed_values": ["phones", "laptops"]},
                {"field": "warranty_months"},
            ]
        },
    )
    assert r.status_code == 200, r.content
    return desk


def open_ticket(client: Any, department: Any, requester: Any, custom_fields: dict[str, Any]) -> Any:
    return client.post(
        "/tickets",
        {
            "subject": "About my order",
            "description": "Please help.",
            "department_id": department.pk,
            "requester_id": requester.pk,
            "custom_fields": custom_fields,
        },
    )


def test_a_books_ticket_takes_a_books_subcategory(story: Any, api: Any) -> None:
    # when the Books agent opens a ticket about a novel
    r = open_ticket(api(story.agent), story.books, story.alice, {"subcategory": "novels"})
    # then it is stored with that value
    assert r.status_code == 201, r.content
    assert r.json()["custom_fields"] == {"subcategory": "novels"}


def test_a_books_ticket_cannot_take_an_electronics_subcategory(story: Any, api: Any) -> None:
    # when the Books agent opens a ticket about phones
    r = open_ticket(api(story.agent), story.books, story.alice, {"subcategory": "phones"})
    # then it is refused naming the field, and no ticket exists
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_failed",
        "message": "'phones' is not allowed in this department",
        "field": "custom_fields.subcategory",
    }
    assert Ticket.objects.count() == 0


def test_a_required_field_missing_is_a_422_naming_it(story: Any, api: Any) -> None:
    # when a Books ticket is opened without its required subcategory
    r = open_ticket(api(story.agent), story.books, story.alice, {})
    # then the error names the missing field
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_failed",
        "message": "is required in this department",
        "field": "custom_fields.subcategory",
    }
    assert Ticket.objects.count() == 0


def test_a_field_outside_the_departments_layout_is_refused(story: Any, api: Any) -> None:
    r = open_ticket(
        api(story.agent), story.books, story.alice, {"subcategory": "novels", "warranty_months": 12}
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "custom_fields.warranty_months"
    assert r.json()["error"]["message"] == "does not apply in this department"


def test_an_unknown_field_and_a_value_of_the_wrong_type_are_refused(story: Any, api: Any) -> None:
    client = api(story.outsider)
    r = open_ticket(client, story.electronics, story.bob, {"colour": "red"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "custom_fields.colour")
    r = open_ticket(client, story.electronics, story.bob, {"warranty_months": "twelve"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "custom_fields.warranty_months")
    r = open_ticket(client, story.electronics, story.bob, {"subcategory": ["phones"]})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "custom_fields.subcategory")
    assert Ticket.objects.count() == 0


def test_patching_a_books_ticket_to_an_electronics_value_is_refused_and_nothing_changes(
    story: Any, api: Any
) -> None:
    # given a Books ticket about a novel
    client = api(story.agent)
    ticket = open_ticket(client, story.books, story.alice, {"subcategory": "novels"}).json()
    # when the agent sets the subcategory to phones
    r = client.patch(
        f"/tickets/{ticket['id']}", {"version": ticket["version"], "custom_fields": {"subcategory": "phones"}}
    )
    # then it is refused naming the field, and the ticket is as it was
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "custom_fields.subcategory"
    after = client.get(f"/tickets/{ticket['id']}").json()
    assert (after["custom_fields"], after["version"]) == ({"subcategory": "novels"}, ticket["version"])
    # and to textbooks is fine
    r = client.patch(
        f"/tickets/{ticket['id']}",
        {"version": ticket["version"], "custom_fields": {"subcategory": "textbooks"}},
    )
    assert r.status_code == 200, r.content
    assert r.json()["custom_fields"] == {"subcategory": "textbooks"}


def test_clearing_a_required_field_is_refused(story: Any, api: Any) -> None:
    client = api(story.agent)
    ticket = open_ticket(client, story.books, story.alice, {"subcategory": "novels"}).json()
    r = client.patch(
        f"/tickets/{ticket['id']}", {"version": ticket["version"], "custom_fields": {"subcategory": None}}
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "custom_fields.subcategory"
    assert r.json()["error"]["message"] == "is required in this department"


def test_moving_a_ticket_to_electronics_with_a_books_only_value_is_refused(story: Any, api: Any) -> None:
    # given a Books ticket about a novel
    admin = api(story.admin)
    ticket = open_ticket(admin, story.books, story.alice, {"subcategory": "novels"}).json()
    events_before = TicketEvent.objects.filter(ticket_id=ticket["id"]).count()
    # when it is moved to Electronics as it is
    r = admin.patch(
        f"/tickets/{ticket['id']}", {"version": ticket["version"], "department_id": story.electronics.pk}
    )
    # then the move is refused naming the field, and the ticket stays in Books untouched
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_failed",
        "message": "'novels' is not allowed in this department",
        "field": "custom_fields.subcategory",
    }
    after = admin.get(f"/tickets/{ticket['id']}").json()
    assert (after["department_id"], after["custom_fields"], after["version"]) == (
        story.books.pk,
        {"subcategory": "novels"},
        ticket["version"],
    )
    assert TicketEvent.objects.filter(ticket_id=ticket["id"]).count() == events_before


def test_moving_a_ticket_with_a_value_the_new_department_allows_succeeds(story: Any, api: Any) -> None:
    # given a Books ticket about a novel
    admin = api(story.admin)
    ticket = open_ticket(admin, story.books, story.alice, {"subcategory": "novels"}).json()
    # when it is moved to Electronics and re-classified as laptops in the same change
    r = admin.patch(
        f"/tickets/{ticket['id']}",
        {
            "version": ticket["version"],
            "department_id": story.electronics.pk,
            "custom_fields": {"subcategory": "laptops", "warranty_months": "24"},
        },
    )
    # then it is in Electronics with the new values, and the trail records both changes
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["department_id"], body["custom_fields"]) == (
        story.electronics.pk,
        {"subcategory": "laptops", "warranty_months": 24},
    )
    changes = {
        e.field: (e.old_value, e.new_value)
        for e in TicketEvent.objects.filter(ticket_id=ticket["id"], kind="field")
        if e.field.startswith(("custom_fields", "department"))
    }
    assert changes == {
        "department": (story.books.pk, story.electronics.pk),
        "custom_fields.subcategory": ("novels", "laptops"),
        "custom_fields.warranty_months": (None, 24),
    }


def test_an_electronics_ticket_without_a_subcategory_is_fine_where_it_is_optional(
    story: Any, api: Any
) -> None:
    r = open_ticket(api(story.outsider), story.electronics, story.bob, {})
    assert r.status_code == 201, r.content
    assert r.json()["custom_fields"] == {}


def test_a_layout_change_applies_to_the_next_ticket(story: Any, api: Any) -> None:
    # given Books now allows phones too (an odd bookshop)
    admin = api(story.admin)
    r = admin.put(
        f"/departments/{story.books.pk}/layout",
        {"fields": [{"field": "subcategory", "required": True, "allowed_values": ["novels", "phones"]}]},
    )
    assert r.status_code == 200
    # then a Books ticket about phones is accepted, and textbooks no longer is
    assert (
        open_ticket(api(story.agent), story.books, story.alice, {"subcategory": "phones"}).status_code == 201
    )
    r = open_ticket(api(story.agent), story.books, story.alice, {"subcategory": "textbooks"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "custom_fields.subcategory")


def test_a_light_agent_cannot_set_custom_fields(story: Any, api: Any) -> None:
    ticket = open_ticket(api(story.agent), story.books, story.alice, {"subcategory": "novels"}).json()
    r = api(story.light).patch(
        f"/tickets/{ticket['id']}",
        {"version": ticket["version"], "custom_fields": {"subcategory": "textbooks"}},
    )
    assert r.status_code == 403
    assert Ticket.objects.get(pk=ticket["id"]).custom_fields == {"subcategory": "novels"}

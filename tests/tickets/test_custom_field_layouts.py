"""The Books/Electronics story, end to end through the API: one `subcategory` picklist, each
department's layout allowing its own values, enforced on POST and PATCH /tickets."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.core.actors import Via
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


# --------------------------------------------------------------------------------------------
# Who must fill a required field, and when: agents to solve or on every change, the customer on
# the customer's form; never a customer's mail.


@pytest.fixture
def solving(story: Any, api: Any) -> Any:
    """Books needs `subcategory` before an agent solves a ticket, and asks the customer for
    `warranty_months` on the customer's form; Electronics needs `warranty_months` to solve."""
    admin = api(story.admin)
    r = admin.put(
        f"/departments/{story.books.pk}/layout",
        {
            "fields": [
                {"field": "subcategory", "required": "to_solve", "allowed_values": ["novels", "textbooks"]},
                {"field": "warranty_months", "required_from_customer": True},
            ]
        },
    )
    assert r.status_code == 200, r.content
    assert [(f["required"], f["required_from_customer"]) for f in r.json()["fields"]] == [
        ("to_solve", False),
        ("none", True),
    ]
    r = admin.put(
        f"/departments/{story.electronics.pk}/layout",
        {"fields": [{"field": "subcategory"}, {"field": "warranty_months", "required": "to_solve"}]},
    )
    assert r.status_code == 200, r.content
    return story


def test_an_agent_opens_a_ticket_without_a_field_required_to_solve_and_sees_it_missing(
    solving: Any, api: Any
) -> None:
    client = api(solving.agent)
    r = open_ticket(client, solving.books, solving.alice, {})
    assert r.status_code == 201, r.content
    assert r.json()["missing_fields"] == ["subcategory"]
    assert client.get(f"/tickets/{r.json()['id']}").json()["missing_fields"] == ["subcategory"]
    assert [t["missing_fields"] for t in client.get("/tickets").json()["items"]] == [["subcategory"]]


def test_an_agent_solving_without_a_field_required_to_solve_is_refused_naming_it(
    solving: Any, api: Any
) -> None:
    # given a Books ticket without a subcategory
    client = api(solving.agent)
    ticket = open_ticket(client, solving.books, solving.alice, {}).json()
    # when the agent solves it
    r = client.patch(f"/tickets/{ticket['id']}", {"version": ticket["version"], "status": "solved"})
    # then it is refused naming the field, and nothing changed
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_failed",
        "message": "is required to solve a ticket in this department",
        "field": "custom_fields.subcategory",
    }
    after = client.get(f"/tickets/{ticket['id']}").json()
    assert (after["status"], after["version"]) == ("new", ticket["version"])
    # and filling it in the same change solves it
    r = client.patch(
        f"/tickets/{ticket['id']}",
        {"version": ticket["version"], "status": "solved", "custom_fields": {"subcategory": "novels"}},
    )
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["missing_fields"]) == ("solved", [])


def test_a_macro_that_solves_meets_the_same_requirement(solving: Any, api: Any) -> None:
    from sportello.automation import macros
    from sportello.core.errors import ValidationFailed
    from testing import NOW

    macros.macro_create(
        definition={"key": "done", "name": "Done", "visibility": {"scope": "everyone", "ids": []},
                    "actions": [{"set": {"field": "ticket.status", "value": "solved"}}]},
        actor=solving.admin, now=NOW,
    )  # fmt: skip
    ticket = open_ticket(api(solving.agent), solving.books, solving.alice, {}).json()
    with pytest.raises(ValidationFailed) as info:
        macros.macro_apply(key="done", ticket_id=ticket["id"], agent=solving.agent, via=Via.API, now=NOW)
    assert (info.value.field, info.value.message) == (
        "custom_fields.subcategory",
        "is required to solve a ticket in this department",
    )
    assert Ticket.objects.get(pk=ticket["id"]).status_category == "new"


def test_moving_a_solved_ticket_where_a_field_is_required_to_solve_is_refused(solving: Any, api: Any) -> None:
    # given a solved Books ticket about a novel, and an admin (a member of every department)
    admin = api(solving.admin)
    ticket = open_ticket(admin, solving.books, solving.alice, {"subcategory": "novels"}).json()
    solved = admin.patch(
        f"/tickets/{ticket['id']}", {"version": ticket["version"], "status": "solved"}
    ).json()
    # when it is moved to Electronics, whose layout needs the warranty to solve
    r = admin.patch(
        f"/tickets/{ticket['id']}", {"version": solved["version"], "department_id": solving.electronics.pk}
    )
    # then the move is refused naming the field
    assert (r.status_code, r.json()["error"]["field"], r.json()["error"]["message"]) == (
        422,
        "custom_fields.warranty_months",
        "is required to solve a ticket in this department",
    )
    # and with the warranty given in the same change it is fine
    r = admin.patch(
        f"/tickets/{ticket['id']}",
        {"version": solved["version"], "department_id": solving.electronics.pk,
         "custom_fields": {"warranty_months": 24}},
    )  # fmt: skip
    assert (r.status_code, r.json()["department_id"]) == (200, solving.electronics.pk)


def test_a_customer_opening_a_ticket_on_their_form_fills_what_is_asked_of_them_only(solving: Any) -> None:
    from sportello.core.errors import ValidationFailed
    from sportello.tickets import services
    from testing import NOW

    data = {"subject": "About my order", "description": "Please help.", "department_id": solving.books.pk}
    # when Alice opens a Books ticket without the warranty the form asks of her
    with pytest.raises(ValidationFailed) as info:
        services.ticket_open(principal=solving.alice, via=Via.PORTAL, data=dict(data), now=NOW)
    # then it is refused naming it
    assert (info.value.field, info.value.message) == (
        "custom_fields.warranty_months",
        "is required in this department",
    )
    # and with it, it opens without the subcategory, which is the agents' to fill
    outcome = services.ticket_open(
        principal=solving.alice,
        via=Via.PORTAL,
        data={**data, "custom_fields": {"warranty_months": 12}},
        now=NOW,
    )
    assert outcome.ticket.custom_fields == {"warranty_months": 12}


def test_a_field_required_of_agents_on_every_change_binds_agents_not_customers(story: Any) -> None:
    # Books' subcategory is `"required": true` in the story: agents always fill it
    from sportello.tickets import services
    from testing import NOW

    data = {"subject": "About my order", "description": "Please help.", "department_id": story.books.pk}
    outcome = services.ticket_open(principal=story.alice, via=Via.PORTAL, data=data, now=NOW)
    assert outcome.ticket.custom_fields == {}


def test_a_layout_replaced_over_another_save_is_refused(desk: Any, layouts: Any) -> None:
    """`expected`: the fingerprint of the layout the caller read; a save meanwhile refuses the
    replacement (a Conflict "stale_layout") and leaves the layout as the other save left it."""
    from sportello.core.errors import Conflict
    from sportello.tickets.fields_services import (
        LayoutRowSpec,
        layout_fingerprint,
        layout_get,
        layout_replace,
    )

    seen = layout_fingerprint(layout_get(department=desk.books))
    assert seen == layout_fingerprint(layout_get(department=desk.books))  # stable
    assert seen != layout_fingerprint(layout_get(department=desk.electronics))
    layout_replace(actor=desk.admin, department=desk.books, rows=[LayoutRowSpec("gift")])
    with pytest.raises(Conflict) as refused:
        layout_replace(
            actor=desk.admin, department=desk.books, rows=[LayoutRowSpec("order_number")], expected=seen
        )
    assert refused.value.code == "stale_layout"
    assert [r.field.key for r in layout_get(department=desk.books)] == ["gift"]
    now = layout_fingerprint(layout_get(department=desk.books))
    rows = layout_replace(
        actor=desk.admin, department=desk.books, rows=[LayoutRowSpec("order_number")], expected=now
    )
    assert [r.field.key for r in rows] == ["order_number"]


def test_a_field_changed_over_another_change_is_refused(desk: Any, layouts: Any) -> None:
    from sportello.core.errors import Conflict
    from sportello.tickets.fields_services import custom_field_get, custom_field_update, field_fingerprint

    field = custom_field_get(user=desk.admin, ref="order_number")
    seen = field_fingerprint(field)
    custom_field_update(actor=desk.admin, field=field, description="Theirs")
    with pytest.raises(Conflict) as refused:
        custom_field_update(actor=desk.admin, field=field, label="Mine", expected=seen)
    assert refused.value.code == "stale_field"
    field.refresh_from_db()
    assert (field.label, field.description) == ("Order number", "Theirs")
    updated = custom_field_update(
        actor=desk.admin, field=field, label="Mine", expected=field_fingerprint(field)
    )
    assert updated.label == "Mine"

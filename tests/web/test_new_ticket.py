"""The new-ticket page: a phone call or a walk-in, opened by an agent for a customer."""

from __future__ import annotations

from typing import Any

import pytest

HX = {"HX-Request": "true"}


@pytest.fixture
def layouts(desk: Any) -> Any:
    """Books and Electronics share a subcategory field with different values, as in the demo."""
    from sportello.tickets.models import CustomField, LayoutField

    sub = CustomField.objects.create(
        key="subcategory",
        label="Subcategory",
        type="picklist",
        options=[
            {"value": v, "label": v.replace("_", " ").capitalize()}
            for v in ("novels", "textbooks", "phones", "laptops")
        ],
    )
    order = CustomField.objects.create(key="order_number", label="Order number", type="text")
    LayoutField.objects.create(department=desk.books, field=order, position=0)
    LayoutField.objects.create(
        department=desk.books, field=sub, position=1, allowed_values=["novels", "textbooks"]
    )
    LayoutField.objects.create(
        department=desk.electronics, field=sub, position=0, allowed_values=["phones", "laptops"]
    )
    return sub


def _post(desk: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "department": desk.books.pk,
        "requester": desk.alice.pk,
        "channel": "phone",
        "subject": "Called about a missing book",
        "priority": "high",
        "description": "The customer says the parcel had no book in it.",
        "cf_subcategory": "novels",
        "cf_order_number": "A-123",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_department_fields_show_its_own_subcategories(desk: Any, layouts: Any, browser: Any) -> None:
    client = browser(desk.admin)
    books = client.get("/tickets/new/fields/", {"department": desk.books.pk}, headers=HX).content.decode()
    electronics = client.get(
        "/tickets/new/fields/", {"department": desk.electronics.pk}, headers=HX
    ).content.decode()
    assert "Order number" in books
    assert "Novels" in books
    assert "Phones" not in books
    assert "Order number" not in electronics
    assert "Laptops" in electronics
    assert "Novels" not in electronics


def test_agent_opens_a_phone_ticket_for_an_existing_customer(desk: Any, layouts: Any, browser: Any) -> None:
    from sportello.tickets.models import Message, Ticket

    r = browser(desk.agent).post("/tickets/new/", _post(desk))
    ticket = Ticket.objects.get(subject="Called about a missing book")
    assert r.status_code == 302
    assert r["Location"] == f"/tickets/{ticket.pk}/"
    assert (ticket.channel, ticket.priority, ticket.requester_id) == ("phone", 3, desk.alice.pk)
    assert ticket.custom_fields == {"subcategory": "novels", "order_number": "A-123"}
    first = Message.objects.get(ticket=ticket)
    # the customer's words, public, recorded as theirs; the agent entered them
    assert (first.author_kind, first.author_contact_id, first.public, first.via) == (
        "contact",
        desk.alice.pk,
        True,
        "web",
    )
    assert ticket.events.get(kind="created").actor_id == desk.agent.pk


def test_htmx_post_redirects_the_page(desk: Any, layouts: Any, browser: Any) -> None:
    r = browser(desk.agent).post("/tickets/new/", _post(desk), headers=HX)
    assert r.status_code == 200
    assert r["HX-Redirect"].startswith("/tickets/")


def test_a_new_customer_is_created_inline(desk: Any, layouts: Any, browser: Any) -> None:
    from sportello.contacts.models import Contact
    from sportello.tickets.models import Ticket

    data = _post(
        desk,
        requester=None,
        new_name="Walter Walkin",
        new_email="walter@example.test",
        new_phone="+39 02 1234",
    )
    r = browser(desk.agent).post("/tickets/new/", data)
    assert r.status_code == 302
    walter = Contact.objects.get(email="walter@example.test")
    assert (walter.name, walter.phone) == ("Walter Walkin", "+39 02 1234")
    assert Ticket.objects.get(requester=walter).channel == "phone"


def test_errors_are_inline_and_keep_what_was_typed(desk: Any, layouts: Any, browser: Any) -> None:
    from sportello.contacts.models import Contact
    from sportello.tickets.models import Ticket

    # a subcategory of Electronics in Books, and no customer picked
    data = _post(desk, requester=None, new_name="Nadia New", cf_subcategory="phones")
    r = browser(desk.agent).post("/tickets/new/", data, headers=HX)
    html = r.content.decode()
    assert r.status_code == 422
    assert "Pick the customer, or give a new customer" in html
    assert "Select a valid choice" in html  # next to the subcategory
    assert 'value="Called about a missing book"' in html
    assert "The customer says the parcel had no book in it." in html
    assert 'value="Nadia New"' in html
    assert not Ticket.objects.exists()
    assert not Contact.objects.filter(name="Nadia New").exists()


def test_outside_department_is_refused_with_the_field_named(desk: Any, layouts: Any, browser: Any) -> None:
    from sportello.tickets.models import Ticket

    # Bruno (Books) cannot pick Electronics: it is not offered
    r = browser(desk.agent).post(
        "/tickets/new/", _post(desk, department=desk.electronics.pk, cf_subcategory=None)
    )
    assert r.status_code == 422
    assert "Select a valid choice" in r.content.decode()
    assert not Ticket.objects.exists()


def test_requester_suggestions(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).get("/tickets/new/requesters/", {"requester_q": "acme"}, headers=HX)
    html = r.content.decode()
    assert f'value="{desk.alice.pk}"' in html
    assert "Alice Acme" in html
    assert "Bob Example" not in html


def test_permissions(desk: Any, browser: Any, client: Any) -> None:
    assert browser(desk.light).get("/tickets/new/").status_code == 403
    assert browser(desk.light).post("/tickets/new/", _post(desk)).status_code == 403
    assert client.get("/tickets/new/").status_code == 302  # to the sign-in page
    page = browser(desk.outsider).get("/tickets/new/").content.decode()
    assert "Electronics" in page
    assert ">Books<" not in page


def test_top_bar_links_to_it_with_a_shortcut(desk: Any, browser: Any) -> None:
    html = browser(desk.agent).get("/").content.decode()
    assert 'href="/tickets/new/" data-shortcut="c"' in html
    assert 'href="/tickets/new/"' not in browser(desk.light).get("/").content.decode()

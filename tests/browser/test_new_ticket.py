"""Journeys: an agent takes a phone call and opens a ticket for the customer, in Books and in
Electronics, whose layouts offer different subcategories."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .axe import assert_accessible


@pytest.fixture
def layouts(desk: Any) -> None:
    from sportello.tickets.models import CustomField, LayoutField

    values = ("novels", "textbooks", "phones", "laptops")
    sub = CustomField.objects.create(
        key="subcategory",
        label="Subcategory",
        type="picklist",
        options=[{"value": v, "label": v.capitalize()} for v in values],
    )
    LayoutField.objects.create(
        department=desk.books, field=sub, required="to_solve", allowed_values=list(values[:2])
    )
    LayoutField.objects.create(
        department=desk.electronics, field=sub, required="to_solve", allowed_values=list(values[2:])
    )


def _open_phone_ticket(page: Any, *, department: str, subcategory: str, absent: str, subject: str) -> None:
    page.get_by_role("link", name="New ticket").click()
    page.wait_for_url("**/tickets/new/")
    page.get_by_label("Department").select_option(label=department)
    sub = page.get_by_label("Subcategory")
    sub.wait_for()
    options = sub.locator("option").all_inner_texts()
    assert subcategory in options
    assert absent not in options
    sub.select_option(label=subcategory)
    page.get_by_label("Find the customer").fill("alice")
    page.get_by_label("Alice Acme <alice@acme.test>").check()
    assert page.get_by_label("Channel").input_value() == "phone"
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("What the customer said").fill("She called: the order never arrived.")
    page.get_by_role("button", name="Create ticket").click()
    page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    assert page.get_by_role("heading", level=1).inner_text().endswith(subject)


def test_phone_tickets_in_books_and_electronics(desk: Any, layouts: Any, page: Any, sign_in: Any) -> None:
    from sportello.tickets.models import Message, Ticket

    sign_in(page, desk.admin)
    page.get_by_role("link", name="New ticket").click()
    assert_accessible(page, context="the new-ticket page")
    _open_phone_ticket(
        page, department="Books", subcategory="Novels", absent="Phones", subject="Novel never came"
    )
    _open_phone_ticket(
        page, department="Electronics", subcategory="Phones", absent="Novels", subject="Phone never came"
    )
    books, electronics = (
        Ticket.objects.get(subject="Novel never came"),
        Ticket.objects.get(subject="Phone never came"),
    )
    assert (books.department_id, books.custom_fields, books.channel) == (
        desk.books.pk,
        {"subcategory": "novels"},
        "phone",
    )
    assert (electronics.department_id, electronics.custom_fields) == (
        desk.electronics.pk,
        {"subcategory": "phones"},
    )
    first = Message.objects.get(ticket=books)
    assert (first.author_contact_id, first.body_text) == (
        desk.alice.pk,
        "She called: the order never arrived.",
    )


def test_a_refused_ticket_keeps_what_was_typed(desk: Any, layouts: Any, page: Any, sign_in: Any) -> None:
    sign_in(page, desk.agent)
    page.get_by_role("link", name="New ticket").click()
    page.get_by_label("Subject").fill("Walk-in about a torn cover")
    page.get_by_label("What the customer said").fill("The cover is torn.")
    page.get_by_role("button", name="Create ticket").click()
    page.get_by_text("Pick the customer, or give a new customer").wait_for()
    assert page.get_by_label("Subject").input_value() == "Walk-in about a torn cover"
    assert_accessible(page, context="the new-ticket page with errors")


def test_new_ticket_fits_a_phone(desk: Any, layouts: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/tickets/new/"))
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

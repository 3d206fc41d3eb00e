"""Search in a real browser: the top-bar box, highlighted snippets, filters, opening a result,
a ticket number that lands on the ticket, the page at phone width."""

from __future__ import annotations

import re
from typing import Any

from .axe import assert_accessible


def test_an_agent_searches_filters_and_opens_a_result(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any
) -> None:
    # given two tickets about a printer, one of them already solved, and one about a refund
    open_one = open_ticket("Printer on floor 2", description="The printer jams on every second page")
    solved = open_ticket("Old printer", description="Printer toner was empty", status="solved")
    open_ticket("Refund please", description="I want my money back")
    sign_in(page, desk.agent)

    # when the agent types a word in the top-bar box and presses Enter
    box = page.get_by_role("searchbox", name="Search tickets").first
    box.fill("printer")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=printer"))

    # then both printer tickets are listed with the word highlighted, the refund is not
    rows = page.locator("[data-row]")
    assert rows.count() == 2
    assert page.locator(".snippet mark").first.inner_text().lower() == "printer"
    assert "Refund please" not in page.content()
    assert page.get_by_text("Results 1\u20132 of 2 tickets").is_visible()
    assert_accessible(page, context="the search results")

    # when they keep only solved tickets (the filter searches again by itself)
    page.get_by_label("Status").select_option("solved")
    page.wait_for_url(re.compile(r"category=solved"))
    assert page.locator("[data-row]").count() == 1
    assert page.get_by_label("Status").evaluate("el => el === document.activeElement")

    # and open the result
    page.locator("[data-row-link]").first.click()
    page.wait_for_url(re.compile(rf"/tickets/{solved.pk}/$"))
    assert "Old printer" in page.get_by_role("heading", level=1).inner_text()
    assert open_one.pk != solved.pk


def test_a_ticket_number_lands_on_the_ticket(desk: Any, open_ticket: Any, page: Any, sign_in: Any) -> None:
    ticket = open_ticket("Broken kettle", description="It does not boil")
    sign_in(page, desk.agent)
    page.keyboard.press("/")
    box = page.get_by_role("searchbox", name="Search tickets").first
    assert box.evaluate("el => el === document.activeElement")
    page.keyboard.type(f"#{ticket.number}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/$"))
    assert "Broken kettle" in page.get_by_role("heading", level=1).inner_text()


def test_the_empty_search_page_advises_and_is_accessible(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    sign_in(page, desk.agent)
    page.goto(url("/search/?q=nothingatall&department=" + str(desk.books.pk)))
    assert page.get_by_text("Search again without the filters").is_visible()
    assert_accessible(page, context="a search without results")


def test_the_search_page_fits_a_phone(
    desk: Any, open_ticket: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    for i in range(3):
        open_ticket(f"Lamp number {i} with a rather long subject line", description="The lamp flickers " * 20)
    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/search/?q=lamp"))
    assert phone_page.locator("[data-row]").count() == 3
    overflow = phone_page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert_accessible(phone_page, context="the search page on a phone")

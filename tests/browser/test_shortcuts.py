"""Keyboard shortcuts in a real browser: `?` lists them in a dialog (focus kept inside, Escape
closes and gives the focus back), `j`/`k`/`o` walk and open the queue, `]`/`[` step through
its tickets, `g` `i` goes back to the queue, nothing fires while typing; the styled 404 page."""

from __future__ import annotations

import re
from typing import Any

from .axe import assert_accessible


def _focused(page: Any) -> str:
    active = "document.activeElement"
    return str(page.evaluate(f"{active} && ({active}.id || {active}.textContent.trim())"))


def test_question_mark_opens_the_help_listing_the_shortcuts(desk: Any, page: Any, sign_in: Any) -> None:
    sign_in(page, desk.agent)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert "Search tickets" in text  # the top-bar box is tagged "/"
    assert "Go to the queue" in text
    assert_accessible(page, context="the shortcuts help dialog")
    # the focus stays in the dialog
    assert _focused(page) == "Close"
    page.keyboard.press("Tab")
    assert _focused(page) == "Close"
    page.keyboard.press("Shift+Tab")
    assert _focused(page) == "Close"
    # Escape closes it and the focus goes back where it was
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert _focused(page) != "Close"


def test_the_close_button_closes_the_help_and_restores_focus(desk: Any, page: Any, sign_in: Any) -> None:
    sign_in(page, desk.agent)
    page.get_by_role("link", name="Queue").focus()
    page.keyboard.press("?")
    page.get_by_role("button", name="Close").click()
    assert not page.get_by_role("dialog").is_visible()
    assert _focused(page) == "Queue"


def test_shortcuts_do_not_fire_while_typing(desk: Any, page: Any, sign_in: Any) -> None:
    sign_in(page, desk.agent)
    box = page.get_by_role("searchbox", name="Search tickets").first
    box.click()
    page.keyboard.type("?jk/gi")
    assert box.input_value() == "?jk/gi"
    assert not page.get_by_role("dialog").is_visible()


def test_j_k_walk_the_queue_o_opens_and_brackets_step_through_its_tickets(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    # given three tickets in the queue, most urgent first
    first = open_ticket("First in queue", description="one", priority="urgent")
    second = open_ticket("Second in queue", description="two", priority="high")
    third = open_ticket("Third in queue", description="three", priority="low")
    sign_in(page, desk.agent)
    rows = page.locator("[data-row]")
    assert rows.count() == 3

    # j moves down the rows, k back up; the current row is marked and its link focused
    page.keyboard.press("j")
    assert "is-current" in (rows.nth(0).get_attribute("class") or "")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert "is-current" in (rows.nth(1).get_attribute("class") or "")
    assert "is-current" not in (rows.nth(0).get_attribute("class") or "")
    assert "Second in queue" in _focused(page)

    # o opens it
    page.keyboard.press("o")
    page.wait_for_url(re.compile(rf"/tickets/{second.pk}/$"))

    # ] goes to the next ticket of the queue, [ to the previous one
    page.keyboard.press("]")
    page.wait_for_url(re.compile(rf"/tickets/{third.pk}/$"))
    page.keyboard.press("[")
    page.wait_for_url(re.compile(rf"/tickets/{second.pk}/$"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf"/tickets/{first.pk}/$"))
    # before the first there is nothing: a message says so and the page stays
    page.keyboard.press("[")
    assert page.get_by_text("This is the first ticket of the list.").is_visible()
    assert page.url.endswith(f"/tickets/{first.pk}/")

    # g then i goes back to the queue
    page.keyboard.press("g")
    page.keyboard.press("i")
    page.wait_for_url(url("/"))
    assert page.locator("[data-row]").count() == 3


def test_enter_opens_the_current_search_result(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    ticket = open_ticket("Lamp flickers", description="the lamp")
    sign_in(page, desk.agent)
    page.goto(url("/search/?q=lamp"))
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/$"))


def test_a_missing_page_is_the_styled_404_with_a_way_back(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    sign_in(page, desk.agent)
    response = page.goto(url("/no/such/page/"))
    assert response is not None
    assert response.status == 404
    assert page.get_by_role("heading", name="This page does not exist").is_visible()
    assert_accessible(page, context="the 404 page")
    page.get_by_role("link", name="Back to the queue").click()
    page.wait_for_selector("h1")
    assert "/no/such/page/" not in page.url

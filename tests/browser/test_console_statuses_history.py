"""Statuses and the history of the desk's set-up in a real browser: an admin creates a status,
moves it up its category with the keyboard alone (the focus stays on the arrow pressed), renames
a department, then restores its former name from the department's history. Accessible, and fits
a phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_creates_and_reorders_a_status_then_reverts_a_department(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.accounts.models import Department
    from sportello.tickets.models import Status

    sign_in(page, desk.admin)
    page.goto(url("/console/statuses/"))
    assert_accessible(page, context="the statuses")
    page.get_by_role("link", name="New status").click()
    page.wait_for_url(url("/console/statuses/new/"))
    page.locator("#id_key").fill("waiting_parts")
    page.locator("#id_name").fill("Waiting for parts")
    page.locator("#id_category").select_option("on_hold")
    assert_accessible(page, context="a new status")
    page.get_by_role("button", name="Create the status").click()
    page.get_by_text("Status “Waiting for parts” created.").wait_for()
    made = Status.objects.get(key="waiting_parts")
    # by keyboard: the focus lands on the ↑ button, Enter moves it, the focus comes back to it
    up = page.get_by_role("button", name="Move “Waiting for parts” up")
    up.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: f"moved={made.pk}" in u)
    assert (
        page.evaluate("document.activeElement.getAttribute('aria-label')") == "Move “Waiting for parts” down"
    )
    on_hold = list(
        Status.objects.filter(category="on_hold").order_by("position", "id").values_list("key", flat=True)
    )
    assert on_hold == ["waiting_parts", "on_hold"]
    shot(page, "console-statuses")
    assert_accessible(page, context="the statuses after a move")
    # edit the status: the editor links to its history
    page.get_by_role("link", name="Edit Waiting for parts").click()
    page.get_by_role("link", name="History", exact=True).wait_for()
    shot(page, "console-status-edit")
    assert_accessible(page, context="a status's editor")

    # rename a department, then restore its name from its history
    page.goto(url(f"/console/departments/{desk.books.pk}/"))
    page.locator("#id_name").fill("Bookshop")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Department “Bookshop” saved.").wait_for()
    page.goto(url(f"/console/departments/{desk.books.pk}/"))
    page.get_by_role("link", name="History", exact=True).click()
    page.wait_for_url(url("/console/history/departments/books/"))
    assert_accessible(page, context="a department's history")
    page.get_by_role("link", name="Restore… version 1").click()
    page.get_by_text("Books").first.wait_for()
    assert_accessible(page, context="restoring a department's version")
    page.get_by_role("button", name="Restore").click()
    page.get_by_text("Version 1 restored: it is now version 3.").wait_for()
    assert Department.objects.get(pk=desk.books.pk).name == "Books"
    shot(page, "console-department-history")


def test_the_statuses_and_a_status_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    from sportello.tickets.models import Status

    sign_in(phone_page, desk.admin)
    phone_page.goto(url("/console/statuses/"))
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the statuses on a phone")
    shot(phone_page, "console-statuses-phone")
    phone_page.goto(url(f"/console/statuses/{Status.objects.get(key='pending').pk}/"))
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="a status on a phone")
    shot(phone_page, "console-status-edit-phone")

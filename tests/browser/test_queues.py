"""The queue page in a real browser: views with counts, sorting and paging with the back button,
and a bulk change of 50 tickets through "select all in this view"."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from .axe import assert_accessible

SHOTS = os.environ.get("QUEUES_SCREENSHOTS")  # a directory: save what the journeys see


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def _open(desk: Any, open_ticket: Any, n: int, *, prefix: str = "Ticket") -> list[Any]:
    priorities = ["low", "normal", "high", "urgent"]
    return [
        open_ticket(
            f"{prefix} {i:02d} about an order",
            description="Where is it?",
            requester=desk.alice if i % 2 else desk.bob,
            priority=priorities[i % 4],
            tags=["order"] if i % 3 == 0 else [],
            minutes_ago=200 - i,
        )
        for i in range(n)
    ]


def test_bulk_update_of_50_tickets_sets_them_pending(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sportello.queues import views

    monkeypatch.setattr(views, "PAGE_SIZE", 20)
    # given 50 unresolved tickets in Books, 20 to a page
    _open(desk, open_ticket, 50)
    sign_in(page, desk.agent)
    page.goto(url("/"))
    assert page.get_by_role("heading", level=1).inner_text() == "All unresolved"
    assert page.locator("tr[data-row]").count() == 20
    _shot(page, "queue")
    # when the agent selects the page, then every ticket of the view
    page.get_by_label("Select every ticket on this page").check()
    page.get_by_role("button", name="Select all 50 tickets in this view").click()
    assert page.locator("[data-selected-count]").inner_text() == "50 selected"
    # and sets them Pending
    page.get_by_label("Change", exact=True).select_option("status")
    page.get_by_label("New status").select_option("pending")
    _shot(page, "bulk")
    with page.expect_response(
        lambda r: "/queues/bulk/" in r.url and r.request.method == "POST", timeout=90_000
    ) as posted:
        page.get_by_role("button", name="Apply to selected").click()
    assert posted.value.status == 200, posted.value.text()
    _shot(page, "after-apply")
    # then the summary says all 50 changed, and the view and its count follow
    page.get_by_text("50 tickets changed.").wait_for(timeout=90_000)
    page.locator("tr[data-row] .cat-pending").first.wait_for()
    assert page.locator("tr[data-row] .cat-new").count() == 0
    assert not page.get_by_role("button", name="Select all 50 tickets in this view").is_visible()
    pending = page.locator(".qv-list a", has_text="Pending")
    pending.locator(".qv-count", has_text="50").wait_for()
    from sportello.tickets.models import Ticket

    assert Ticket.objects.filter(status_category="pending").count() == 50
    _shot(page, "bulk-done")
    assert_accessible(page, context="the queue after a bulk change")


def test_open_a_view_sort_page_and_go_back(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sportello.queues import views

    monkeypatch.setattr(views, "PAGE_SIZE", 20)
    tickets = _open(desk, open_ticket, 30)
    sign_in(page, desk.agent)
    page.goto(url("/"))
    # when the agent opens the VIP view (Alice's organization is VIP: 15 tickets)
    page.locator(".qv-list a", has_text="VIP").click()
    assert page.get_by_role("heading", level=1).inner_text() == "VIP"
    assert page.locator("tr[data-row]").count() == 15
    # and sorts by number, ascending
    page.get_by_role("link", name="Number").click()
    page.wait_for_url(lambda u: "sort=number" in u)
    header = page.locator("th", has=page.get_by_role("link", name="Number"))
    assert header.get_attribute("aria-sort") == "ascending"
    vip_numbers = sorted(t.number for t in tickets if t.requester_id == desk.alice.pk)
    first = page.locator("tr[data-row] .num").first.inner_text()
    assert first == f"#{vip_numbers[0]}"
    # then All unresolved, by subject, and the next page
    page.locator(".qv-list a", has_text="All unresolved").click()
    page.get_by_role("link", name="Subject").click()
    page.wait_for_url(lambda u: "sort=subject" in u)
    assert page.locator("tr[data-row] a[data-row-link]").first.inner_text() == "Ticket 00 about an order"
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(lambda u: "cursor=" in u)
    assert page.locator("tr[data-row]").count() == 10
    assert page.locator("tr[data-row] a[data-row-link]").first.inner_text() == "Ticket 20 about an order"
    _shot(page, "sorted-page-2")
    # and the back button returns to the first page, sorted by subject
    page.go_back()
    page.wait_for_url(lambda u: "cursor=" not in u and "sort=subject" in u)
    page.locator("tr[data-row] a[data-row-link]", has_text="Ticket 00").wait_for()
    assert page.locator("tr[data-row]").count() == 20
    assert_accessible(page, context="a sorted view")


def test_the_queue_stacks_rows_at_phone_width(
    desk: Any, open_ticket: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    _open(desk, open_ticket, 6)
    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/"))
    assert phone_page.locator("tr[data-row]").count() == 6
    _shot(phone_page, "phone")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    # a card lists what a ticket has, not labels without a value (no SLA clock here)
    assert phone_page.locator("td.qt-department").first.is_visible()
    assert not phone_page.locator("td.qt-sla").first.is_visible()
    assert not phone_page.get_by_role("button", name="Select all 6 tickets in this view").is_visible()
    assert_accessible(phone_page, context="the queue at phone width")


def test_the_default_columns_fit_1440_px_and_a_wider_set_scrolls_inside_the_table(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    # given 24 unresolved tickets, one with a long subject
    _open(desk, open_ticket, 23)
    _open(
        desk, open_ticket, 1, prefix="A customer writes that the parcel arrived damaged and wants a refund,"
    )
    sign_in(page, desk.agent)
    page.goto(url("/"))
    table = page.locator("table[data-queue-table]")
    # the default columns fit the window: no sideways scroll, in the page or in the table
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    box = page.locator(".qv-scroll")
    assert box.evaluate("el => el.scrollWidth <= el.clientWidth")
    # the subject takes the free width: at least 45 characters of it are readable
    link = page.locator("td.qt-subject a", has_text="parcel arrived damaged")
    readable = link.evaluate(
        """a => { const s = document.createElement('span'); s.style.font = getComputedStyle(a).font;
                  s.style.whiteSpace = 'pre'; s.textContent = a.textContent.trim().slice(0, 45);
                  document.body.appendChild(s); const w = s.getBoundingClientRect().width; s.remove();
                  return [w, a.clientWidth]; }"""
    )
    assert readable[0] <= readable[1], readable
    # dates are short, with the exact instant on hover
    updated = page.locator("td.qt-updated time").first
    assert re.fullmatch(r"\d+ (min|h|d)|now", updated.locator("[aria-hidden=true]").inner_text())
    assert updated.get_attribute("title")
    # and at least 20 rows are in view at 1440x900
    in_view = page.evaluate(
        "() => [...document.querySelectorAll('tr[data-row]')]"
        ".filter(r => r.getBoundingClientRect().bottom <= innerHeight).length"
    )
    assert in_view >= 20
    _shot(page, "queue-1440")
    # when the agent saves a view of their own and adds three columns
    page.locator("summary", has_text="Save as view").click()
    page.get_by_label("View name").fill("Mine, wide")
    page.get_by_role("button", name="Save view").click()
    page.locator("h1", has_text="Mine, wide").wait_for()
    page.locator("summary", has_text="Columns").click()
    for name in ("Team", "Created", "Channel"):
        page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Save columns").click()
    page.locator("th.qt-channel").wait_for()
    assert "qt-wide" in (table.get_attribute("class") or "")
    # then the table scrolls sideways inside its own box, not the page
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")
    # and the number and the subject stay in place while it scrolls
    number, subject = page.locator("td.qt-number").first, page.locator("td.qt-subject").first
    before = (number.bounding_box(), subject.bounding_box())
    box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    after = (number.bounding_box(), subject.bounding_box())
    assert [b["x"] for b in before if b] == [a["x"] for a in after if a]
    assert page.locator("td.qt-channel").first.bounding_box()["x"] < 1440
    assert_accessible(page, context="the queue with a wide column set")

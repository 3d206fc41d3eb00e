"""The customer in a real browser: "See all" from the ticket's customer panel opens the queue
narrowed to the requester, whose chip removes the filter (and the back button returns); a caller
known only by their phone is told apart in the composer. Zero axe-core violations throughout."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible


def _open(desk: Any, subject: str, requester: Any, minutes_ago: int = 0) -> Any:
    from datetime import timedelta

    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_open

    data = {"subject": subject, "description": "Hello", "department_id": desk.books.pk}
    return ticket_open(
        principal=desk.admin,
        via=Via.WEB,
        data={**data, "requester_id": requester.pk},
        now=clock.now() - timedelta(minutes=minutes_ago),
    ).ticket


def test_see_all_opens_the_queue_of_the_requester_and_the_chip_removes_it(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    # given three tickets of Alice and one of Bob
    for i in range(2):
        _open(desk, f"Alice earlier {i}", desk.alice, minutes_ago=30 - i)
    _open(desk, "Bob's question", desk.bob, minutes_ago=20)
    current = _open(desk, "Alice now", desk.alice)
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{current.pk}/"))
    assert_accessible(page)
    # when the agent follows "See all" in the customer panel
    page.get_by_role("link", name="See all 3 tickets in your departments").click()
    page.get_by_role("heading", level=1, name="Tickets of Alice Acme").wait_for()
    # then the queue lists Alice's tickets only, named by a chip
    rows = page.locator("tr[data-row]")
    assert rows.count() == 3
    assert "Bob's question" not in page.locator("#queue").inner_text()
    assert_accessible(page)
    # picking a status keeps the requester
    page.get_by_label("Status").select_option("new")
    page.wait_for_function("document.querySelectorAll('tr[data-row]').length === 3")
    assert "requester=" in page.url
    # the chip's remove link drops it: Bob's ticket is back
    page.get_by_role("link", name="Remove the filter Alice Acme").click()
    page.get_by_text("Bob's question").wait_for()
    assert "requester=" not in page.url
    # and the back button returns to Alice's tickets
    page.go_back()
    page.get_by_role("heading", level=1, name="Tickets of Alice Acme").wait_for()


def test_the_composer_tells_a_phone_only_customer_is_not_emailed(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.contacts.services import contact_create

    caller = contact_create(name="Carlo Caller", phone="+39 02 8088 1234")
    ticket = _open(desk, "Parcel lost", caller)
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    note = page.locator(".no-email")
    assert note.is_visible()
    assert "call them on +39 02 8088 1234" in note.inner_text()
    assert_accessible(page)
    # in note mode the notice goes: a note is never e-mailed to anyone
    page.locator("label.choice-internal").click()
    assert not note.is_visible()

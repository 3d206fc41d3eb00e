"""Journeys: a customer's e-mail appears on an open ticket page without a reload, with the
composer's text kept; a colleague opening the ticket shows as viewing, then replying."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .axe import assert_accessible

WAIT_MS = 25_000  # the page polls every 8 s


def test_a_new_customer_message_appears_without_a_reload(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.tickets import services

    ticket = open_ticket("Parcel lost", description="Where is my parcel?")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    page.locator("#reply-form textarea").fill("Half-written answer")
    # the customer writes again, by e-mail
    services.message_add(
        principal=desk.alice,
        ticket_id=ticket.pk,
        via=Via.EMAIL,
        body="Found it at the neighbour's, thanks!",
        body_html="",
        public=True,
        attachment_ids=[],
        version=None,
        now=clock.now() + timedelta(seconds=1),
    )
    page.get_by_text("Found it at the neighbour's, thanks!").wait_for(timeout=WAIT_MS)
    assert page.locator("#reply-form textarea").input_value() == "Half-written answer"
    page.locator("#toasts").get_by_text("This ticket was updated").wait_for()
    assert_accessible(page, context="the ticket page after a live update")


def test_a_colleague_shows_as_viewing_then_replying(
    desk: Any,
    open_ticket: Any,
    page: Any,
    sign_in: Any,
    url: Any,
    _chromium: Any,  # noqa: PT019
) -> None:
    ticket = open_ticket("Parcel lost")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    other = _chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    try:
        colleague = other.new_page()
        colleague.set_default_timeout(10_000)
        sign_in(colleague, desk.admin)
        colleague.goto(url(f"/tickets/{ticket.pk}/"))
        page.locator(".presence").get_by_text("Ada Admin is viewing").wait_for(timeout=WAIT_MS)
        colleague.locator("#reply-form textarea").fill("I'll take this one")
        page.locator(".presence").get_by_text("Ada Admin is replying").wait_for(timeout=WAIT_MS)
        assert_accessible(page, context="the ticket page with a colleague replying")
    finally:
        other.close()

"""An agent's day in one journey, as issue-level proof that the Desk's parts work together: sign
in → My open tickets → reply with an attachment and "Send and set Pending" → the customer answers
by e-mail through the real intake and the thread updates without a reload → a macro, previewed
then applied → "Send and set Solved"."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest

from .axe import assert_accessible

WAIT_MS = 25_000  # the ticket page polls every 8 s


@pytest.fixture
def mailbox(desk: Any, settings: Any, tmp_path: Any) -> Any:
    """The Books mailbox, raw mail kept under the test's own directory."""
    from sportello.channels.models import Mailbox
    from sportello.core import clock

    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files"), "base_url": None},
        },
    }
    return Mailbox.objects.create(address="books@shop.test", department=desk.books, created_at=clock.now())


def _customer_mail(*, ticket: Any, body: str) -> bytes:
    from sportello.core import clock

    m = EmailMessage()
    m["From"] = "Alice Acme <alice@acme.test>"
    m["To"] = "books@shop.test"
    m["Subject"] = f"Re: [#{ticket.number}] {ticket.subject}"
    m["Date"] = format_datetime(clock.now())
    m["Message-ID"] = f"<day-{ticket.pk}@acme.test>"
    m.set_content(body)
    return m.as_bytes()


def test_an_agents_day(desk: Any, mailbox: Any, page: Any, sign_in: Any, url: Any, tmp_path: Any) -> None:
    from sportello.automation import macros
    from sportello.channels.inbound import mail_ingest
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.tickets.models import Message
    from sportello.tickets.services import ticket_open

    # given a ticket of Alice's assigned to Bruno, a colleague's unassigned one, and a macro
    mine = ticket_open(
        principal=desk.admin,
        via=Via.WEB,
        data={
            "subject": "Where is my order?",
            "description": "It has not arrived yet.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "assignee_id": desk.agent.pk,
        },
        now=clock.now(),
    ).ticket
    ticket_open(
        principal=desk.admin,
        via=Via.WEB,
        data={
            "subject": "Gift wrapping",
            "description": "Can you wrap it?",
            "department_id": desk.books.pk,
            "requester_id": desk.bob.pk,
        },
        now=clock.now(),
    )
    macros.macro_create(
        definition={
            "key": "courier-claim",
            "name": "Open a courier claim",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"add_tags": ["courier_claim"]},
            ],
        },
        actor=desk.admin,
        now=clock.now(),
    )

    # Bruno signs in and opens My open tickets: only his ticket is there
    sign_in(page, desk.agent)
    page.get_by_role("link", name="My open tickets").click()
    page.get_by_role("heading", level=1, name="My open tickets").wait_for()
    rows = page.locator("tr[data-row]")
    assert rows.count() == 1
    assert "Gift wrapping" not in page.locator("table").inner_text()
    assert_accessible(page, context="My open tickets")
    rows.first.get_by_role("link", name="Where is my order?").click()
    page.wait_for_url(f"**/tickets/{mine.pk}/")

    # he replies with a receipt attached and "Send and set Pending"
    composer = page.locator("#reply-form")
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("Shipped on 3 May, tracking 123.")
    composer.locator("[data-file-input]").set_input_files(str(receipt))
    composer.locator("[data-upload].done").wait_for()
    composer.get_by_label("Message").fill("It left our warehouse on 3 May; the receipt is attached.")
    composer.get_by_label("Send and set a status").first.click()
    composer.get_by_role("button", name="Send and set Pending").click()
    page.locator(".messages li.message.author-agent", has_text="left our warehouse").wait_for()
    mine.refresh_from_db()
    assert mine.status.key == "pending"

    # Alice answers by e-mail: through the intake, onto this ticket, which reopens, and the open
    # page shows it without a reload while Bruno's half-written text stays
    page.locator("#reply-form").get_by_label("Message").fill("Let me check with the courier")
    result = mail_ingest(
        raw=_customer_mail(ticket=mine, body="Still nothing here, and the tracking page is blank."),
        via="mta",
        now=clock.now(),
        mailbox=mailbox,
    )
    assert (result.status, result.ticket_id) == ("reply", mine.pk)
    page.locator(".messages li.message", has_text="tracking page is blank").wait_for(timeout=WAIT_MS)
    assert page.locator("#reply-form").get_by_label("Message").input_value() == (
        "Let me check with the courier"
    )
    mine.refresh_from_db()
    assert mine.status_category == "open"

    # he previews the macro, sees exactly what it changes, applies it
    composer = page.locator("#reply-form")
    composer.locator("summary", has_text="Macros").click()
    composer.get_by_role("button", name="Open a courier claim").click()
    dialog = page.locator("#macro-dialog")
    dialog.get_by_role("heading", name="Apply “Open a courier claim”?").wait_for()
    assert "courier_claim" in dialog.inner_text()
    mine.refresh_from_db()
    assert mine.priority == 2  # the preview wrote nothing
    dialog.get_by_role("button", name="Apply").click()
    page.locator("#macro-dialog").wait_for(state="hidden")
    mine.refresh_from_db()
    assert mine.priority == 3
    assert list(mine.tags.values_list("name", flat=True)) == ["courier_claim"]

    # and solves it with the answer
    page.reload()
    composer = page.locator("#reply-form")
    composer.get_by_label("Message").fill("The courier found it: it arrives tomorrow.")
    composer.get_by_label("Send and set a status").first.click()
    composer.get_by_role("button", name="Send and set Solved").click()
    page.locator(".messages li.message.author-agent", has_text="arrives tomorrow").wait_for()
    mine.refresh_from_db()
    assert mine.status_category == "solved"
    rows = Message.objects.filter(ticket=mine).order_by("id").values_list("public", "body_text")
    bodies = [(public, text.strip()) for public, text in rows]
    assert bodies[-3:] == [
        (True, "It left our warehouse on 3 May; the receipt is attached."),
        (True, "Still nothing here, and the tracking page is blank."),
        (True, "The courier found it: it arrives tomorrow."),
    ]
    assert_accessible(page, context="the ticket after the day's work")

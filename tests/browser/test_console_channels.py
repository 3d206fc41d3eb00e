"""The Console's quarantine in a real browser: an admin finds a held message, reads its text,
releases it into the desk (a ticket opens), then discards another after the confirmation. The
pages have no accessibility violations and fit a 390 px wide phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot

BOOKS = "books@shop.test"


@pytest.fixture
def held(desk: Any, settings: Any, attachment_store: Path) -> dict[str, int]:
    from email.message import EmailMessage

    from sportello.channels.inbound import mail_ingest
    from sportello.channels.models import Mailbox
    from testing import NOW

    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    Mailbox.objects.create(address=BOOKS, department=desk.books, created_at=NOW)

    def ingest(sender: str, to: str, subject: str, body: str, mid: str) -> int:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["Message-ID"] = sender, to, subject, mid
        m.set_content(body)
        result = mail_ingest(raw=m.as_bytes(), via="mta", now=NOW)
        assert result.status == "quarantine"
        return result.inbound_id

    return {
        "agent": ingest(
            "Bruno Books <bruno@desk.test>",
            BOOKS,
            "Fwd: the customer's complaint about a torn cover",
            "Forwarding what Carla sent me:\n\n> The cover of my book arrived torn. Can you send another?",
            "<fwd-1@desk.test>",
        ),
        "stray": ingest(
            "Win Big <promo@lottery.test>",
            "sales-team-with-a-long-address@elsewhere.test",
            "You have won a prize, claim it now before it expires",
            "Click here: https://lottery.test/claim",
            "<promo-1@lottery.test>",
        ),
    }


def test_an_admin_releases_a_held_message_and_discards_another(
    desk: Any, held: dict[str, int], page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.channels.models import InboundMail
    from sportello.tickets.models import Ticket

    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Quarantine").click()
    page.wait_for_url(url("/console/quarantine/"))
    assert "From an agent's address" in page.locator(f"#held-{held['agent']}").inner_text()
    assert "Not sent to one of our mailboxes" in page.locator(f"#held-{held['stray']}").inner_text()
    assert_accessible(page, context="the quarantine")
    shot(page, "console-quarantine")
    # only the messages from agents' addresses
    page.get_by_label("Reason").select_option("agent")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "reason=agent" in u)
    assert page.locator(f"#held-{held['stray']}").count() == 0
    # she reviews Bruno's forward: its text, and what releasing does
    page.locator(f"#held-{held['agent']}").get_by_role("link", name="Review").click()
    page.get_by_role("heading", name="Fwd: the customer's complaint about a torn cover").wait_for()
    assert "The cover of my book arrived torn." in page.locator(".quarantine-preview").inner_text()
    assert_accessible(page, context="a held message")
    shot(page, "console-quarantine-message")
    page.get_by_role("button", name="Release into the desk").click()
    page.wait_for_url(url("/console/quarantine/"))
    ticket_id = InboundMail.objects.get(pk=held["agent"]).ticket_id
    assert ticket_id is not None
    ticket = Ticket.objects.get(pk=ticket_id)
    page.get_by_text(f"Released: it opened ticket #{ticket.number}.").wait_for()
    assert page.locator(f"#held-{held['agent']}").count() == 0
    # the stray promotion: discarded after the confirmation
    page.locator(f"#held-{held['stray']}").get_by_role("link", name="Review").click()
    page.get_by_label("Take it in at").wait_for()
    page.get_by_role("link", name="Discard…").click()
    page.get_by_role("heading", name="Discard the message from promo@lottery.test?").wait_for()
    assert_accessible(page, context="the discard's confirmation")
    page.get_by_role("button", name="Discard message").click()
    page.get_by_text("Discarded the message from promo@lottery.test.").wait_for()
    page.get_by_text("Nothing is held").wait_for()
    assert InboundMail.objects.get(pk=held["stray"]).status == "ignored"
    assert_accessible(page, context="the empty quarantine")


def test_a_release_that_needs_a_mailbox_says_so_next_to_it(
    desk: Any, held: dict[str, int], page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.channels.models import InboundMail

    sign_in(page, desk.admin)
    page.goto(url(f"/console/quarantine/{held['stray']}/"))
    page.get_by_role("button", name="Release into the desk").click()
    page.locator("#release-error").wait_for()
    assert "not addressed to any of our mailboxes" in page.locator("#release-error").inner_text()
    assert_accessible(page, context="a refused release")
    page.get_by_label("Take it in at").select_option(label=f"{BOOKS} (Books)")
    page.get_by_role("button", name="Release into the desk").click()
    page.wait_for_url(url("/console/quarantine/"))
    page.get_by_text("Released: it opened ticket").wait_for()
    assert InboundMail.objects.get(pk=held["stray"]).status == "ticket"


def test_the_quarantine_fits_a_phone(
    desk: Any, held: dict[str, int], phone_page: Any, sign_in: Any, url: Any
) -> None:
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/quarantine/",
        f"/console/quarantine/{held['stray']}/",
        f"/console/quarantine/{held['agent']}/discard/",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.goto(url(f"/console/quarantine/{held['stray']}/"))
    shot(phone_page, "console-quarantine-phone")

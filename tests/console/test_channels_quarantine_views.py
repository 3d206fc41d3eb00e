"""The Console's quarantine pages: admins only; the list by reason with a fixed statement count;
a held message's page with its text (never its HTML); release and discard from the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quarantine_mail import BOOKS, mail
from sportello.channels.inbound import mail_ingest
from sportello.channels.models import InboundMail, Mailbox
from sportello.tickets.models import Ticket, TicketEvent
from testing import NOW

# session, user, the page's held messages with their mailboxes
QUARANTINE = 3


@pytest.fixture(autouse=True)
def _mail(settings: Any, attachment_store: Path, desk: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    Mailbox.objects.create(address=BOOKS, department=desk.books, created_at=NOW)


def held(raw: bytes) -> InboundMail:
    result = mail_ingest(raw=raw, via="mta", now=NOW)
    assert result.status == "quarantine", result
    return InboundMail.objects.get(pk=result.inbound_id)


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_only_admins_reach_the_quarantine(desk: Any, browser: Any, client: Any) -> None:
    row = held(mail(sender="bruno@desk.test"))
    urls = [
        "/console/quarantine/",
        f"/console/quarantine/{row.pk}/",
        f"/console/quarantine/{row.pk}/discard/",
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # signed out: the login page
        assert "/login/" in client.get(url)["Location"]
        for who in (desk.agent, desk.light):
            assert browser(who).get(url).status_code == 403
        assert browser(desk.admin).get(url).status_code == 200
    for who in (desk.agent, desk.light):
        assert browser(who).post(f"/console/quarantine/{row.pk}/release/").status_code == 403
        assert browser(who).post(f"/console/quarantine/{row.pk}/discard/").status_code == 403
    row.refresh_from_db()
    assert row.status == "quarantine"


def test_the_list_shows_held_messages_with_their_reason_filtered(desk: Any, browser: Any) -> None:
    agent = held(mail(sender="bruno@desk.test", subject="From Bruno", message_id="<a@x>"))
    stray = held(mail(to="else@else.test", subject="Stray", message_id="<b@x>"))
    client = browser(desk.admin)
    page = client.get("/console/quarantine/")
    text = page.content.decode()
    assert f'id="held-{agent.pk}"' in text
    assert f'id="held-{stray.pk}"' in text
    assert "From an agent&#x27;s address" in text
    assert "Not sent to one of our mailboxes" in text
    only = client.get("/console/quarantine/?reason=agent").content.decode()
    assert f'id="held-{agent.pk}"' in only
    assert f'id="held-{stray.pk}"' not in only
    none = client.get("/console/quarantine/?reason=throttled").content.decode()
    assert "No held message has this reason" in none
    assert client.get("/console/quarantine/?reason=nonsense").status_code == 200
    assert client.get("/console/quarantine/?cursor=garbage").status_code == 400


def test_an_empty_quarantine_says_so(desk: Any, browser: Any) -> None:
    page = browser(desk.admin).get("/console/quarantine/").content.decode()
    assert "Nothing is held" in page


def test_the_list_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    held(mail(sender="bruno@desk.test", message_id="<q0@x>"))
    few = count(lambda: client.get("/console/quarantine/"))
    for i in range(1, 8):
        held(mail(to="else@else.test" if i % 2 else BOOKS, sender="bruno@desk.test", message_id=f"<q{i}@x>"))
    many = count(lambda: client.get("/console/quarantine/"))
    assert few == many == QUARANTINE
    assert count(lambda: client.get("/console/quarantine/?reason=agent")) == QUARANTINE


def test_a_later_page_costs_what_the_first_does(desk: Any, browser: Any, monkeypatch: Any) -> None:
    from sportello.console import channels

    monkeypatch.setattr(channels, "PAGE_SIZE", 2)
    for i in range(5):
        held(mail(sender="bruno@desk.test", message_id=f"<p{i}@x>"))
    client = browser(desk.admin)
    next_url = client.get("/console/quarantine/").context["next_url"]
    assert count(lambda: client.get(next_url)) == QUARANTINE


def test_a_held_messages_page_shows_its_text_never_its_html(desk: Any, browser: Any) -> None:
    html = '<p>Hello <b>there</b></p><script>alert("x")</script><img src="https://track.test/p.png">'
    row = held(mail(sender="bruno@desk.test", body="", html=html))
    page = browser(desk.admin).get(f"/console/quarantine/{row.pk}/").content.decode()
    assert "Hello there" in page
    assert "track.test" not in page
    assert "<script>alert" not in page
    assert "Release into the desk" in page
    assert browser(desk.admin).get("/console/quarantine/999999/").status_code == 404


def test_releasing_from_the_page_opens_a_ticket_via_the_web(desk: Any, browser: Any) -> None:
    row = held(mail(sender="bruno@desk.test", subject="Please look"))
    client = browser(desk.admin)
    reply = client.post(f"/console/quarantine/{row.pk}/release/")
    assert reply.status_code == 302
    assert reply["Location"] == "/console/quarantine/"
    row.refresh_from_db()
    assert row.ticket_id is not None
    ticket = Ticket.objects.get(pk=row.ticket_id)
    event = TicketEvent.objects.get(ticket=ticket, kind="mail", field="released")
    assert event.via == "web"
    listed = client.get("/console/quarantine/").content.decode()
    assert f"Released: it opened ticket #{ticket.number}." in listed
    assert f'id="held-{row.pk}"' not in listed
    # the message's page now says what became of it
    page = client.get(f"/console/quarantine/{row.pk}/").content.decode()
    assert f"/tickets/{ticket.pk}/" in page
    assert "Release into the desk" not in page
    # released again (another tab): nothing more
    again = client.post(f"/console/quarantine/{row.pk}/release/", follow=True).content.decode()
    assert "no longer held" in again
    assert Ticket.objects.count() == 1


def test_a_release_that_still_cannot_be_placed_says_why_next_to_the_field(desk: Any, browser: Any) -> None:
    row = held(mail(to="else@else.test", subject="Stray"))
    client = browser(desk.admin)
    reply = client.post(f"/console/quarantine/{row.pk}/release/", {"mailbox": ""})
    assert reply.status_code == 422
    text = reply.content.decode()
    assert 'id="release-error"' in text
    assert "not addressed to any of our mailboxes" in text
    assert client.post(f"/console/quarantine/{row.pk}/release/", {"mailbox": "x"}).status_code == 422
    assert client.post(f"/console/quarantine/{row.pk}/release/", {"mailbox": "99999"}).status_code == 422
    row.refresh_from_db()
    assert row.status == "quarantine"
    box = Mailbox.objects.get(address=BOOKS)
    assert client.post(f"/console/quarantine/{row.pk}/release/", {"mailbox": str(box.pk)}).status_code == 302
    row.refresh_from_db()
    assert row.status == "ticket"


def test_discarding_asks_first_then_sets_it_aside(desk: Any, browser: Any) -> None:
    row = held(mail(sender="bruno@desk.test"))
    client = browser(desk.admin)
    confirm = client.get(f"/console/quarantine/{row.pk}/discard/").content.decode()
    assert "Discard the message from bruno@desk.test?" in confirm
    row.refresh_from_db()
    assert row.status == "quarantine"
    reply = client.post(f"/console/quarantine/{row.pk}/discard/")
    assert reply.status_code == 302
    row.refresh_from_db()
    assert row.status == "ignored"
    assert (
        "Discarded the message from bruno@desk.test." in client.get("/console/quarantine/").content.decode()
    )
    assert "no longer held" in client.get(f"/console/quarantine/{row.pk}/discard/").content.decode()
    assert client.post("/console/quarantine/999999/discard/").status_code == 404
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "title", "label"),
    [
        ("es", "Cuarentena", "Desde la dirección de un agente"),
        ("it", "Quarantena", "Dall&#x27;indirizzo di un agente"),
    ],
)
def test_the_quarantine_speaks_the_viewers_language(
    desk: Any, browser: Any, language: str, title: str, label: str
) -> None:
    held(mail(sender="bruno@desk.test"))
    client = browser(desk.admin)
    client.cookies["django_language"] = language
    page = client.get("/console/quarantine/").content.decode()
    assert f'<h1 id="quarantine-title">{title}</h1>' in page
    assert label in page

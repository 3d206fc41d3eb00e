"""Mail both ways against real servers on 127.0.0.1: a customer's mail arrives in an IMAP
mailbox (pymap) and becomes a ticket; the agent's reply leaves over SMTP (aiosmtpd); the
customer answers that mail from their client (In-Reply-To, the tagged Reply-To address) into
the mailbox again; it lands on the same ticket."""

from __future__ import annotations

import itertools
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from imap_server import ImapServer
from smtp_sink import Sink
from sportello.accounts.models import Department
from sportello.channels.imap import mailbox_poll
from sportello.channels.mailboxes import mailbox_create
from sportello.channels.models import InboundMail
from sportello.core import clock
from sportello.outbox.models import OutboxMessage
from sportello.outbox.services import outbox_deliver
from sportello.tickets.models import Message, Ticket
from testing import NOW

ADDRESS = "books@shop.test"
_folders = itertools.count(1)


@pytest.fixture
def desk_mail(
    desk: Any, settings: Any, attachment_store: Path, server: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> Any:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    monkeypatch.setattr(clock, "now", lambda: NOW)
    Department.objects.filter(pk=desk.books.pk).update(email=ADDRESS)
    folder = f"E2E{next(_folders)}"
    server.create_folder(folder)
    return mailbox_create(
        actor=desk.admin,
        data={
            "address": ADDRESS, "department_id": desk.books.pk, "imap_host": server.host,
            "imap_port": server.port, "imap_security": "none", "imap_username": server.user,
            "imap_password": server.password, "imap_folder": folder,
        },
        now=NOW,
    )  # fmt: skip


def test_a_conversation_by_mail_stays_on_one_ticket(
    desk: Any, api: Any, server: ImapServer, sink: Sink, desk_mail: Any
) -> None:
    mailbox = desk_mail
    # given a customer's first mail in the mailbox
    first = EmailMessage()
    first["From"] = "Carla Rossi <carla@customer.test>"
    first["To"] = ADDRESS
    first["Subject"] = "Pages missing in my book"
    first["Date"] = format_datetime(NOW)
    first["Message-ID"] = "<first@customer.test>"
    first.set_content("Hello, pages 30 to 40 are blank.\n\nCarla")
    server.append(mailbox.imap_folder, first.as_bytes())

    # when the worker polls: a ticket in Books, the message marked seen
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW)
    assert (outcome.status, outcome.ingested) == ("ok", 1)
    ticket = Ticket.objects.get()
    assert (ticket.department_id, ticket.requester.email) == (desk.books.pk, "carla@customer.test")
    assert all("\\Seen" in flags for flags in server.flags(mailbox.imap_folder).values())

    # and the agent replies; the worker sends it over SMTP
    r = api(desk.agent).post(f"/tickets/{ticket.pk}/messages", {"body": "We are sending a new copy."})
    assert r.status_code == 201, r.content
    item = OutboxMessage.objects.get(dedupe_key=f"reply:{r.json()['id']}")
    assert outbox_deliver(outbox_id=item.pk, now=NOW).value == "sent"
    [sent] = sink.received
    ours = sent.parsed()
    assert ours["In-Reply-To"] == "<first@customer.test>"
    reply_to = ours["Reply-To"].addresses[0].addr_spec

    # and the customer answers from their client: to the Reply-To, threaded under our mail,
    # with a new subject (clients keep the headers, people change subjects)
    answer = EmailMessage()
    answer["From"] = "Carla Rossi <carla@customer.test>"
    answer["To"] = reply_to
    answer["Subject"] = "Re: thanks!"
    answer["Date"] = format_datetime(NOW + timedelta(hours=1))
    answer["Message-ID"] = make_msgid(domain="customer.test")
    answer["In-Reply-To"] = ours["Message-ID"]
    answer["References"] = f"<first@customer.test> {ours['Message-ID']}"
    answer.set_content(
        "Thank you, it arrived.\n\nOn Mon, 2 Nov 2026 at 10:30, Books <books@shop.test> wrote:\n"
        "> We are sending a new copy.\n"
    )
    server.append(mailbox.imap_folder, answer.as_bytes())
    outcome = mailbox_poll(mailbox_id=mailbox.pk, now=NOW + timedelta(hours=1))

    # then it is a reply on the same ticket, its quote split off; one ticket in all
    assert (outcome.status, outcome.ingested) == ("ok", 1)
    last = InboundMail.objects.order_by("id").last()
    assert last is not None
    assert (last.status, last.ticket_id) == ("reply", ticket.pk)
    assert last.message_id is not None
    message = Message.objects.get(pk=last.message_id)
    assert message.body_text.strip() == "Thank you, it arrived."
    assert "We are sending a new copy." in message.quoted_text
    assert Ticket.objects.count() == 1
    assert list(Message.objects.filter(ticket=ticket).values_list("author_kind", flat=True)) == [
        "contact",
        "agent",
        "contact",
    ]

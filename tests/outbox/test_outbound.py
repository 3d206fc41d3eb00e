"""Outbound e-mail end to end, over real SMTP on loopback (aiosmtpd): agent replies and
notifications leave through the outbox as threaded multipart mail that cannot be made to carry
extra headers; 4xx answers are retried, 5xx answers fail for good and are reported on the
ticket and to the reply's author; automatic mail is capped per recipient per day."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal

import pytest

from smtp_sink import Sink, free_port, mailers_for
from sportello.accounts.models import Department
from sportello.channels.models import InboundMail, InboundStatus
from sportello.contacts.models import Contact
from sportello.core import clock
from sportello.mail import ids
from sportello.outbox import email as outbound
from sportello.outbox import services
from sportello.outbox.models import AutoReply, OutboxMessage, OutboxStatus
from sportello.outbox.services import (
    auto_replies_prune,
    delivery_states,
    outbox_add,
    outbox_deliver,
    retry_delay,
)
from sportello.tickets.models import Message, TicketEvent
from testing import NOW, missing_pages_ticket, recorded

DOMAIN = "sportello.localhost"  # settings.SPORTELLO["MAIL_DOMAIN"] in tests


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edges read the clock once per request: make it the suite's instant."""
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def ticket(desk: Any) -> Any:
    Department.objects.filter(pk=desk.books.pk).update(email="books@shop.test")
    return missing_pages_ticket(desk)


def inbound(ticket: Any, message_id: str, *, minutes_ago: int) -> InboundMail:
    n = InboundMail.objects.count()
    return InboundMail.objects.create(
        via="mta",
        dedupe_key=f"test:{n}",
        header_message_id=message_id,
        sha256="0" * 64,
        size=100,
        sender="alice@acme.test",
        recipient="books@shop.test",
        subject="Missing pages",
        status=InboundStatus.REPLY,
        ticket=ticket,
        received_at=NOW - timedelta(minutes=minutes_ago),
    )


def reply(
    api: Callable[[Any], Any], desk: Any, ticket: Any, body: str = "Hello"
) -> tuple[Message, OutboxMessage]:
    r = api(desk.agent).post(f"/tickets/{ticket.pk}/messages", {"body": body})
    assert r.status_code == 201, r.json()
    message = Message.objects.get(pk=r.json()["id"])
    return message, OutboxMessage.objects.get(dedupe_key=f"reply:{message.pk}")


def notice(ticket: Any, key: str, *, to: list[str], **extra: Any) -> OutboxMessage:
    return outbox_add(
        kind="email",
        ticket=ticket,
        change_id=None,
        dedupe_key=key,
        payload={
            "to": to,
            "subject": "Your ticket was updated",
            "body": "We are on it.",
            "ticket_number": ticket.number if ticket is not None else None,
            **extra,
        },
        now=NOW,
    )


def header(msg: Any, name: str) -> str:
    """A header's value as one line (a long one is folded onto a continuation line)."""
    return " ".join(str(msg[name]).split())


def text_of(msg: EmailMessage, subtype: Literal["plain", "html"]) -> str:
    """The text of the message's plain or HTML body (which it has)."""
    part = msg.get_body((subtype,))
    assert part is not None, f"no text/{subtype} body"
    return part.get_content()


def our_id(item: OutboxMessage, kind: str) -> str:
    return f"<sportello.{kind}.{item.ticket_id or 0}.{item.delivery_id.hex}@{DOMAIN}>"


# -- an agent's reply, end to end ---------------------------------------------------------------


def test_an_agent_reply_reaches_the_requester_threaded_and_answerable(
    desk: Any, api: Callable[[Any], Any], ticket: Any, sink: Sink, frozen: None
) -> None:
    # given the customer's two mails on the ticket (one id stored with its brackets, one without)
    inbound(ticket, "<first.1@mail.acme.test>", minutes_ago=120)
    inbound(ticket, "latest.2@mail.acme.test", minutes_ago=60)
    # when an agent replies through the API and the worker delivers the outbox item
    message, item = reply(api, desk, ticket, body="Hello Alice,\n\nNew pages are on their way.\nBruno")
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    # then the requester received one multipart/alternative message from the department
    [got] = sink.received
    assert (got.mail_from, got.rcpt_tos) == ("books@shop.test", ["alice@acme.test"])
    msg = got.parsed()
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    # the reply wrapped in the requester's language's `agent_reply` template: signature and link
    assert text_of(msg, "plain") == (
        "Hello Alice,\n\nNew pages are on their way.\nBruno\n\n--\nBruno Books\nBooks\n\n"
        "To reply, simply answer this e-mail.\n"  # (no link: this desk has no customer portal)
    )
    assert "<p>Hello Alice,</p>\n<p>New pages are on their way.<br>\nBruno</p>" in (text_of(msg, "html"))
    assert str(msg["From"]) == "Books <books@shop.test>"
    assert str(msg["To"]) == "Alice Acme <alice@acme.test>"
    assert str(msg["Subject"]) == f"[#{ticket.number}] Missing pages"
    assert str(msg["Date"]) == format_datetime(NOW)
    assert str(msg["X-Sportello-Ticket"]) == str(ticket.number)
    assert msg["Auto-Submitted"] is None  # a person wrote it
    # and it threads under the customer's latest mail, with the whole conversation
    assert header(msg, "Message-ID") == our_id(item, "reply")
    assert header(msg, "In-Reply-To") == "<latest.2@mail.acme.test>"
    assert header(msg, "References") == "<first.1@mail.acme.test> <latest.2@mail.acme.test>"
    # and its Reply-To is the department's address tagged for this ticket and this requester
    [reply_to] = msg["Reply-To"].addresses
    parsed = ids.parse_reply_address(reply_to.addr_spec)
    assert parsed is not None
    base, ticket_id, token = parsed
    assert (base, ticket_id) == ("books@shop.test", ticket.pk)
    secret = outbound.reply_secret()
    assert ids.verify_reply_token(secret=secret, ticket_id=ticket.pk, contact_id=desk.alice.pk, token=token)
    assert not ids.verify_reply_token(secret=secret, ticket_id=ticket.pk, contact_id=desk.bob.pk, token=token)
    # and the message shows as delivered
    assert delivery_states([message.pk]) == {
        message.pk: {"status": "sent", "attempts": 1, "last_error": "", "sent_at": NOW}
    }


def test_the_next_reply_threads_under_our_previous_one_when_the_customer_has_not_written(
    desk: Any, api: Callable[[Any], Any], ticket: Any, sink: Sink, frozen: None
) -> None:
    # given a first reply sent, and a notification to an agent on the same ticket
    _, first = reply(api, desk, ticket, body="First")
    assert outbox_deliver(outbox_id=first.pk, now=NOW) == OutboxStatus.SENT
    to_agent = notice(ticket, "notify:agent", to=["bruno@desk.test"])
    assert outbox_deliver(outbox_id=to_agent.pk, now=NOW) == OutboxStatus.SENT
    # when a second reply is delivered
    _, second = reply(api, desk, ticket, body="Second")
    assert outbox_deliver(outbox_id=second.pk, now=NOW + timedelta(seconds=1)) == OutboxStatus.SENT
    # then it answers our first reply; the agent's notification (never seen by the customer) is left out
    msg = sink.received[-1].parsed()
    assert header(msg, "In-Reply-To") == our_id(first, "reply")
    assert header(msg, "References") == our_id(first, "reply")


def test_a_delivery_repeated_after_a_lost_lease_keeps_its_message_id(
    desk: Any,
    api: Callable[[Any], Any],
    ticket: Any,
    sink: Sink,
    frozen: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a worker that sent the reply and died before recording it
    _, item = reply(api, desk, ticket)
    record = services._record

    def die(**kwargs: Any) -> Any:
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_record", die)
    with pytest.raises(SystemExit):
        outbox_deliver(outbox_id=item.pk, now=NOW)
    monkeypatch.setattr(services, "_record", record)
    # when its lease runs out and another worker delivers the item again
    later = NOW + timedelta(seconds=120)
    assert outbox_deliver(outbox_id=item.pk, now=later) == OutboxStatus.SENT
    # then both copies carry the same Message-ID, so the receiver sees one message
    first, second = sink.received
    assert (
        header(first.parsed(), "Message-ID") == header(second.parsed(), "Message-ID") == our_id(item, "reply")
    )
    item.refresh_from_db()
    assert (item.status, item.attempts) == (OutboxStatus.SENT, 2)


# -- temporary and permanent refusals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "error"),
    [
        ("rcpt", "recipients refused: alice@acme.test: 451 4.3.0 Temporary failure, try later"),
        ("data", "message refused: 451 4.3.0 Temporary failure, try later"),
    ],
)
def test_a_451_answer_is_retried_after_a_back_off_then_delivered(
    desk: Any,
    api: Callable[[Any], Any],
    ticket: Any,
    sink: Sink,
    frozen: None,
    at: Literal["rcpt", "data"],
    error: str,
) -> None:
    # given a server that answers 451 to the next message
    message, item = reply(api, desk, ticket)
    sink.refuse(code=451, at=at)
    # when the first attempt is made
    assert outbox_deliver(outbox_id=item.pk, now=NOW, rng=random.Random(5)) == OutboxStatus.PENDING
    # then the item waits for a retry after the first back-off, and the state says why
    item.refresh_from_db()
    delay = retry_delay(attempt=1, base=10.0, cap=3600.0, rng=random.Random(5))
    assert (item.status, item.attempts, item.last_error) == (OutboxStatus.PENDING, 1, error)
    assert item.next_attempt_at == NOW + delay > NOW
    assert sink.received == []
    assert delivery_states([message.pk])[message.pk] == {
        "status": "pending",
        "attempts": 1,
        "last_error": error,
        "sent_at": None,
    }
    # when the retry runs at its instant, it is delivered
    assert outbox_deliver(outbox_id=item.pk, now=item.next_attempt_at) == OutboxStatus.SENT
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_error, len(sink.received)) == (OutboxStatus.SENT, 2, "", 1)
    assert TicketEvent.objects.filter(ticket=ticket, kind="delivery").count() == 0


def test_temporary_refusals_are_retried_for_a_day_then_fail_and_are_reported(
    desk: Any, api: Callable[[Any], Any], ticket: Any, sink: Sink, settings: Any, frozen: None
) -> None:
    # given few attempts allowed, and a server answering 451 for a day
    settings.SPORTELLO = {**settings.SPORTELLO, "OUTBOX_MAX_ATTEMPTS": 2}
    _, item = reply(api, desk, ticket)
    sink.refuse(code=451, count=3)
    # when the allowed attempts are made within the day, the reply still waits
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.PENDING
    item.refresh_from_db()
    assert outbox_deliver(outbox_id=item.pk, now=item.next_attempt_at) == OutboxStatus.PENDING
    item.refresh_from_db()
    assert (item.status, item.attempts) == (OutboxStatus.PENDING, 2)
    assert not TicketEvent.objects.filter(ticket=ticket, kind="delivery").exists()
    # when an attempt a day after it was queued is refused too, it fails, and that is reported
    assert outbox_deliver(outbox_id=item.pk, now=NOW + timedelta(hours=24)) == OutboxStatus.FAILED
    item.refresh_from_db()
    error = "recipients refused: alice@acme.test: 451 4.3.0 Temporary failure, try later"
    assert (item.attempts, item.last_error) == (3, error)
    [event] = TicketEvent.objects.filter(ticket=ticket, kind="delivery")
    assert recorded(event)["error"] == error
    assert OutboxMessage.objects.filter(dedupe_key=f"delivery-failed:{item.pk}").count() == 1
    assert sink.received == []


def test_an_unreachable_server_is_a_transient_failure(
    desk: Any, api: Callable[[Any], Any], ticket: Any, settings: Any, frozen: None
) -> None:
    settings.MAILERS = mailers_for(free_port(), timeout=2.0)
    _, item = reply(api, desk, ticket)
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.PENDING
    item.refresh_from_db()
    assert (item.attempts, item.last_error) == (1, "ConnectionRefusedError: [Errno 111] Connection refused")
    assert item.next_attempt_at >= NOW


@pytest.mark.parametrize(
    ("at", "error"),
    [
        ("rcpt", "recipients refused: alice@acme.test: 550 5.1.1 No such user here"),
        ("data", "message refused: 550 5.1.1 No such user here"),
    ],
)
def test_a_550_answer_fails_the_reply_for_good_records_it_and_tells_its_author(
    desk: Any,
    api: Callable[[Any], Any],
    ticket: Any,
    sink: Sink,
    frozen: None,
    at: Literal["rcpt", "data"],
    error: str,
) -> None:
    # given a server that refuses the next message for good
    message, item = reply(api, desk, ticket)
    ticket.refresh_from_db()
    version = ticket.version
    sink.refuse(code=550, at=at)
    # when the reply is delivered
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.FAILED
    # then the item failed after one attempt, with the server's answer, and nothing was sent
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_error) == (OutboxStatus.FAILED, 1, error)
    assert sink.received == []
    assert delivery_states([message.pk]) == {
        message.pk: {"status": "failed", "attempts": 1, "last_error": error, "sent_at": None}
    }
    # and the conversation shows it on the message, to agents only
    items = api(desk.agent).get(f"/tickets/{ticket.pk}/messages").json()["items"]
    [shown] = [m for m in items if m["id"] == message.pk]
    assert shown["delivery"] == {"status": "failed", "attempts": 1, "last_error": error, "sent_at": None}
    # and the ticket's audit trail has the failure, recorded by the system without a new version
    [event] = TicketEvent.objects.filter(ticket=ticket, kind="delivery")
    assert (event.field, event.actor_kind, event.via, event.cause) == (
        "failed",
        "system",
        "system",
        f"outbox:{item.pk}",
    )
    assert event.new_value == {
        "outbox_id": item.pk,
        "message_id": message.pk,
        "to": ["alice@acme.test"],
        "error": error,
    }
    ticket.refresh_from_db()
    assert ticket.version == version
    # and the reply's author gets an automatic mail saying what failed and why
    notice_item = OutboxMessage.objects.get(dedupe_key=f"delivery-failed:{item.pk}")
    assert outbox_deliver(outbox_id=notice_item.pk, now=NOW) == OutboxStatus.SENT
    [got] = sink.received
    assert got.rcpt_tos == ["bruno@desk.test"]
    msg = got.parsed()
    assert str(msg["Subject"]) == f"[#{ticket.number}] Your reply to alice@acme.test was not delivered"
    assert str(msg["Auto-Submitted"]) == "auto-generated"
    assert header(msg, "Message-ID") == our_id(notice_item, "notice")
    assert f"Reason: {error}\n" in text_of(msg, "plain")
    # and a repeated job neither retries nor reports twice
    assert outbox_deliver(outbox_id=item.pk, now=NOW + timedelta(hours=1)) == OutboxStatus.FAILED
    assert TicketEvent.objects.filter(ticket=ticket, kind="delivery").count() == 1
    assert OutboxMessage.objects.filter(dedupe_key__startswith="delivery-failed:").count() == 1


def test_a_failed_notification_is_not_reported_as_a_failed_reply(desk: Any, ticket: Any, sink: Sink) -> None:
    item = notice(ticket, "notify:x", to=["alice@acme.test"])
    sink.refuse(code=550)
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.FAILED
    assert not TicketEvent.objects.filter(ticket=ticket, kind="delivery").exists()
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="delivery-failed:").exists()


def test_delivery_states_reads_every_message_in_one_query(
    desk: Any, ticket: Any, django_assert_num_queries: Any
) -> None:
    # given e-mailed replies pending, sent and failed, and a webhook naming a message id
    def add(key: str, message_id: int, kind: str = "email") -> OutboxMessage:
        return outbox_add(
            kind=kind, ticket=ticket, change_id=None, dedupe_key=key,
            payload={"to": ["alice@acme.test"], "subject": "s", "body": "b", "message_id": message_id},
            now=NOW,
        )  # fmt: skip

    add("reply:101", 101)
    sent, failed = add("reply:102", 102), add("reply:103", 103)
    add("hook:104", 104, kind="webhook")
    OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxStatus.SENT, attempts=1, sent_at=NOW)
    OutboxMessage.objects.filter(pk=failed.pk).update(
        status=OutboxStatus.FAILED, attempts=8, last_error="boom"
    )
    # when the states of five messages are read
    with django_assert_num_queries(1):
        states = delivery_states([101, 102, 103, 104, 105])
    # then each e-mailed one has its state; the others are absent
    assert states == {
        101: {"status": "pending", "attempts": 0, "last_error": "", "sent_at": None},
        102: {"status": "sent", "attempts": 1, "last_error": "", "sent_at": NOW},
        103: {"status": "failed", "attempts": 8, "last_error": "boom", "sent_at": None},
    }
    assert delivery_states([]) == {}


# -- header injection and HTML -------------------------------------------------------------------


def test_line_breaks_in_names_and_subjects_never_make_extra_headers(
    desk: Any, ticket: Any, sink: Sink
) -> None:
    # given a requester whose stored name carries a header, and a subject and sender name that do
    Contact.objects.filter(pk=desk.alice.pk).update(name="Bob\r\nBcc: victim@x")
    item = outbox_add(
        kind="email",
        ticket=ticket,
        change_id=None,
        dedupe_key="reply:injection",
        payload={
            "to": ["alice@acme.test"],
            "subject": "Hi\r\nBcc: victim@x\nX-Evil: 1\rmore\x7f\x0b",
            "body": "Hello",
            "ticket_number": ticket.number,
            "from_name": "Desk\r\nBcc: victim@x",
        },
        now=NOW,
    )
    # when it is delivered
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    # then the envelope and the headers name only the requester; the breaks became spaces
    [got] = sink.received
    assert got.rcpt_tos == ["alice@acme.test"]
    msg = got.parsed()
    assert msg.get_all("Bcc") is None
    assert msg.get_all("X-Evil") is None
    [to] = msg.get_all("To", [])
    assert [(a.display_name, a.addr_spec) for a in to.addresses] == [("Bob Bcc: victim@x", "alice@acme.test")]
    assert [(a.display_name, a.addr_spec) for a in msg["From"].addresses] == [
        ("Desk Bcc: victim@x", "books@shop.test")
    ]
    assert str(msg["Subject"]) == f"[#{ticket.number}] Hi Bcc: victim@x X-Evil: 1 more"
    header_block = got.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block
    assert b"\r\nX-Evil:" not in header_block


def test_an_address_with_a_line_break_fails_for_good_and_sends_nothing(
    desk: Any, ticket: Any, sink: Sink
) -> None:
    item = notice(ticket, "notify:bad", to=["alice@acme.test\r\nBcc: victim@x"])
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.FAILED
    item.refresh_from_db()
    assert (
        item.last_error == "unusable e-mail payload: invalid arguments; address parts cannot contain CR or LF"
    )
    assert sink.received == []


def test_html_in_a_name_or_body_is_escaped_and_links_are_not_made(desk: Any, ticket: Any, sink: Sink) -> None:
    # given a notification quoting a customer's name with markup and a phishing line
    body = 'Dear <a href="https://evil.example/login">Alice</a>,\nClick https://evil.example/login now & win'
    item = notice(ticket, "notify:html", to=["alice@acme.test"], body=body)
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    msg = sink.received[0].parsed()
    html_part = text_of(msg, "html")
    # then the HTML shows the text as text
    assert (
        "<p>Dear &lt;a href=&quot;https://evil.example/login&quot;&gt;Alice&lt;/a&gt;,<br>\n"
        "Click https://evil.example/login now &amp; win</p>"
    ) in html_part
    assert "<a " not in html_part
    assert "href=" not in html_part.replace("href=&quot;", "")
    assert text_of(msg, "plain") == body + "\n"


def test_a_replys_stored_html_is_its_html_part(
    desk: Any, api: Callable[[Any], Any], ticket: Any, sink: Sink, frozen: None
) -> None:
    r = api(desk.agent).post(
        f"/tickets/{ticket.pk}/messages",
        {"body_html": "<p>See <b>page 31</b><script>alert(1)</script></p>"},
    )
    assert r.status_code == 201
    item = OutboxMessage.objects.get(dedupe_key=f"reply:{r.json()['id']}")
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    msg = sink.received[0].parsed()
    html_part = text_of(msg, "html")
    assert "<b>page 31</b>" in html_part
    assert "script" not in html_part


# -- automatic mail ------------------------------------------------------------------------------


def test_automatic_mail_to_one_address_is_capped_per_day(
    desk: Any, ticket: Any, sink: Sink, settings: Any
) -> None:
    # given a cap of two automatic mails a day per recipient
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_AUTO_REPLIES_PER_DAY": 2}
    items = [notice(ticket, f"notify:{i}", to=["alice@acme.test"]) for i in range(3)]
    # when three are delivered
    states = [outbox_deliver(outbox_id=i.pk, now=NOW) for i in items]
    # then two were sent, marked automatic, and the third was suppressed without a retry
    assert states == [OutboxStatus.SENT, OutboxStatus.SENT, OutboxStatus.FAILED]
    assert len(sink.received) == 2
    assert all(str(r.parsed()["Auto-Submitted"]) == "auto-generated" for r in sink.received)
    assert header(sink.received[0].parsed(), "Message-ID") == our_id(items[0], "notice")
    items[2].refresh_from_db()
    assert (items[2].attempts, items[2].last_error) == (
        1,
        "suppressed: automatic replies to alice@acme.test capped at 2 a day",
    )
    assert (
        list(AutoReply.objects.values_list("recipient", "ticket_id", "sent_at"))
        == [("alice@acme.test", ticket.pk, NOW)] * 2
    )
    # and an agent's reply is never capped, nor counted
    person = outbox_add(
        kind="email", ticket=ticket, change_id=None, dedupe_key="reply:person",
        payload={"to": ["alice@acme.test"], "subject": "Hi", "body": "Hi"}, now=NOW,
    )  # fmt: skip
    assert outbox_deliver(outbox_id=person.pk, now=NOW) == OutboxStatus.SENT
    assert AutoReply.objects.count() == 2
    # and a day later automatic mail flows again
    later = notice(ticket, "notify:later", to=["alice@acme.test"])
    assert outbox_deliver(outbox_id=later.pk, now=NOW + timedelta(hours=24)) == OutboxStatus.SENT
    # and the hourly clean-up forgets the records the cap no longer reads
    assert auto_replies_prune(now=NOW + timedelta(hours=24)) == 2
    assert list(AutoReply.objects.values_list("sent_at", flat=True)) == [NOW + timedelta(hours=24)]


def test_a_capped_recipient_is_left_out_and_the_others_still_get_the_mail(
    desk: Any, ticket: Any, sink: Sink, settings: Any
) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_AUTO_REPLIES_PER_DAY": 1}
    AutoReply.objects.create(recipient="alice@acme.test", sent_at=NOW - timedelta(hours=23))
    item = notice(ticket, "notify:two", to=["Alice@Acme.test", "bob@example.test"])
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    [got] = sink.received
    assert got.rcpt_tos == ["bob@example.test"]
    assert [a.addr_spec for a in got.parsed()["To"].addresses] == ["bob@example.test"]
    assert AutoReply.objects.filter(recipient="bob@example.test").count() == 1


# -- building the message ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Missing pages", "[#7] Missing pages"),
        ("[#7] Missing pages", "[#7] Missing pages"),
        ("Re: [#7] Missing [#7] pages [#7]", "Re: [#7] Missing pages"),
        ("Line\r\nBreak\tTab\x1b", "[#7] Line Break Tab"),
        ("[#8] Other ticket", "[#7] [#8] Other ticket"),
    ],
)
def test_the_subject_is_one_line_with_the_ticket_token_once(subject: str, expected: str) -> None:
    assert outbound.subject_line(subject, number=7) == expected


def test_generated_html_keeps_paragraphs_and_line_breaks() -> None:
    assert outbound.html_document("One\ntwo\n\n\nThree <3", language="it") == (
        '<!DOCTYPE html>\n<html lang="it"><head><meta charset="utf-8"></head><body>\n'
        "<p>One<br>\ntwo</p>\n<p>Three &lt;3</p>\n</body></html>\n"
    )


def test_the_message_id_is_the_same_on_every_build(desk: Any, ticket: Any) -> None:
    item = notice(ticket, "reply:stable", to=["alice@acme.test"])
    first = outbound.build_email(item, now=NOW).message()
    second = outbound.build_email(item, now=NOW + timedelta(hours=1)).message()
    assert first["Message-ID"] == second["Message-ID"] == our_id(item, "reply")


def test_references_keep_the_last_twenty_and_skip_unusable_ids(desk: Any, ticket: Any) -> None:
    for i in range(25):
        inbound(ticket, f"<m{i}@mail.acme.test>", minutes_ago=100 - i)
    inbound(ticket, "<evil@x>\r\nBcc: victim@x", minutes_ago=1)
    inbound(ticket, "", minutes_ago=1)
    msg = outbound.build_email(notice(ticket, "reply:refs", to=["alice@acme.test"]), now=NOW).message()
    assert header(msg, "In-Reply-To") == "<m24@mail.acme.test>"
    assert header(msg, "References").split() == [f"<m{i}@mail.acme.test>" for i in range(5, 25)]


def test_without_a_ticket_mail_comes_from_the_default_address_without_reply_token(
    desk: Any, settings: Any
) -> None:
    settings.DEFAULT_FROM_EMAIL = "Sportello Desk <desk@shop.test>"
    msg = outbound.build_email(notice(None, "notify:none", to=["alice@acme.test"]), now=NOW).message()
    assert str(msg["From"]) == "Sportello Desk <desk@shop.test>"
    assert (msg["Reply-To"], msg["In-Reply-To"], msg["X-Sportello-Ticket"]) == (None, None, None)
    assert (
        header(msg, "Message-ID")
        == f"<sportello.notice.0.{OutboxMessage.objects.get().delivery_id.hex}@{DOMAIN}>"
    )


def test_a_payload_may_name_its_sender_contact_and_language(desk: Any, ticket: Any) -> None:
    item = notice(
        ticket,
        "notify:custom",
        to=["bob@example.test"],
        **{"from": "offers@shop.test", "from_name": "Shop", "contact_id": desk.bob.pk, "language": "it"},
    )
    msg = outbound.build_email(item, now=NOW).message()
    assert str(msg["From"]) == "Shop <offers@shop.test>"
    assert str(msg["Content-Language"]) == "it"
    [reply_to] = msg["Reply-To"].addresses
    base, ticket_id, token = ids.parse_reply_address(reply_to.addr_spec) or ("", 0, "")
    assert (base, ticket_id) == ("books@shop.test", ticket.pk)
    assert ids.verify_reply_token(
        secret=outbound.reply_secret(), ticket_id=ticket.pk, contact_id=desk.bob.pk, token=token
    )


def test_a_contact_id_that_is_not_the_recipients_gives_no_reply_token(desk: Any, ticket: Any) -> None:
    item = notice(ticket, "notify:other", to=["bob@example.test"], contact_id=desk.alice.pk)
    assert outbound.build_email(item, now=NOW).message()["Reply-To"] is None


def test_mail_to_someone_other_than_the_requester_has_no_reply_token(desk: Any, ticket: Any) -> None:
    msg = outbound.build_email(notice(ticket, "notify:agent", to=["bruno@desk.test"]), now=NOW).message()
    assert msg["Reply-To"] is None
    assert str(msg["Auto-Submitted"]) == "auto-generated"


def test_the_reply_secret_is_derived_from_the_secret_key(settings: Any) -> None:
    first = outbound.reply_secret()
    assert len(first) == 32
    assert first != settings.SECRET_KEY.encode()
    settings.SECRET_KEY = "another-key-" + "y" * 40
    assert outbound.reply_secret() != first

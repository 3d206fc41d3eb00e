"""Mail in, through `channels.inbound.mail_ingest`: threading, identity, idempotency, loops,
bounces, floods and limits — each message ends as a ticket, a reply, a bounce record, a
quarantine entry with a reason, or is ignored as a loop."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from sportello.channels.inbound import mail_ingest
from sportello.channels.models import AddressHealth, InboundMail, Mailbox
from sportello.contacts.models import Contact
from sportello.core.actors import Actor, ActorKind, Via
from sportello.mail import ids
from sportello.outbox.email import reply_secret
from sportello.tickets import pipeline
from sportello.tickets.models import Attachment, Message, Ticket, TicketEvent
from sportello.tickets.pipeline import Mutation, NewMessage
from testing import NOW, recorded

BOOKS = "books@shop.test"
DOMAIN = "desk.test"


@pytest.fixture(autouse=True)
def _mail(settings: Any, attachment_store: Path, desk: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": DOMAIN}
    Mailbox.objects.create(address=BOOKS, department=desk.books, created_at=NOW)


def mail(
    *,
    sender: str = "Carla Rossi <carla@customer.test>",
    to: str = BOOKS,
    subject: str = "My order arrived damaged",
    body: str = "Hello, the book cover is torn.\n\nCarla",
    message_id: str | None = "<m1@customer.test>",
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(NOW)
    if message_id:
        m["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        m[name] = value
    if html is not None and body:
        m.set_content(body)
        m.add_alternative(html, subtype="html")
    elif html is not None:
        m.set_content(html, subtype="html")
    else:
        m.set_content(body)
    return m.as_bytes()


def ingest(raw: bytes, **kw: Any) -> Any:
    kw.setdefault("via", "mta")
    kw.setdefault("now", NOW)
    return mail_ingest(raw=raw, **kw)


def agent_reply(desk: Any, ticket: Ticket, body: str = "We are on it.", **fields: Any) -> None:
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=Mutation(
            actor=Actor(ActorKind.AGENT, desk.agent.pk, desk.agent.name),
            via=Via.API,
            message=NewMessage(body=body),
            fields=fields,
        ),
        now=NOW + timedelta(minutes=10),
    )


def test_a_new_sender_writes_in_and_gets_a_ticket_in_the_mailboxs_department(desk: Any) -> None:
    # when an unknown customer writes to the Books address
    result = ingest(mail())
    # then a ticket is opened in Books, by a new contact, with the message and the raw mail kept
    assert (result.status, result.duplicate) == ("ticket", False)
    ticket = Ticket.objects.get(pk=result.ticket_id)
    contact = Contact.objects.get(email="carla@customer.test")
    assert (ticket.department_id, ticket.requester_id, ticket.subject) == (
        desk.books.pk,
        contact.pk,
        "My order arrived damaged",
    )
    assert (ticket.channel, contact.name) == ("email", "Carla Rossi")
    [message] = Message.objects.filter(ticket=ticket)
    assert message.body_text.startswith("Hello, the book cover is torn.")
    assert message.author_contact_id == contact.pk
    row = InboundMail.objects.get(pk=result.inbound_id)
    assert (row.recipient, row.sender, row.header_message_id) == (
        BOOKS,
        "carla@customer.test",
        "m1@customer.test",
    )
    from sportello.tickets.attachments import attachment_storage

    with attachment_storage().open(row.raw_key, "rb") as f:
        assert f.read() == mail()


def test_a_sender_of_a_known_domain_joins_its_organization(desk: Any) -> None:
    result = ingest(mail(sender="dora@acme.test"))
    assert Contact.objects.get(email="dora@acme.test").organization_id == desk.acme.pk
    assert Ticket.objects.get(pk=result.ticket_id).requester.email == "dora@acme.test"


def test_the_same_message_twice_is_one_message(desk: Any) -> None:
    first = ingest(mail())
    again = ingest(mail(), via="imap")
    assert (again.duplicate, again.inbound_id, again.ticket_id) == (True, first.inbound_id, first.ticket_id)
    assert (Ticket.objects.count(), InboundMail.objects.count(), Message.objects.count()) == (1, 1, 1)


def test_without_a_message_id_the_same_bytes_are_one_message_and_other_bytes_another(desk: Any) -> None:
    a = ingest(mail(message_id=None))
    assert ingest(mail(message_id=None)).duplicate
    b = ingest(mail(message_id=None, body="A second, different question."))
    assert (b.duplicate, Ticket.objects.count()) == (False, 2)
    assert a.ticket_id != b.ticket_id


def test_a_forged_message_id_from_someone_else_does_not_suppress_their_message(desk: Any) -> None:
    ingest(mail())
    other = ingest(mail(sender="mallory@evil.test", body="Something else entirely"))
    assert (other.duplicate, other.status) == (False, "ticket")


def test_the_customer_replying_to_our_mail_threads_to_the_ticket_with_the_quote_kept(desk: Any) -> None:
    # given a ticket we answered (our Message-ID names it)
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status="pending")
    ours = ids.message_id(domain=DOMAIN, kind="reply", ticket_id=ticket.pk, unique="a1")
    # when the customer replies, quoting us
    body = "Thanks, here is the photo you asked for.\n\nOn Mon, 2 Nov 2026, Books wrote:\n> We are on it.\n"
    threading = {"In-Reply-To": f"<{ours}>", "References": f"<m1@customer.test> <{ours}>"}
    result = ingest(
        mail(
            subject="Re: My order arrived damaged",
            body=body,
            message_id="<m2@customer.test>",
            headers=threading,
        )
    )
    # then it is a reply on the ticket, the quote split off, and the ticket reopened
    assert (result.status, result.ticket_id) == ("reply", ticket.pk)
    message = Message.objects.get(pk=result.message_id)
    assert message.body_text.strip() == "Thanks, here is the photo you asked for."
    assert "We are on it." in message.quoted_text
    ticket.refresh_from_db()
    assert ticket.status_category == "open"
    assert InboundMail.objects.get(pk=result.inbound_id).reopened


def test_a_reply_that_only_keeps_the_subject_token_threads_for_the_requester(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    result = ingest(mail(subject=f"Re: [#{ticket.number}] damaged", message_id="<m3@customer.test>",
                         body="Any news?"))  # fmt: skip
    assert (result.status, result.ticket_id) == ("reply", ticket.pk)


def test_an_outsider_naming_someone_elses_ticket_opens_a_new_ticket(desk: Any) -> None:
    # given Carla's ticket
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    ours = ids.message_id(domain=DOMAIN, kind="reply", ticket_id=ticket.pk, unique="a1")
    # when Mallory writes with Carla's ticket's headers and token
    result = ingest(
        mail(
            sender="mallory@evil.test",
            subject=f"Re: [#{ticket.number}]",
            message_id="<x@evil.test>",
            headers={"In-Reply-To": f"<{ours}>", "References": "<m1@customer.test>"},
        )
    )
    # then it does not touch Carla's ticket
    assert result.status == "ticket"
    assert result.ticket_id != ticket.pk
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_a_colleague_copied_on_the_first_mail_may_reply_all(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail(to=f"{BOOKS}, gianni@customer.test")).ticket_id)
    result = ingest(mail(sender="gianni@customer.test", message_id="<g1@customer.test>", body="Same for me.",
                         headers={"In-Reply-To": "<m1@customer.test>"}))  # fmt: skip
    assert (result.status, result.ticket_id) == ("reply", ticket.pk)


def test_a_tagged_reply_address_threads_only_for_the_person_it_was_sent_to(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    carla = Contact.objects.get(email="carla@customer.test")
    token = ids.reply_token(secret=reply_secret(), ticket_id=ticket.pk, contact_id=carla.pk)
    tagged = ids.reply_address(address=BOOKS, ticket_id=ticket.pk, token=token)
    # when Carla answers to the tagged address with a new subject and no threading headers
    mine = ingest(mail(to=tagged, subject="photo", message_id="<t1@customer.test>", body="Photo attached."))
    assert (mine.status, mine.ticket_id) == ("reply", ticket.pk)
    # and someone else uses the same address
    theirs = ingest(mail(sender="bob@example.test", to=tagged, subject="hi", message_id="<t2@example.test>"))
    assert theirs.status == "ticket"
    assert theirs.ticket_id != ticket.pk


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status="closed")
    result = ingest(mail(subject=f"Re: [#{ticket.number}]", message_id="<m9@customer.test>", body="Again"))
    assert result.status == "ticket"
    assert result.ticket_id != ticket.pk


def test_an_out_of_office_reply_is_kept_but_neither_reopens_nor_gets_an_automatic_answer(desk: Any) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.outbox.models import OutboxMessage

    # given a rule that acknowledges every customer message, and a ticket waiting on Carla
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=NOW,
              definition={"key": "ack", "name": "Ack", "on": ["message.added"],
                          "when": {"field": "message.author_kind", "op": "is", "value": "contact"},
                          "actions": [{"notify": {"to": ["requester"], "subject": "We got it",
                                                  "body": "Thanks"}}]})  # fmt: skip
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status="pending")
    before = OutboxMessage.objects.filter(payload__subject="We got it").count()
    # when Carla's out-of-office answers
    automatic = {"Auto-Submitted": "auto-replied", "In-Reply-To": "<m1@customer.test>"}
    result = ingest(
        mail(subject="Out of office", message_id="<ooo@customer.test>", body="I am away.", headers=automatic)
    )
    # then it is on the ticket, marked automatic; the ticket still waits; no acknowledgement
    assert (result.status, result.ticket_id) == ("reply", ticket.pk)
    assert InboundMail.objects.get(pk=result.inbound_id).automatic
    ticket.refresh_from_db()
    assert ticket.status_category == "pending"
    assert OutboxMessage.objects.filter(payload__subject="We got it").count() == before
    assert TicketEvent.objects.filter(ticket=ticket, kind="notification", field="suppressed").exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Auto-Response-Suppress": "All"},
        {"X-Auto-Response-Suppress": "OOF, AutoReply"},
        {"List-Id": "Customers <customers.lists.customer.test>"},
        {"List-Unsubscribe": "<mailto:leave@lists.customer.test>"},
    ],
)
@pytest.mark.parametrize("waiting", ["pending", "solved"])
def test_a_persons_reply_marked_no_auto_reply_still_reopens_a_waiting_ticket(
    desk: Any, headers: dict[str, str], waiting: str
) -> None:
    # given a ticket waiting on Carla
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status=waiting)
    # when she answers from Outlook or through her team's list (headers a person's mail carries)
    result = ingest(
        mail(message_id="<h2@customer.test>", body="Still broken.",
             headers={**headers, "In-Reply-To": "<m1@customer.test>"})
    )  # fmt: skip
    # then the reply is marked automatic (nothing automatic goes back) but reopens the ticket
    ticket.refresh_from_db()
    row = InboundMail.objects.get(pk=result.inbound_id)
    assert (result.status, row.automatic, row.reopened, ticket.status_category) == (
        "reply",
        True,
        True,
        "open",
    )


def test_reopenings_by_mail_are_rate_limited_per_ticket(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_REOPENS_PER_HOUR": 2}
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    states = []
    for i in range(3):
        agent_reply(desk, ticket, body=f"Answer {i}", status="pending")
        ingest(mail(message_id=f"<r{i}@customer.test>", body=f"Reply {i}",
                    headers={"In-Reply-To": "<m1@customer.test>"}))  # fmt: skip
        ticket.refresh_from_db()
        states.append(ticket.status_category)
    assert states == ["open", "open", "pending"]


def test_our_own_message_coming_back_is_ignored(desk: Any) -> None:
    ours = ids.message_id(domain=DOMAIN, kind="notice", ticket_id=1, unique="z9")
    result = ingest(mail(sender="someone@customer.test", message_id=f"<{ours}>"))
    assert (result.status, result.ticket_id) == ("ignored", None)
    looped = ingest(mail(sender=BOOKS, message_id="<loop@shop.test>"))
    assert looped.status == "ignored"
    assert Ticket.objects.count() == 0


def test_a_bounce_marks_the_address_and_lands_on_the_ticket_without_a_new_one(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    ours = ids.message_id(domain=DOMAIN, kind="reply", ticket_id=ticket.pk, unique="b1")
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\r\n"
        f"To: {BOOKS}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.customer.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.test\r\n\r\n"
        "Final-Recipient: rfc822; carla@customer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{ours}>\r\nTo: carla@customer.test\r\nSubject: [#1] Re: damaged\r\n\r\n--B--\r\n"
    ).encode()
    result = ingest(dsn)
    assert (result.status, result.ticket_id) == ("bounce", ticket.pk)
    health = AddressHealth.objects.get(email="carla@customer.test")
    assert (health.bouncing, health.bounces) == (True, 1)
    assert TicketEvent.objects.filter(ticket=ticket, kind="mail", field="bounced").count() == 1
    assert Ticket.objects.count() == 1


def test_a_flood_from_one_sender_is_throttled(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_FLOOD_PER_5_MINUTES": 3}
    results = [ingest(mail(message_id=f"<f{i}@customer.test>", body=f"spam {i}"),
                      now=NOW + timedelta(seconds=i)) for i in range(5)]  # fmt: skip
    assert [r.status for r in results] == ["ticket", "ticket", "ticket", "quarantine", "quarantine"]
    assert results[3].reason.startswith("sender throttled")
    # still throttled a while later, though the window has passed
    later = ingest(mail(message_id="<f9@customer.test>"), now=NOW + timedelta(minutes=30))
    assert later.status == "quarantine"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (mail(sender=""), "no sender address"),
        (mail(sender="a@customer.test, b@customer.test"), "several sender addresses"),
        (mail(sender="bruno@desk.test"), "sent from an agent's address"),
        (mail(to="someone@else.test"), "not addressed to any of our mailboxes"),
    ],
)
def test_mail_that_cannot_be_trusted_or_placed_is_quarantined_with_a_reason(
    desk: Any, raw: bytes, reason: str
) -> None:
    result = ingest(raw)
    assert result.status == "quarantine"
    assert result.reason.startswith(reason)
    assert Ticket.objects.count() == 0


def test_an_oversized_message_is_quarantined_and_kept(desk: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_MAX_BYTES": 2000}
    raw = mail(body="x" * 5000)
    result = ingest(raw)
    assert result.status == "quarantine"
    assert result.reason.startswith("too large")
    assert InboundMail.objects.get(pk=result.inbound_id).size == len(raw)


def test_a_subject_longer_than_a_ticket_holds_opens_a_ticket_and_is_kept_whole_on_the_message(
    desk: Any, api: Any
) -> None:
    # given a customer whose mail client put the whole first paragraph in the subject (300 chars)
    subject = "Ordine 4412: " + "la copertina è strappata e " * 10 + "mancano due pagine"
    assert len(subject) == 301
    # when it arrives
    result = ingest(mail(subject=subject))
    # then it is a ticket whose subject is cut at a word, within 250 characters, with an ellipsis
    assert result.status == "ticket"
    ticket = Ticket.objects.get(pk=result.ticket_id)
    expected = "Ordine 4412: " + "la copertina è strappata e " * 8 + "la copertina è…"
    assert (ticket.subject, len(ticket.subject)) == (expected, 244)
    # and the message keeps the subject whole, in the API too
    [message] = Message.objects.filter(ticket=ticket)
    assert message.subject == subject
    messages = api(desk.agent).get(f"/tickets/{ticket.pk}/messages").json()["items"]
    assert [m["subject"] for m in messages] == [subject]
    assert InboundMail.objects.get(pk=result.inbound_id).subject == subject[:253] + "…"


def test_a_replys_subject_is_kept_on_its_message(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    result = ingest(
        mail(subject="Re: My order arrived damaged — photos", message_id="<s2@customer.test>",
             headers={"In-Reply-To": "<m1@customer.test>"})
    )  # fmt: skip
    assert (result.status, result.ticket_id) == ("reply", ticket.pk)
    assert Message.objects.get(pk=result.message_id).subject == "Re: My order arrived damaged — photos"


@pytest.mark.parametrize("required", ["always", "to_solve"])
def test_mail_to_a_department_with_a_field_required_of_agents_opens_a_ticket_and_is_acknowledged(
    desk: Any, required: str
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.outbox.models import OutboxMessage
    from sportello.tickets.fields_services import LayoutRowSpec, custom_field_create, layout_replace
    from sportello.tickets.selectors import ticket_fields_to_fill

    # given Books requires an order number of its agents, and acknowledges every new ticket
    custom_field_create(actor=None, key="order_number", label="Order number", type="text")
    layout_replace(
        actor=None, department=desk.books, rows=[LayoutRowSpec(field="order_number", required=required)]
    )
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=NOW,
              definition={"key": "ack", "name": "Ack", "on": ["ticket.created"],
                          "when": {"field": "ticket.channel", "op": "is", "value": "email"},
                          "actions": [{"notify": {"to": ["requester"], "subject": "We got it",
                                                  "body": "Thanks"}}]})  # fmt: skip
    # when a customer writes in (a customer cannot fill an agent's field)
    result = ingest(mail())
    # then it is a ticket, acknowledged, showing the agents the field they must fill
    assert (result.status, result.reason) == ("ticket", "")
    ticket = Ticket.objects.get(pk=result.ticket_id)
    assert [r.field.key for r in ticket_fields_to_fill(ticket=ticket)] == ["order_number"]
    assert list(OutboxMessage.objects.filter(ticket=ticket).values_list("payload__subject", flat=True)) == [
        "We got it"
    ]
    # and her reply is taken too
    assert (
        ingest(mail(message_id="<m2@customer.test>", headers={"In-Reply-To": "<m1@customer.test>"})).status
        == "reply"
    )


@pytest.mark.parametrize(
    ("subject", "body", "headers", "language", "acknowledged"),
    [
        ("Pacco non arrivato", "Buongiorno, ho ordinato un libro due settimane fa e non è ancora arrivato.\n"
         "Grazie\n\nInviato da iPhone", {}, "it", "Abbiamo ricevuto la sua richiesta"),
        ("Pedido", "hola, el paquete llego vacio. por que? espero su respuesta", {}, "es",
         "Hemos recibido su solicitud"),
        ("Order 4412", "Ok", {}, "en", "We received your request"),
        ("Ordine", "Buongiorno, il pacco non è arrivato.", {"Content-Language": "es-ES"}, "es",
         "Hemos recibido su solicitud"),
    ],
)  # fmt: skip
def test_a_new_senders_language_is_read_from_their_first_message_and_acknowledged_in_it(
    desk: Any, subject: str, body: str, headers: dict[str, str], language: str, acknowledged: str
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.outbox.models import OutboxMessage

    # given a desk that acknowledges mail with the shipped template, in the customer's language
    ack = {"notify": {"to": ["requester"], "template": "ticket_received"}}
    rule_save(kind=RuleKind.EVENT, created_by=desk.admin, now=NOW,
              definition={"key": "ack", "name": "Ack", "on": ["ticket.created"],
                          "when": {"field": "ticket.channel", "op": "is", "value": "email"},
                          "actions": [ack]})  # fmt: skip
    # when a new customer writes, mostly without a Content-Language header (set_content drops
    # Content-* headers: it goes on top)
    top = "".join(f"{name}: {value}\n" for name, value in headers.items()).encode()
    result = ingest(top + mail(subject=subject, body=body))
    # then they are a contact in the language they wrote in (or the header's, or the desk's
    # default when too short to tell), and the acknowledgement is in it
    assert result.status == "ticket"
    assert Contact.objects.get(email="carla@customer.test").language == language
    [subject_sent] = OutboxMessage.objects.filter(ticket_id=result.ticket_id).values_list(
        "payload__subject", flat=True
    )
    assert acknowledged in subject_sent


def test_html_only_mail_gets_a_text_body_and_sanitised_html(desk: Any) -> None:
    html = "<p>Hello <b>team</b></p><script>alert(1)</script><img src=x onerror=alert(1)>"
    result = ingest(mail(body="", html=html))
    message = Message.objects.get(pk=result.message_id)
    assert message.body_text == "Hello team"
    assert "<script" not in message.body_html
    assert "onerror" not in message.body_html
    assert "<b>team</b>" in message.body_html


def test_attachments_are_stored_on_the_message_with_safe_names(desk: Any) -> None:
    m = EmailMessage()
    m["From"] = "carla@customer.test"
    m["To"] = BOOKS
    m["Subject"] = "Receipt"
    m["Message-ID"] = "<a1@customer.test>"
    m.set_content("See attached.")
    m.add_attachment(
        b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="../../etc/receipt.pdf"
    )
    result = ingest(m.as_bytes())
    [attachment] = Attachment.objects.filter(message_id=result.message_id)
    assert (attachment.filename, attachment.size, attachment.uploaded_by_kind) == (
        "receipt.pdf",
        16,
        "contact",
    )
    [event] = TicketEvent.objects.filter(ticket_id=result.ticket_id, kind="attachment", field="received")
    message = Message.objects.get(pk=result.message_id)
    who = (event.actor_kind, event.actor_id, event.change_id)
    assert who == ("contact", message.author_contact_id, message.change_id)
    assert recorded(event)["attachment_id"] == attachment.pk


def test_the_mta_endpoint_takes_raw_mail_from_admins(desk: Any, api: Any) -> None:
    raw = mail()
    r = api(desk.admin).post("/mail/inbound?recipient=books@shop.test", raw, content_type="message/rfc822")
    assert r.status_code == 201, r.content
    assert (r.json()["status"], r.json()["duplicate"]) == ("ticket", False)
    again = api(desk.admin).post("/mail/inbound", raw, content_type="message/rfc822")
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert api(desk.agent).post("/mail/inbound", raw, content_type="message/rfc822").status_code == 403
    assert api(desk.admin).post("/mail/inbound", raw, content_type="text/plain").status_code == 415


def test_the_pipe_command_ingests_stdin(desk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from django.core.management import call_command

    class Stdin:
        buffer = io.BytesIO(mail())

    monkeypatch.setattr(sys, "stdin", Stdin())
    out = io.StringIO()
    call_command("mail", "ingest", "--recipient", BOOKS, stdout=out)
    assert "ticket" in out.getvalue()
    assert Ticket.objects.count() == 1


def test_a_reply_whose_dmarc_check_failed_is_kept_but_changes_nothing(desk: Any) -> None:
    ticket = Ticket.objects.get(pk=ingest(mail()).ticket_id)
    agent_reply(desk, ticket, status="pending")
    results = "mx.shop.test; spf=fail smtp.mailfrom=customer.test; dmarc=fail header.from=customer.test"
    headers = {"In-Reply-To": "<m1@customer.test>", "Authentication-Results": results}
    result = ingest(mail(message_id="<d1@customer.test>", body="Close it please", headers=headers))
    assert (result.status, result.ticket_id) == ("reply", ticket.pk)
    assert result.reason.startswith("unverified sender (dmarc=fail)")
    ticket.refresh_from_db()
    assert ticket.status_category == "pending"


def test_one_message_sent_to_two_of_our_addresses_is_one_ticket(desk: Any) -> None:
    Mailbox.objects.create(address="electronics@shop.test", department=desk.electronics, created_at=NOW)
    raw = mail(to=f"{BOOKS}, electronics@shop.test")
    first = ingest(raw, recipient=BOOKS)
    second = ingest(raw, recipient="electronics@shop.test")  # the MTA delivers one copy per address
    # one ticket, in the department of the first address it reached; the second copy is a duplicate
    assert (first.status, second.duplicate, second.ticket_id) == ("ticket", True, first.ticket_id)
    assert Ticket.objects.get().department_id == desk.books.pk


@pytest.mark.parametrize(("human", "reopened"), [([], False), (["desk@itsm.customer.test"], True)])
def test_a_ticketing_system_relaying_people_can_be_declared_human(
    desk: Any, settings: Any, human: list[str], reopened: bool
) -> None:
    # given a customer's ticketing system whose replies (written by people) say auto-generated
    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_HUMAN_SENDERS": human}
    relayed = {"Auto-Submitted": "auto-generated"}
    ticket = Ticket.objects.get(pk=ingest(mail(sender="desk@itsm.customer.test", headers=relayed)).ticket_id)
    agent_reply(desk, ticket, status="pending")
    # when its next reply arrives
    headers = {**relayed, "In-Reply-To": "<m1@customer.test>"}
    result = ingest(mail(sender="desk@itsm.customer.test", message_id="<i2@itsm.test>", headers=headers))
    # then it reopens the ticket only when the sender is declared human
    ticket.refresh_from_db()
    assert (result.status, ticket.status_category == "open") == ("reply", reopened)
    assert InboundMail.objects.get(pk=result.inbound_id).automatic is not reopened


def test_admins_review_what_was_received_and_download_it_as_it_arrived(desk: Any, api: Any) -> None:
    # given a ticket, and a message from an agent's address (quarantined)
    ingest(mail())
    quarantined = ingest(mail(sender="bruno@desk.test", message_id="<q1@desk.test>"))
    admin = api(desk.admin)
    # when an admin lists the quarantine
    r = admin.get("/mail/inbound", {"status": "quarantine"})
    assert r.status_code == 200, r.content
    [row] = r.json()["items"]
    assert (row["id"], row["sender"], row["ticket_id"]) == (quarantined.inbound_id, "bruno@desk.test", None)
    assert row["reason"].startswith("sent from an agent's address")
    # then everything received is listed newest first, and each message downloads as it arrived
    assert [i["status"] for i in admin.get("/mail/inbound").json()["items"]] == ["quarantine", "ticket"]
    raw = admin.client.get(f"/api/v1/mail/inbound/{quarantined.inbound_id}/raw", headers=admin.headers)
    assert raw.status_code == 200
    assert (raw["Content-Type"], raw["X-Content-Type-Options"]) == ("message/rfc822", "nosniff")
    assert raw["Content-Disposition"] == f'attachment; filename="inbound-{quarantined.inbound_id}.eml"'
    assert raw.content == mail(sender="bruno@desk.test", message_id="<q1@desk.test>")
    # and only admins see any of it
    assert api(desk.agent).get("/mail/inbound").status_code == 403
    assert admin.get("/mail/inbound", {"status": "lost"}).status_code == 422

"""A new contact's language comes from their first message, on every channel that creates one:
the message's `Content-Language` when it names a desk language, else the language its words are
written in (`mail.language`), else the desk's default (`LANGUAGE_CODE`). The acknowledgement a
new ticket sends goes out in it. An existing contact's language is never changed by a message."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from sportello.channels.inbound import mail_ingest
from sportello.channels.models import Mailbox
from sportello.contacts.language import desk_default_language, desk_languages, new_contact_language
from sportello.contacts.models import Contact
from testing import NOW

BOOKS = "books@shop.test"
SENDER = "carla@customer.test"
ACK_SUBJECT = {
    "en": "We received your request",
    "es": "Hemos recibido su solicitud",
    "it": "Abbiamo ricevuto la sua richiesta",
}
ACK_BODY = {
    "en": "Thank you for contacting us.",
    "es": "Gracias por contactar con nosotros.",
    "it": "grazie per averci contattato.",
}
ITALIAN = "Buongiorno, ho ordinato un libro due settimane fa e non è ancora arrivato. Potete controllare?"


@pytest.fixture(autouse=True)
def _mail(settings: Any, attachment_store: Path, desk: Any) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    settings.SPORTELLO = {**settings.SPORTELLO, "MAIL_DOMAIN": "desk.test"}
    Mailbox.objects.create(address=BOOKS, department=desk.books, created_at=NOW)
    # a desk that acknowledges every new ticket with the shipped template
    rule_save(
        kind=RuleKind.EVENT,
        created_by=desk.admin,
        now=NOW,
        definition={
            "key": "ack",
            "name": "Acknowledge",
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [{"notify": {"to": ["requester"], "template": "ticket_received"}}],
        },
    )


def mail(
    *,
    subject: str,
    body: str,
    sender: str = f"Carla <{SENDER}>",
    content_language: str | None = None,
    html: bool = False,
    message_id: str = "<m1@customer.test>",
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = BOOKS
    m["Subject"] = subject
    m["Date"] = format_datetime(NOW)
    m["Message-ID"] = message_id
    if html:
        m.set_content(f"<p>{body}</p>", subtype="html")
    else:
        m.set_content(body)
    if content_language is not None:
        m["Content-Language"] = content_language  # after set_content, which drops Content-*
    return m.as_bytes()


def acknowledgement(ticket_id: int) -> tuple[str, str]:
    from sportello.outbox.models import OutboxMessage

    [payload] = OutboxMessage.objects.filter(ticket_id=ticket_id).values_list("payload", flat=True)
    return str(payload["subject"]), str(payload["body"])


@pytest.mark.parametrize(
    ("subject", "body", "content_language", "language"),
    [
        ("Ordine non arrivato", ITALIAN, None, "it"),
        ("Pedido", "Hola, el paquete llegó vacío. ¿Pueden revisarlo?", "es-MX", "es"),
        (
            "Order not arrived",
            "Hi, I ordered a book two weeks ago and it still hasn't arrived. Can you check?",
            None,
            "en",
        ),
        ("Re: 4412", "ok thanks bye", None, "en"),  # too short to tell: the desk's default
        # the header comes before detection; its first desk language wins
        ("Ordine", ITALIAN, "fr, es-ES", "es"),
        # a header naming no desk language is passed over
        ("Ordine", ITALIAN, "de-DE", "it"),
    ],
)
def test_a_new_senders_language_comes_from_their_mail_and_the_acknowledgement_is_in_it(
    subject: str, body: str, content_language: str | None, language: str
) -> None:
    # when a new customer writes
    result = mail_ingest(
        raw=mail(subject=subject, body=body, content_language=content_language), via="mta", now=NOW
    )
    # then they are a contact in that language, and acknowledged in it
    assert result.status == "ticket"
    assert Contact.objects.get(email=SENDER).language == language
    ack_subject, ack_body = acknowledgement(result.ticket_id)  # type: ignore[arg-type]
    assert ACK_SUBJECT[language] in ack_subject
    assert ACK_BODY[language] in ack_body
    assert [text for lang, text in ACK_BODY.items() if lang != language and text in ack_body] == []


def test_too_short_to_tell_is_the_desks_default_not_english(settings: Any) -> None:
    # given a desk whose default language is Italian
    settings.LANGUAGE_CODE = "it"
    # when a new customer writes three words
    result = mail_ingest(raw=mail(subject="Re: 4412", body="ok thanks bye"), via="mta", now=NOW)
    # then they are Italian, the desk's default, and acknowledged in Italian
    assert Contact.objects.get(email=SENDER).language == "it"
    assert ACK_SUBJECT["it"] in acknowledgement(result.ticket_id)[0]  # type: ignore[arg-type]


def test_an_html_only_mail_is_read_through_its_text() -> None:
    result = mail_ingest(raw=mail(subject="Ordine", body=ITALIAN, html=True), via="mta", now=NOW)
    assert result.status == "ticket"
    assert Contact.objects.get(email=SENDER).language == "it"


def test_quoted_english_history_does_not_make_a_spanish_customer_english() -> None:
    body = (
        "Hola, han pasado dos semanas y el dinero no ha llegado a mi cuenta.\n\n"
        "On Mon, 3 Nov 2026 at 10:00, Shop <refunds@shop.example> wrote:\n"
        + "> We have processed your refund. It should reach your account within five days.\n"
        * 4
    )
    mail_ingest(raw=mail(subject="Re: Your refund", body=body), via="mta", now=NOW)
    assert Contact.objects.get(email=SENDER).language == "es"


def test_an_existing_contacts_language_is_never_changed_by_a_message(desk: Any) -> None:
    # given a known customer whose language is English (and one whose is Spanish)
    from sportello.contacts.services import contact_get_or_create

    carla = contact_get_or_create(email=SENDER, name="Carla", language="en")
    # when they write in Italian, with a Content-Language header naming Italian
    result = mail_ingest(raw=mail(subject="Ordine", body=ITALIAN, content_language="it"), via="mta", now=NOW)
    # then their language is still English, and the acknowledgement is English
    assert result.status == "ticket"
    carla.refresh_from_db()
    assert carla.language == "en"
    assert ACK_SUBJECT["en"] in acknowledgement(result.ticket_id)[0]  # type: ignore[arg-type]
    # and a known customer of another language keeps it too
    mail_ingest(
        raw=mail(subject="Ordine", body=ITALIAN, sender=desk.alice.email, message_id="<m2@c.test>"),
        via="mta",
        now=NOW,
    )
    language_before = desk.alice.language
    desk.alice.refresh_from_db()
    assert desk.alice.language == language_before


def test_a_known_senders_message_is_not_read_for_its_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a known customer
    from sportello.channels import inbound
    from sportello.contacts.services import contact_get_or_create

    contact_get_or_create(email=SENDER, name="Carla", language="es")
    calls: list[str] = []
    monkeypatch.setattr(inbound, "new_contact_language", lambda **kw: calls.append("read") or "it")  # type: ignore[func-returns-value]
    # when they write, then their message's language is not worked out (nothing to decide)
    mail_ingest(raw=mail(subject="Ordine", body=ITALIAN), via="mta", now=NOW)
    assert calls == []


# --------------------------------------------------------------------------------------------
# The ticket API's new requester, and the agent's new-ticket page


def open_for_new_requester(api: Any, desk: Any, **over: Any) -> Contact:
    data = {
        "subject": "Ordine non arrivato",
        "description": ITALIAN,
        "department_id": desk.books.pk,
        "requester_email": "nina@acme.test",
        "requester_name": "Nina",
        **over,
    }
    r = api(desk.agent).post("/tickets", data)
    assert r.status_code == 201, r.content
    return Contact.objects.get(pk=r.json()["requester_id"])


def test_the_api_gives_a_new_requester_the_language_of_the_ticket(desk: Any, api: Any) -> None:
    assert open_for_new_requester(api, desk).language == "it"


def test_the_api_gives_a_new_requester_the_language_the_request_names(desk: Any, api: Any) -> None:
    assert open_for_new_requester(api, desk, requester_language="pt-BR").language == "pt-BR"


def test_the_api_reads_an_html_only_description(desk: Any, api: Any) -> None:
    contact = open_for_new_requester(
        api,
        desk,
        subject="Pedido",
        description="",
        description_html="<p>Hola, el paquete llegó vacío. ¿Pueden revisarlo?</p>",
    )
    assert contact.language == "es"


def test_the_api_gives_a_new_requester_of_few_words_the_desks_default(desk: Any, api: Any) -> None:
    assert open_for_new_requester(api, desk, subject="4412", description="ok").language == "en"


def test_the_api_never_changes_an_existing_requesters_language(desk: Any, api: Any) -> None:
    from sportello.contacts.services import contact_get_or_create

    contact_get_or_create(email="nina@acme.test", language="en")
    assert open_for_new_requester(api, desk, requester_language="es").language == "en"
    assert Contact.objects.get(email="nina@acme.test").language == "en"


def test_an_unusable_requester_language_is_refused_by_name_and_nothing_is_written(
    desk: Any, api: Any
) -> None:
    from sportello.tickets.models import Ticket

    r = api(desk.agent).post(
        "/tickets",
        {
            "subject": "Ordine",
            "department_id": desk.books.pk,
            "requester_email": "nina@acme.test",
            "requester_language": "it IT!",
        },
    )
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == "requester_language"
    assert not Contact.objects.filter(email="nina@acme.test").exists()
    assert not Ticket.objects.exists()


def test_the_new_ticket_page_gives_a_new_customer_the_language_they_spoke(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post(
        "/tickets/new/",
        {
            "department": desk.books.pk,
            "new_name": "Walter",
            "new_email": "walter@example.test",
            "channel": "phone",
            "subject": "Pedido vacío",
            "priority": "normal",
            "description": "Hola, el paquete llegó vacío. ¿Pueden revisarlo?",
        },
    )
    assert r.status_code == 302, r.content
    assert Contact.objects.get(email="walter@example.test").language == "es"


# --------------------------------------------------------------------------------------------
# The desk's languages


def test_the_desks_languages_and_default_come_from_settings(settings: Any) -> None:
    assert desk_languages() == ("en", "es", "it")
    assert desk_default_language() == "en"
    settings.LANGUAGE_CODE = "es-ES"
    assert desk_default_language() == "es"
    settings.LANGUAGE_CODE = "fr"  # not one of the desk's: its first language
    assert desk_default_language() == "en"
    settings.LANGUAGES = [("it", "Italiano"), ("es", "Español")]
    assert new_contact_language(subject="Order", body="Hello, the parcel never arrived, please help.") == "it"

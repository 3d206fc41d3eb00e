"""The customer portal in a real browser: a customer signs in by the link mailed to them (read
from the SMTP sink), submits a Books request with an attachment in Italian and gets the Italian
acknowledgement, sees it in My requests, reads the agent's reply and answers. Every portal page
has zero axe-core violations and nothing overflowing sideways on a 390 px phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sportello.outbox.models import OutboxMessage
from testing import portal_on

from .axe import assert_accessible
from .pages import no_sideways_overflow, settled, shot


def _deliver_all() -> None:
    from sportello.outbox.services import outbox_deliver

    for pk in OutboxMessage.objects.filter(kind="email").values_list("pk", flat=True):
        outbox_deliver(outbox_id=pk)


def _check(page: Any, name: str) -> None:
    settled(page)
    assert_accessible(page, context=name)
    no_sideways_overflow(page)
    shot(page, name)


def test_a_customer_signs_in_by_link_submits_a_request_and_answers_the_agent(
    desk: Any, layouts: Any, phone_page: Any, url: Any, sink: Any, attachment_store: Any, tmp_path: Path
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.core import clock

    # given a desk whose portal is on, acknowledging every new ticket, and Giulia, who writes Italian
    portal_on(desk.admin, name="Libreria Sole", now=clock.now())
    rule_save(
        kind=RuleKind.EVENT,
        created_by=desk.admin,
        now=clock.now(),
        definition={
            "key": "ack",
            "name": "ack",
            "when": {"all": [{"field": "event.type", "op": "is", "value": "ticket.created"}]},
            "actions": [{"notify": {"to": ["requester"], "template": "ticket_received"}}],
        },
    )
    from sportello.contacts.services import contact_create

    contact_create(email="giulia@posta.test", name="Giulia Bianchi", language="it")
    page = phone_page
    page.goto(url("/portal/"))
    _check(page, "portal-home-390")
    # when she switches the portal to Italian and asks for a sign-in link
    page.get_by_label("Language").select_option("it")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_selector("html[lang=it]")
    page.get_by_role("link", name="Accedi", exact=True).first.click()
    _check(page, "portal-sign-in-390")
    page.get_by_label("Indirizzo e-mail").first.fill("giulia@posta.test")
    page.get_by_role("button", name="Inviami un link di accesso").click()
    _check(page, "portal-sign-in-sent-390")
    _deliver_all()
    (mail,) = [m.parsed() for m in sink.received]
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://\S+/portal/sign-in/\S+/", body)
    assert link is not None, body
    path = link.group(0)[link.group(0).index("/portal/") :]
    page.goto(url(path))
    _check(page, "portal-sign-in-continue-390")
    page.get_by_role("button", name="Continua").click()
    page.wait_for_url(re.compile(r"/portal/tickets/$"))
    _check(page, "portal-tickets-empty-390")
    # she submits a Books request with an attachment
    page.get_by_role("link", name="Invia una richiesta").first.click()
    _check(page, "portal-request-pick-390")
    page.get_by_role("link", name="Books").click()
    _check(page, "portal-request-form-390")
    page.get_by_label("Oggetto").fill("Pagine mancanti")
    page.get_by_label("Descrizione").fill("Mancano le pagine da 30 a 40.")
    page.get_by_label("Order number").fill("A-1001")
    receipt = tmp_path / "ricevuta.pdf"
    receipt.write_bytes(b"%PDF-1.4 ricevuta")
    page.get_by_label("Allegati").set_input_files(str(receipt))
    page.get_by_role("button", name="Invia la richiesta").click()
    page.wait_for_url(re.compile(r"/portal/tickets/\d+/$"))
    _check(page, "portal-ticket-390")
    assert page.get_by_role("link", name="ricevuta.pdf").is_visible()
    # then the acknowledgement is in Italian
    from sportello.tickets.models import Ticket

    ticket = Ticket.objects.get(subject="Pagine mancanti")
    acks = [m.payload for m in OutboxMessage.objects.filter(ticket=ticket, kind="email")]
    assert [a["language"] for a in acks] == ["it"]
    assert acks[0]["subject"].startswith(f"[#{ticket.number}] ")
    assert "Pagine mancanti" in acks[0]["subject"]
    # the request is in My requests
    page.get_by_role("link", name="Le mie richieste").first.click()
    assert page.get_by_role("link", name=re.compile("Pagine mancanti")).is_visible()
    _check(page, "portal-tickets-390")
    # the agent replies; she reads it and answers
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.tickets import pipeline

    agent = Actor(kind=ActorKind.AGENT, id=desk.agent.pk, label=desk.agent.email, principal=desk.agent)
    pipeline.ticket_apply(
        ticket_id=ticket.pk,
        mutation=pipeline.Mutation(
            actor=agent, via=Via.WEB, message=(pipeline.NewMessage(body="Le spediamo una copia nuova."))
        ),
        now=clock.now(),
    )
    page.get_by_role("link", name=re.compile("Pagine mancanti")).click()
    assert page.get_by_text("Le spediamo una copia nuova.").is_visible()
    page.get_by_label("La tua risposta").fill("Grazie mille!")
    page.get_by_role("button", name="Invia", exact=True).click()
    page.wait_for_url(re.compile(r"#latest$"))
    assert page.get_by_text("Grazie mille!").is_visible()
    _check(page, "portal-ticket-answered-390")
    page.get_by_role("link", name="Account").click()
    _check(page, "portal-account-390")


def test_portal_pages_on_a_desktop_are_accessible(desk: Any, page: Any, url: Any) -> None:
    for path, name in (
        ("/portal/", "portal-home-1280"),
        ("/portal/sign-in/", "portal-sign-in-1280"),
        (f"/portal/requests/new/?department={desk.books.pk}", "portal-request-form-1280"),
        ("/portal/sign-in/not-a-token/", "portal-link-invalid-1280"),
    ):
        page.goto(url(path))
        _check(page, name)


def test_a_designated_contact_answers_and_closes_a_colleagues_request(
    desk: Any, phone_page: Any, url: Any
) -> None:
    from sportello.contacts.services import contact_create
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.kb.models import Article, ArticleTranslation, KbCategory, KbSection
    from sportello.portal import services
    from sportello.tickets.models import Message, StatusCategory, Ticket
    from sportello.tickets.services import ticket_open

    # given Carla's request at Acme, Alice designated to see Acme's requests, a popular article
    now = clock.now()
    carla = contact_create(email="carla@acme.test", name="Carla Acme")
    services.designated_set(contact=desk.alice, designated=True, actor=desk.admin, now=now)
    services.password_set(contact=desk.alice, password="a long portal password 42", now=now)
    ticket = ticket_open(
        principal=desk.admin,
        via=Via.WEB,
        data={
            "subject": "Acme invoice",
            "description": "Where is the invoice?",
            "department_id": desk.books.pk,
            "requester_id": carla.pk,
        },
        now=now,
    ).ticket
    category = KbCategory.objects.create(
        slug="orders", title={"en": "Orders"}, created_at=now, updated_at=now
    )
    section = KbSection.objects.create(
        category=category, slug="returns", title={"en": "Returns"}, created_at=now, updated_at=now
    )
    article = Article.objects.create(section=section, created_at=now, updated_at=now)
    ArticleTranslation.objects.create(
        article=article,
        language="en",
        title="Returning a book",
        slug="returning-a-book",
        summary="How to send a book back.",
        state="public",
        view_count=12,
        created_at=now,
        updated_at=now,
    )
    page = phone_page
    page.goto(url("/portal/"))
    assert page.get_by_role("link", name="Returning a book").is_visible()
    _check(page, "portal-home-popular-390")
    # when Alice signs in with her password and opens her organization's requests
    page.goto(url("/portal/sign-in/"))
    page.get_by_text("Sign in with a password").click()
    page.locator("#id_pw-email").fill("alice@acme.test")
    page.locator("#id_pw-password").fill("a long portal password 42")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/tickets/$"))
    page.get_by_role("link", name="Acme", exact=True).click()
    page.wait_for_url(re.compile(r"scope=organization$"))
    _check(page, "portal-tickets-organization-390")
    page.get_by_role("link", name=re.compile("Acme invoice")).click()
    assert page.get_by_text("Requested by Carla Acme").is_visible()
    _check(page, "portal-ticket-designated-390")
    # she answers Carla's request and closes it
    page.get_by_label("Your reply").fill("The invoice went out on Monday.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(re.compile(r"#latest$"))
    page.get_by_role("button", name="Close request").click()
    page.wait_for_selector(".status-solved")
    _check(page, "portal-ticket-designated-closed-390")
    # then the reply is hers and the request is solved
    reply = Message.objects.get(ticket=ticket, body_text="The invoice went out on Monday.")
    assert (reply.author_contact_id, reply.via) == (desk.alice.pk, "portal")
    assert Ticket.objects.get(pk=ticket.pk).status_category == StatusCategory.SOLVED


def test_an_admin_hides_a_department_from_the_portal(desk: Any, page: Any, url: Any, sign_in: Any) -> None:
    sign_in(page, desk.admin)
    page.goto(url("/console/portal/"))
    _check(page, "console-portal-departments-1280")
    page.get_by_label("Electronics").uncheck()
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=The portal's settings are saved.")
    page.goto(url("/portal/requests/new/"))
    assert page.get_by_text("To: Books").is_visible()
    _check(page, "portal-request-form-one-department-1280")

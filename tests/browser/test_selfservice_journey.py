"""Self-service end to end, as two Italian customers and an agent live it, in a real browser.

Chiara starts a request in the portal, sees a suggested article while she types, reads it,
finds it helpful and leaves: after seven days without a ticket from her session she counts as
deflected. Giulia signs in by the e-mailed link, submits a Books request with an attachment, gets
the acknowledgement in Italian, reads the agent's reply in the portal and answers; the agent
solves the ticket in the Desk; the survey reaches the SMTP sink in Italian; one click on "bad"
tells the manager (a rule). Every portal page: zero axe-core violations, nothing overflowing
sideways on a 390 px phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from sportello.outbox.models import OutboxMessage
from testing import portal_on

from .axe import assert_accessible
from .pages import no_sideways_overflow, settled, shot

TRACKING = (
    "<p>Quando il pacco parte le inviamo un'e-mail con il link di tracciamento del corriere. "
    "Il primo aggiornamento può arrivare entro 24 ore.</p><h2>Il tracciamento non si aggiorna?</h2>"
    "<p>Attenda un giorno lavorativo, poi ci scriva con il numero d'ordine.</p>"
)


@pytest.fixture
def italian_phone(_chromium: Any) -> Iterator[Any]:
    """A phone whose browser asks for Italian."""
    context = _chromium.new_context(viewport={"width": 390, "height": 844}, locale="it-IT")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _check(page: Any, name: str) -> None:
    settled(page)
    assert_accessible(page, context=name)
    no_sideways_overflow(page)
    shot(page, name)


def _deliver_all() -> None:
    """What the worker would send now (a few seconds ahead: the survey fires one second ahead)."""
    from sportello.core import clock
    from sportello.outbox.services import outbox_deliver

    for pk in OutboxMessage.objects.filter(kind="email", status="pending").values_list("pk", flat=True):
        outbox_deliver(outbox_id=pk, now=clock.now() + timedelta(seconds=5))


def _desk_setup(desk: Any) -> Any:
    """Portal on; Books acknowledges new tickets and surveys solved ones at once; a bad rating
    tells Mara, the manager; a small knowledge base with Italian and English articles."""
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.core import clock
    from sportello.kb import services as kb
    from sportello.surveys.policies import PolicyIn, survey_policy_save

    now = clock.now()
    portal_on(desk.admin, name="Libreria Sole", now=now)
    manager = agent_create(
        email="mara@desk.test", name="Mara Manager", role=Role.AGENT, departments=[desk.books]
    )
    survey_policy_save(
        actor=desk.admin, department_id=desk.books.pk, now=now,
        data=PolicyIn(enabled=True, delay_minutes=0, channels=("email", "portal")),
    )  # fmt: skip
    rule_save(
        kind=RuleKind.EVENT, created_by=desk.admin, now=now,
        definition={
            "key": "ack", "name": "Acknowledge new tickets",
            "when": {"all": [{"field": "event.type", "op": "is", "value": "ticket.created"}]},
            "actions": [{"notify": {"to": ["requester"], "template": "ticket_received"}}],
        },
    )  # fmt: skip
    rule_save(
        kind=RuleKind.EVENT, created_by=desk.admin, now=now,
        definition={
            "key": "bad-rating", "name": "Bad rating: tell the manager",
            "when": {"all": [{"field": "event.rated", "op": "is", "value": True},
                             {"field": "ticket.satisfaction", "op": "is", "value": "bad"}]},
            "actions": [{"notify": {"to": [f"agent:{manager.pk}"],
                                    "subject": "Bad rating on #{{ ticket.number }}",
                                    "body": "{{ requester.name }} rated #{{ ticket.number }} badly."}}],
        },
    )  # fmt: skip
    orders = kb.category_create(
        slug="orders", title={"en": "Orders", "it": "Ordini"}, actor=desk.admin, now=now
    )
    shipping = kb.section_create(
        category=orders,
        slug="shipping",
        title={"en": "Shipping", "it": "Spedizioni"},
        actor=desk.admin,
        now=now,
    )
    articles = {}
    for key, en, it in (
        ("tracking", "Track your parcel", "Tracciare il pacco"),
        ("returns", "Return a book", "Restituire un libro"),
        ("password", "Reset your password", "Reimpostare la password"),
    ):
        article = kb.article_create(
            section=shipping, source_language="en", key=key, actor=desk.admin, now=now
        )
        kb.translation_save(
            article=article, language="en", title=en, state="public", actor=desk.admin, now=now,
            body_html=f"<p>{en}: how it works, step by step.</p>",
        )  # fmt: skip
        kb.translation_save(
            article=article, language="it", title=it, state="public", actor=desk.admin, now=now,
            body_html=TRACKING if key == "tracking" else f"<p>{it}: come funziona, passo per passo.</p>",
        )  # fmt: skip
        articles[key] = article
    return articles


def test_one_customer_is_deflected_another_is_helped_and_rates_the_help(
    desk: Any, italian_phone: Any, page: Any, sign_in: Any, url: Any, sink: Any, attachment_store: Any,
    settings: Any, tmp_path: Path,
) -> None:  # fmt: skip
    from sportello.contacts.services import contact_create
    from sportello.core import clock
    from sportello.kb.deflection import deflection_stats
    from sportello.kb.models import ArticleTranslation
    from sportello.kb.models_suggest import SuggestionEvent
    from sportello.surveys.services import survey_fire_due
    from sportello.tickets.models import Message, Ticket

    settings.SPORTELLO = {**settings.SPORTELLO, "PUBLIC_URL": url("").rstrip("/")}
    articles = _desk_setup(desk)
    start = clock.now()

    # Chiara, not signed in, starts a Books request from her phone, in Italian (her browser's)
    chiara = italian_phone
    chiara.goto(url("/portal/"))
    expect(chiara.locator("html")).to_have_attribute("lang", "it")
    _check(chiara, "journey-portal-home-it-390")
    chiara.goto(url(f"/portal/requests/new/?department={desk.books.pk}"))
    chiara.get_by_label("Oggetto").fill("Il tracciamento del mio pacco non si aggiorna")
    suggestions = chiara.locator("#suggestions")
    expect(suggestions.get_by_role("heading")).to_have_text(
        "Questi articoli potrebbero rispondere alla tua domanda"
    )
    first = suggestions.locator(".kb-suggest-link").first
    expect(first).to_have_text("Tracciare il pacco")
    _check(chiara, "journey-request-suggestions-it-390")
    # she reads the article and finds it helpful
    first.click()
    chiara.wait_for_url(re.compile(r"/portal/kb/it/a/\d+-[\w-]+/"))
    expect(chiara.get_by_role("heading", level=1)).to_have_text("Tracciare il pacco")
    _check(chiara, "journey-article-it-390")
    chiara.get_by_role("button", name="Sì").click()
    expect(chiara.locator("#kb-feedback [role=status]")).to_contain_text("Grazie")
    _check(chiara, "journey-article-voted-it-390")
    # and leaves without a request
    chiara.context.clear_cookies()
    tracking_it = ArticleTranslation.objects.get(article=articles["tracking"], language="it")
    assert (tracking_it.helpful_count, tracking_it.view_count) == (1, 1)
    kinds = list(SuggestionEvent.objects.order_by("id").values_list("kind", flat=True))
    assert SuggestionEvent.Kind.OPENED in kinds
    assert SuggestionEvent.Kind.SUBMITTED not in kinds
    later = start + timedelta(days=8)
    stats = deflection_stats(since=start - timedelta(hours=1), until=later, now=later)
    assert (stats.sessions_engaged, stats.deflected, stats.not_deflected) == (1, 1, 0)

    # Giulia, a customer who writes Italian, signs in by the link e-mailed to her
    contact_create(email="giulia@posta.test", name="Giulia Bianchi", language="it")
    giulia = italian_phone
    giulia.goto(url("/portal/sign-in/"))
    giulia.get_by_label("Indirizzo e-mail").first.fill("giulia@posta.test")
    giulia.get_by_role("button", name="Inviami un link di accesso").click()
    _check(giulia, "journey-sign-in-sent-it-390")
    _deliver_all()
    (mail,) = [m.parsed() for m in sink.received]
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://\S+/portal/sign-in/\S+/", body)
    assert link is not None, body
    giulia.goto(link.group(0))
    giulia.get_by_role("button", name="Continua").click()
    giulia.wait_for_url(re.compile(r"/portal/tickets/$"))
    # she submits a Books request with an attachment
    giulia.get_by_role("link", name="Invia una richiesta").first.click()
    giulia.get_by_role("link", name="Books").click()
    giulia.get_by_label("Oggetto").fill("Pagine mancanti")
    giulia.get_by_label("Descrizione").fill("Mancano le pagine da 30 a 40 del libro che ho ricevuto.")
    receipt = tmp_path / "ricevuta.pdf"
    receipt.write_bytes(b"%PDF-1.4 ricevuta")
    giulia.get_by_label("Allegati").set_input_files(str(receipt))
    _check(giulia, "journey-request-form-it-390")
    giulia.get_by_role("button", name="Invia la richiesta").click()
    giulia.wait_for_url(re.compile(r"/portal/tickets/\d+/$"))
    expect(giulia.get_by_role("link", name="ricevuta.pdf")).to_be_visible()
    _check(giulia, "journey-ticket-it-390")
    ticket = Ticket.objects.get(subject="Pagine mancanti")
    assert ticket.department_id == desk.books.pk
    # the acknowledgement is in Italian, and reaches her
    (ack,) = OutboxMessage.objects.filter(ticket=ticket, kind="email")
    assert ack.payload["language"] == "it"
    _deliver_all()
    assert sink.received[-1].parsed()["To"] == "Giulia Bianchi <giulia@posta.test>"

    # the agent replies from the Desk
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    composer.get_by_label("Message").fill("Le spediamo subito una copia nuova.")
    composer.get_by_role("button", name="Send", exact=True).click()
    page.locator(".messages li.message.author-agent", has_text="copia nuova").wait_for()
    # Giulia reads it in the portal and answers
    giulia.reload()
    expect(giulia.get_by_text("Le spediamo subito una copia nuova.")).to_be_visible()
    giulia.get_by_label("La tua risposta").fill("Grazie mille, attendo il pacco.")
    giulia.get_by_role("button", name="Invia", exact=True).click()
    giulia.wait_for_url(re.compile(r"#latest$"))
    expect(giulia.get_by_text("Grazie mille, attendo il pacco.")).to_be_visible()
    _check(giulia, "journey-ticket-answered-it-390")

    # the agent sees her answer without a reload and solves the ticket
    page.locator(".messages li.message", has_text="attendo il pacco").wait_for(timeout=30_000)
    composer = page.locator("#reply-form")
    composer.get_by_label("Message").fill("La copia nuova è partita oggi.")
    composer.get_by_label("Send and set a status").first.click()
    composer.get_by_role("button", name="Send and set Solved").click()
    page.locator(".messages li.message.author-agent", has_text="partita oggi").wait_for()
    ticket.refresh_from_db()
    assert ticket.status_category == "solved"
    bodies = [
        b.strip()
        for b in Message.objects.filter(ticket=ticket).order_by("id").values_list("body_text", flat=True)
    ]
    assert bodies[-3:] == [
        "Le spediamo subito una copia nuova.",
        "Grazie mille, attendo il pacco.",
        "La copia nuova è partita oggi.",
    ]

    # the survey's timer fires; the survey reaches the SMTP sink, in Italian
    _deliver_all()
    received = len(sink.received)
    assert survey_fire_due(now=clock.now() + timedelta(seconds=1)) == ["sent"]
    _deliver_all()
    (survey,) = [m.parsed() for m in sink.received[received:]]
    assert survey["Subject"] == f"[#{ticket.number}] Com'è andata?"
    assert survey["To"] == "Giulia Bianchi <giulia@posta.test>"
    text = survey.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    bad = re.search(r"Scarsa, non sono soddisfatto:\n(\S+)", text)
    assert bad is not None, text
    # one click on "bad" records it and tells the manager
    giulia.goto(bad.group(1))
    expect(giulia.get_by_role("heading", name="Grazie per la sua valutazione!")).to_be_visible()
    _check(giulia, "journey-survey-thanks-it-390")
    (told,) = OutboxMessage.objects.filter(ticket=ticket, payload__to=["mara@desk.test"])
    assert told.payload["subject"] == f"Bad rating on #{ticket.number}"
    # and the agent sees the rating on the ticket
    page.reload()
    expect(page.locator("#ticket-satisfaction")).to_contain_text("Bad")
    assert_accessible(page, context="the rated ticket")
    # Chiara's deflection still stands: Giulia's request came from another session
    stats = deflection_stats(since=start - timedelta(hours=1), until=later, now=later)
    assert (stats.deflected, stats.not_deflected) == (1, 0)

"""Articles linked in replies: the parse of this desk's knowledge-base addresses, the service that
records them as the ticket's linked articles, the pipeline extension that calls it when an
agent's message is sent, and the selectors the ticket page, the picker and the editor read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from sportello.core.actors import Via
from sportello.kb import links, selectors
from sportello.kb.models import ArticleTicketLink
from sportello.kb.services import article_create, ticket_article_links_record, translation_save
from sportello.tickets.services import message_add

DESK = "https://help.example.test"


@pytest.fixture(autouse=True)
def _addresses(settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PUBLIC_URL": DESK + "/", "PORTAL_URL": ""}


def _article(desk: Any, section: Any, now: datetime, *, title: str, state: str, language: str = "en") -> Any:
    article = article_create(section=section, source_language=language, actor=desk.agent, now=now)
    translation_save(
        article=article,
        language=language,
        title=title,
        body_html=f"<p>{title}: how it works.</p>",
        state=state,
        actor=desk.agent,
        now=now,
    )
    return article


def _reply(desk: Any, ticket: Any, body: str, now: datetime, *, public: bool = True, by: Any = None) -> Any:
    return message_add(
        principal=by or desk.agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body=body,
        body_html="",
        public=public,
        attachment_ids=[],
        version=None,
        now=now,
    )


# -- the parse ----------------------------------------------------------------------------------


def test_linked_article_ids_reads_portal_and_desk_addresses_in_order_once() -> None:
    texts = [
        f"See [Returns]({DESK}/portal/kb/en/a/12-returns/) and {DESK}/kb/articles/7/it/ then "
        f"{DESK}/portal/kb/es/a/12-devoluciones/ again",
        f'<a href="{DESK}/portal/kb/it/a/5/">bare</a>',
    ]
    assert links.linked_article_ids(texts) == [12, 7, 5]


def test_linked_article_ids_ignores_other_sites_and_other_pages() -> None:
    texts = [
        "https://other.test/portal/kb/en/a/3-returns/",
        f"{DESK}.evil.test/portal/kb/en/a/4-x/",
        f"{DESK}/portal/kb/en/c/orders/",
        f"{DESK}/portal/kb/en/a/99x/",
        "/portal/kb/en/a/6-relative/",
    ]
    assert links.linked_article_ids(texts) == []


def test_linked_article_ids_follows_the_portal_address(settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "PORTAL_URL": "https://support.example.test"}
    text = f"https://support.example.test/kb/en/a/8-x/ {DESK}/portal/kb/en/a/9-y/ {DESK}/kb/articles/10/en/"
    assert links.linked_article_ids([text]) == [8, 9, 10]


def test_the_addresses_the_picker_inserts_parse_back() -> None:
    public = links.public_page_url(article_id=31, language="it", slug="resi-e-rimborsi")
    desk = links.desk_page_url(article_id=32, language="en")
    assert public == f"{DESK}/portal/kb/it/a/31-resi-e-rimborsi/"
    assert desk == f"{DESK}/kb/articles/32/en/"
    assert links.linked_article_ids([f"[a]({public}) [b]({desk})"]) == [31, 32]


# -- the service --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_record_is_idempotent_and_keeps_who_linked_first(
    desk: Any, kb_section: Any, open_ticket: Any, now: datetime
) -> None:
    article = _article(desk, kb_section, now, title="Returns", state="public")
    ticket = open_ticket("Where is my refund?")
    text = f"{DESK}/portal/kb/en/a/{article.pk}-returns/"
    # Given the article is linked once, when it is linked again (by someone else), then one row.
    first = ticket_article_links_record(ticket_id=ticket.pk, texts=[text], actor=desk.agent, now=now)
    again = ticket_article_links_record(ticket_id=ticket.pk, texts=[text, text], actor=desk.admin, now=now)
    assert [r.article_id for r in first] == [article.pk]
    assert again == []
    rows = list(ArticleTicketLink.objects.filter(ticket=ticket))
    assert [(r.article_id, r.kind, r.created_by_id, r.created_at) for r in rows] == [
        (article.pk, "linked", desk.agent.pk, now)
    ]


@pytest.mark.django_db
def test_record_skips_missing_articles_and_drafts_a_light_agent_cannot_read(
    desk: Any, kb_section: Any, open_ticket: Any, now: datetime
) -> None:
    draft = _article(desk, kb_section, now, title="Draft", state="draft")
    internal = _article(desk, kb_section, now, title="Internal", state="internal")
    ticket = open_ticket("Question")
    text = " ".join(f"{DESK}/kb/articles/{pk}/en/" for pk in (draft.pk, internal.pk, 999999))
    written = ticket_article_links_record(ticket_id=ticket.pk, texts=[text], actor=desk.light, now=now)
    assert [r.article_id for r in written] == [internal.pk]
    assert set(ArticleTicketLink.objects.values_list("article_id", flat=True)) == {internal.pk}


@pytest.mark.django_db
def test_record_without_links_reads_nothing(
    desk: Any, open_ticket: Any, now: datetime, django_assert_num_queries: Any
) -> None:
    ticket = open_ticket("Question")
    with django_assert_num_queries(0):
        assert (
            ticket_article_links_record(
                ticket_id=ticket.pk,
                texts=["no link here https://other.test/kb/articles/3/en/"],
                actor=desk.agent,
                now=now,
            )
            == []
        )


# -- sent through the message service ------------------------------------------------------------


@pytest.mark.django_db
def test_a_sent_reply_links_the_articles_in_its_body(
    desk: Any, kb_section: Any, open_ticket: Any, now: datetime
) -> None:
    returns = _article(desk, kb_section, now, title="Returns", state="public")
    labels = _article(desk, kb_section, now, title="Labels", state="public")
    ticket = open_ticket("Broken parcel")
    _reply(desk, ticket, f"Read [Returns]({DESK}/portal/kb/en/a/{returns.pk}-returns/), thanks", now)
    _reply(
        desk,
        ticket,
        f"Also {DESK}/portal/kb/en/a/{labels.pk}-labels/ and {DESK}/portal/kb/en/a/{returns.pk}/",
        now,
    )
    rows = ArticleTicketLink.objects.filter(ticket=ticket).order_by("article_id")
    assert [(r.article_id, r.kind) for r in rows] == [(returns.pk, "linked"), (labels.pk, "linked")]


@pytest.mark.django_db
def test_a_customer_message_links_nothing(
    desk: Any, kb_section: Any, open_ticket: Any, now: datetime
) -> None:
    article = _article(desk, kb_section, now, title="Returns", state="public")
    ticket = open_ticket(
        "Broken parcel", by=desk.alice, description=f"I read {DESK}/portal/kb/en/a/{article.pk}-returns/"
    )
    assert not ArticleTicketLink.objects.filter(ticket=ticket).exists()


# -- what the ticket page, the picker and the editor read ----------------------------------------


@pytest.mark.django_db
def test_ticket_articles_lists_what_the_reader_may_see_in_their_language(
    desk: Any, kb_section: Any, open_ticket: Any, now: datetime
) -> None:
    public = _article(desk, kb_section, now, title="Returns", state="public")
    translation_save(
        article=public,
        language="it",
        title="Resi",
        body_html="<p>Resi.</p>",
        state="public",
        actor=desk.agent,
        now=now,
    )
    draft = _article(desk, kb_section, now, title="Draft", state="draft")
    ticket = open_ticket("Broken parcel")
    _reply(
        desk,
        ticket,
        f"{DESK}/portal/kb/en/a/{public.pk}-returns/ {DESK}/kb/articles/{draft.pk}/en/",
        now,
        public=False,
    )
    seen = selectors.ticket_articles(principal=desk.agent, ticket_id=ticket.pk, language="it")
    assert [(a.article_id, a.title, a.kind) for a in seen] == [
        (public.pk, "Resi", "linked"),
        (draft.pk, "Draft", "linked"),
    ]
    light = selectors.ticket_articles(principal=desk.light, ticket_id=ticket.pk, language="en")
    assert [(a.article_id, a.title) for a in light] == [(public.pk, "Returns")]
    assert selectors.article_ticket_count(article_id=public.pk) == 1
    assert selectors.article_ticket_count(article_id=draft.pk) == 1


@pytest.mark.django_db
def test_insertable_search_offers_public_translations_for_a_reply_in_the_readers_language(
    desk: Any, kb_section: Any, now: datetime
) -> None:
    public = _article(desk, kb_section, now, title="Refund of a parcel", state="public")
    translation_save(
        article=public, language="it", title="Rimborso di un pacco", body_html="<p>refund parcel</p>",
        state="public", actor=desk.agent, now=now, summary="Quando arriva il rimborso.",
    )  # fmt: skip
    internal = _article(desk, kb_section, now, title="Refund exceptions for a parcel", state="internal")
    reply = selectors.insertable_search(
        principal=desk.agent, query="refund parcel", public=True, language="it"
    )
    assert [(i.article_id, i.language, i.title, i.url) for i in reply] == [
        (public.pk, "it", "Rimborso di un pacco", f"{DESK}/portal/kb/it/a/{public.pk}-rimborso-di-un-pacco/")
    ]
    # the excerpt is the offered translation's, whichever translation the words matched
    assert [i.excerpt for i in reply] == ["Quando arriva il rimborso."]
    note = selectors.insertable_search(
        principal=desk.agent, query="refund parcel", public=False, language="es"
    )
    assert {(i.article_id, i.language, i.url) for i in note} == {
        (public.pk, "en", f"{DESK}/portal/kb/en/a/{public.pk}-refund-of-a-parcel/"),
        (internal.pk, "en", f"{DESK}/kb/articles/{internal.pk}/en/"),
    }


@pytest.mark.django_db
def test_a_public_reply_may_not_link_the_agents_page_a_note_may(
    desk: Any, kb_section: Any, open_ticket: Any, now: datetime, browser: Any
) -> None:
    from sportello.tickets.models import Message

    internal = _article(desk, kb_section, now, title="Courier claims", state="internal")
    ticket = open_ticket("Broken parcel")
    body = f"See [Courier claims]({DESK}/kb/articles/{internal.pk}/en/)"
    client = browser(desk.agent)
    # Given an address only agents open, when it is sent as a public reply, then it is refused inline.
    refused = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": body, "status": ""})
    assert refused.status_code == 422
    assert "A public reply cannot link to the agents&#x27; knowledge base" in refused.content.decode()
    assert not Message.objects.filter(ticket=ticket, body_text=body).exists()
    assert not ArticleTicketLink.objects.exists()
    # As an internal note it is sent, and the article is linked.
    sent = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": body, "status": ""})
    assert sent.status_code == 302
    assert Message.objects.filter(ticket=ticket, body_text=body, public=False).exists()
    assert list(ArticleTicketLink.objects.values_list("article_id", "kind")) == [(internal.pk, "linked")]


def test_desk_page_article_ids_reads_only_the_agents_pages() -> None:
    text = f"{DESK}/portal/kb/en/a/3-x/ {DESK}/kb/articles/4/en/ {DESK}/kb/articles/4/it/"
    assert links.desk_page_article_ids([text]) == [4]

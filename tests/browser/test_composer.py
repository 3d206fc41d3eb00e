"""The composer in a real browser: a reply with an attachment sent with "Send and set Pending",
a note that stays a note, a macro previewed then applied, a draft that survives a reload, and a
light agent who only writes notes."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from .axe import assert_accessible

SHOTS = os.environ.get("SPORTELLO_SHOTS")  # a directory: journeys save screenshots there


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _messages(ticket: Any) -> list[tuple[bool, str]]:
    from sportello.tickets.models import Message

    return [(m.public, m.body_text) for m in Message.objects.filter(ticket=ticket).order_by("id")]


def test_reply_with_an_attachment_and_send_and_set_pending(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, tmp_path: Any
) -> None:
    from sportello.tickets.models import Attachment

    ticket = open_ticket("Where is my order?", description="It has not arrived yet.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    assert "mode-public" in (composer.get_attribute("class") or "")
    # the agent attaches a file through the picker and watches it upload
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("Paid 12 EUR on 3 May.")
    composer.locator("[data-file-input]").set_input_files(str(receipt))
    done = composer.locator("[data-upload].done")
    done.wait_for()
    assert done.locator(".upload-name").inner_text() == "receipt.txt"
    # writes with the toolbar's bold and sends with "Send and set Pending"
    body = composer.get_by_label("Message")
    body.fill("Your receipt is attached. ")
    body.press("End")
    composer.get_by_role("button", name="Bold").click()
    body.press("Control+a")
    body.fill("Your receipt is **attached**.")
    _shot(page, "composer-reply")
    composer.get_by_label("Send and set a status").first.click()
    _shot(page, "composer-send-menu")
    composer.get_by_role("button", name="Send and set Pending").click()
    # then the conversation shows the reply with its file, and the ticket is pending
    reply = page.locator(".messages li.message.author-agent").last
    reply.wait_for()
    assert reply.locator("strong", has_text="attached").count() == 1
    assert "receipt.txt" in reply.inner_text()
    assert _messages(ticket)[-1] == (True, "Your receipt is **attached**.")
    ticket.refresh_from_db()
    assert ticket.status.key == "pending"
    assert Attachment.objects.get(ticket=ticket).message_id is not None
    assert page.locator("#reply-form textarea").input_value() == ""
    assert_accessible(page, context="the ticket after a reply")


def test_a_note_stays_a_note_after_sending(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    ticket = open_ticket("Where is my order?", description="It has not arrived yet.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    composer.get_by_text("Internal note", exact=True).first.click()
    assert "mode-internal" in (composer.get_attribute("class") or "")
    assert composer.locator(".mode-banner-internal").is_visible()
    assert not composer.locator(".mode-banner-public").is_visible()
    _shot(page, "composer-note")
    body = composer.get_by_label("Message")
    body.fill("Courier says Monday.")
    body.press("Control+Enter")
    page.locator(".messages li.message.internal", has_text="Courier says Monday.").wait_for()
    # the refreshed composer is still a note, focused for the next one
    composer = page.locator("#reply-form")
    assert "mode-internal" in (composer.get_attribute("class") or "")
    assert composer.get_by_label("Internal note").is_checked()
    assert _messages(ticket)[-1] == (False, "Courier says Monday.")
    ticket.refresh_from_db()
    assert ticket.status.key == "new"
    # and so it opens after a reload
    page.reload()
    assert page.locator("#reply-form").get_by_label("Internal note").is_checked()
    assert_accessible(page, context="the composer in note mode")


def test_macro_preview_then_apply(desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.automation import macros
    from sportello.core import clock

    macros.macro_create(
        definition={
            "key": "refund-ok",
            "name": "Refund approved",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"add_tags": ["refund_approved"]},
                {"reply": {"body": "Dear {{ requester.name }}, your refund is approved."}},
            ],
        },
        actor=desk.admin,
        now=clock.now(),
    )
    macros.macro_create(
        definition={
            "key": "escalate",
            "name": "Escalate to billing",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [{"add_tags": ["billing"]}],
        },
        actor=desk.admin,
        now=clock.now(),
    )
    ticket = open_ticket("Refund please", description="It has not arrived yet.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    composer.locator("summary", has_text="Macros").click()
    search = composer.get_by_placeholder("Search by name")
    search.fill("refund")
    assert composer.get_by_role("button", name="Escalate to billing").is_hidden()
    composer.get_by_role("button", name="Refund approved").click()
    dialog = page.locator("#macro-dialog")
    dialog.get_by_role("heading", name="Apply “Refund approved”?").wait_for()
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert re.search(r"Priority\s+Normal\s+High", text)
    assert "refund_approved" in text
    assert "Dear Alice Acme, your refund is approved." in text
    _shot(page, "composer-macro-preview")
    assert_accessible(page, context="the macro preview dialog")
    ticket.refresh_from_db()
    assert ticket.priority == 2  # the preview wrote nothing
    dialog.get_by_role("button", name="Apply").click()
    page.locator(".messages li.message", has_text="your refund is approved").wait_for()
    assert not page.locator("#macro-dialog").is_visible()
    ticket.refresh_from_db()
    assert ticket.priority == 3
    assert list(ticket.tags.values_list("name", flat=True)) == ["refund_approved"]


def test_a_draft_survives_a_reload_and_is_cleared_once_sent(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    ticket = open_ticket("Where is my order?", description="It has not arrived yet.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    composer.get_by_text("Internal note", exact=True).first.click()
    composer.get_by_label("Message").fill("Half-written thought about the courier")
    page.reload()
    composer = page.locator("#reply-form")
    assert composer.get_by_label("Message").input_value() == "Half-written thought about the courier"
    assert composer.get_by_label("Internal note").is_checked()
    composer.get_by_role("button", name="Send", exact=True).click()
    page.locator(".messages li.message.internal", has_text="Half-written thought").wait_for()
    page.reload()
    assert page.locator("#reply-form").get_by_label("Message").input_value() == ""


@pytest.mark.parametrize("phone", [False, True])
def test_a_light_agent_only_has_the_note(
    desk: Any, open_ticket: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, phone: bool
) -> None:
    ticket = open_ticket("Where is my order?", description="It has not arrived yet.")
    tab = phone_page if phone else page
    sign_in(tab, desk.light)
    tab.goto(url(f"/tickets/{ticket.pk}/"))
    composer = tab.locator("#reply-form")
    assert composer.get_by_label("Public reply").count() == 0
    assert composer.get_by_label("Internal note").is_checked()
    assert "mode-internal" in (composer.get_attribute("class") or "")
    assert composer.get_by_label("Send and set a status").count() == 0
    composer.get_by_label("Message").fill("Customer called again.")
    composer.get_by_role("button", name="Send", exact=True).click()
    tab.locator(".messages li.message.internal", has_text="Customer called again.").wait_for()
    assert _messages(ticket)[-1] == (False, "Customer called again.")
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= tab.viewport_size["width"]
    _shot(tab, f"composer-light{'-phone' if phone else ''}")
    assert_accessible(tab, context="the light agent's composer")


def test_a_closed_ticket_gets_a_follow_up_from_the_composer(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.tickets import services
    from sportello.tickets.models import Message, Ticket

    ticket = open_ticket("Broken spine", description="It has not arrived yet.")
    services.ticket_update(
        principal=desk.admin,
        ticket_id=ticket.pk,
        via=Via.WEB,
        data={"status": "closed", "version": ticket.version},
        now=clock.now(),
    )
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    assert page.locator("#reply-form").count() == 0
    form = page.locator("#followup-form")
    form.get_by_label("First message of the follow-up").fill("We are sending a new copy today.")
    _shot(page, "composer-follow-up")
    assert_accessible(page, context="the follow-up form of a closed ticket")
    form.get_by_role("button", name="Create a follow-up").click()
    page.wait_for_url(lambda u: f"/tickets/{ticket.pk}/" not in u)
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert page.url.endswith(f"/tickets/{new.pk}/")
    page.get_by_role("heading", name="Re: Broken spine").wait_for()
    assert page.locator(".messages li.message", has_text="We are sending a new copy today.").count() == 1
    assert Message.objects.get(ticket=new).author_agent_id == desk.agent.pk


def test_the_pickers_load_their_lists_when_first_opened(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.automation import macros
    from sportello.core import clock
    from sportello.notifications.canned import canned_create

    for name in ("Refund approved", "Escalate to billing"):
        macros.macro_create(
            definition={
                "key": name.lower().replace(" ", "-"), "name": name,
                "visibility": {"scope": "everyone", "ids": []}, "actions": [{"add_tags": ["x"]}],
            },
            actor=desk.admin, now=clock.now(),
        )  # fmt: skip
    canned_create(
        actor=desk.admin, title="Shipping delay", body="Hi {{ requester.name }}, it is on its way.",
        department_id=desk.books.pk, now=clock.now(),
    )  # fmt: skip
    ticket = open_ticket("Where is my order?", description="It has not arrived yet.")
    lists: list[str] = []
    page.on("request", lambda r: lists.append(r.url) if re.search(r"/(canned|macros)/$", r.url) else None)
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    page.wait_for_load_state("networkidle")
    # the page came without the lists, and asked for neither
    assert lists == []
    assert composer.get_by_role("button", name="Refund approved").count() == 0
    # the keyboard opens the macros picker: its filter has the focus, the list arrives
    composer.locator("summary", has_text="Macros").focus()
    page.keyboard.press("Enter")
    search = composer.get_by_placeholder("Search by name")
    # (the picker moves the focus when its toggle event runs, just after the key press)
    page.wait_for_function("() => document.activeElement?.placeholder === 'Search by name'", timeout=5000)
    search.press_sequentially("esc")
    composer.get_by_role("button", name="Escalate to billing").wait_for()
    assert lists == [url(f"/tickets/{ticket.pk}/macros/")]
    # what was typed while it loaded filters what arrived
    assert composer.get_by_role("button", name="Refund approved").is_hidden()
    assert_accessible(page, context="the macros picker, loaded")
    # Escape closes it and the focus returns to its button; opening it again asks nothing more
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.textContent.trim() === 'Macros'", timeout=5000)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    # the canned responses picker loads its own list, then inserts the chosen one
    composer.locator("summary", has_text="Canned responses").click()
    composer.get_by_role("button", name="Shipping delay").click()
    page.wait_for_function(
        "() => document.querySelector('#reply-form textarea').value.includes('on its way')"
    )
    assert composer.locator("textarea").input_value() == "Hi Alice Acme, it is on its way."
    assert lists == [url(f"/tickets/{ticket.pk}/macros/"), url(f"/tickets/{ticket.pk}/canned/")]


def test_the_signature_is_shown_under_a_reply_not_a_note(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    desk.agent.signature = "Bruno\nBooks desk"
    desk.agent.save(update_fields=["signature"])
    ticket = open_ticket("Where is my order?", description="It has not arrived yet.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    signature = page.locator("#composer-signature")
    assert signature.is_visible()
    assert (
        re.sub(r"\s+", " ", signature.inner_text())
        == "Your signature is added: Bruno Books desk Edit signature"
    )
    assert (
        signature.get_by_role("link", name="Edit signature").get_attribute("href")
        == "/me/profile/#id_signature"
    )
    page.get_by_label("Internal note").check()
    assert signature.is_hidden()
    page.get_by_label("Public reply").check()
    assert signature.is_visible()


def test_insert_an_article_by_keyboard_send_and_see_it_linked(
    desk: Any, open_ticket: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, now: Any
) -> None:
    from sportello.contacts.models import Contact
    from sportello.kb.links import public_page_url
    from sportello.kb.models import ArticleTicketLink
    from sportello.kb.services import article_create, category_create, section_create, translation_save

    category = category_create(slug="orders", title={"en": "Orders"}, actor=desk.admin, now=now)
    section = section_create(
        category=category, slug="returns", title={"en": "Returns"}, actor=desk.admin, now=now
    )
    article = article_create(section=section, source_language="en", actor=desk.agent, now=now)
    for language, title in (("en", "Return a damaged parcel"), ("it", "Restituire un pacco danneggiato")):
        translation_save(
            article=article, language=language, title=title, body_html="<p>Print the label, parcel.</p>",
            state="public", actor=desk.agent, now=now,
        )  # fmt: skip
    hidden = article_create(section=section, source_language="en", actor=desk.agent, now=now)
    translation_save(
        article=hidden, language="en", title="Damaged parcel: courier claims", body_html="<p>parcel</p>",
        state="internal", actor=desk.agent, now=now,
    )  # fmt: skip
    Contact.objects.filter(pk=desk.alice.pk).update(language="it")  # the requester reads Italian
    ticket = open_ticket("Broken parcel", description="My parcel arrived damaged.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    composer = page.locator("#reply-form")
    body = composer.get_by_label("Message")
    body.fill("Hello Alice, here is how: ")
    # "?" lists the shortcut; "l" (outside a field) opens the picker with its search focused
    page.locator("#conversation").first.click()
    page.keyboard.press("?")
    help_dialog = page.locator("#shortcuts-help")
    assert "Insert a knowledge-base article" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    page.keyboard.press("l")
    picker = page.get_by_role("dialog", name="Insert an article")
    picker.wait_for()
    search = picker.get_by_label("Search the knowledge base")
    assert search.evaluate("el => el === document.activeElement")
    page.keyboard.type("damaged parcel")
    option = picker.get_by_role("button", name=re.compile("Restituire un pacco danneggiato"))
    option.wait_for()
    # a public reply offers the public article only, in the requester's language
    assert picker.get_by_role("button", name=re.compile("courier claims")).count() == 0
    _shot(page, "composer-insert-article")
    assert_accessible(page, context="the insert-article picker")
    page.keyboard.press("ArrowDown")
    assert option.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert not picker.is_visible()
    address = public_page_url(article_id=article.pk, language="it", slug="restituire-un-pacco-danneggiato")
    assert body.input_value() == f"Hello Alice, here is how: [Restituire un pacco danneggiato]({address})"
    assert body.evaluate("el => el === document.activeElement")
    body.press("Control+Enter")
    reply = page.locator(".messages li.message.author-agent", has_text="here is how")
    reply.wait_for()
    assert reply.get_by_role("link", name="Restituire un pacco danneggiato").get_attribute("href") == address
    # the ticket's side shows the linked article; the link row was written with the reply
    linked = page.get_by_role("region", name="Linked articles")
    linked.get_by_role("link", name="Return a damaged parcel").wait_for()
    assert list(ArticleTicketLink.objects.filter(ticket=ticket).values_list("article_id", "kind")) == [
        (article.pk, "linked")
    ]
    assert_accessible(page, context="the ticket with a linked article")
    # on a phone the picker opens from its button and fits the screen
    sign_in(phone_page, desk.agent)
    phone_page.goto(url(f"/tickets/{ticket.pk}/"))
    phone_page.get_by_role("button", name="Insert article").click()
    phone_picker = phone_page.get_by_role("dialog", name="Insert an article")
    phone_picker.get_by_label("Search the knowledge base").fill("parcel")
    phone_picker.get_by_role("button", name=re.compile("Restituire un pacco danneggiato")).wait_for()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= phone_page.viewport_size["width"]
    box = phone_picker.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= phone_page.viewport_size["width"]
    _shot(phone_page, "composer-insert-article-phone")

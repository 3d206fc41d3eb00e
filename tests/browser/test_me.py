"""The agent's own things in a real browser: a mention that notifies (a note names a colleague,
who sees the unread count, opens the notification and lands on the ticket), and profile,
availability and API tokens. Every page is checked with axe-core."""

from __future__ import annotations

import re
import time
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_a_mention_that_notifies(
    desk: Any, open_ticket: Any, page: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    ticket = open_ticket("The parcel arrived damaged", description="It came in pieces.")
    # Ada writes a note naming Bruno, picking him from the suggestions with the keyboard
    sign_in(page, desk.admin)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    page.get_by_label("Internal note").check()
    body = page.locator('textarea[name="body"]')
    body.click()
    body.press_sequentially("Could you call the courier? @bru")
    listbox = page.get_by_role("listbox")
    option = listbox.get_by_role("option", name=re.compile("Bruno Books"))
    option.wait_for()
    assert option.get_attribute("aria-selected") == "true"
    assert body.get_attribute("aria-activedescendant") == option.get_attribute("id")
    shot(page, "mention-suggestions")
    assert_accessible(page, context="the ticket page with mention suggestions")
    body.press("Enter")
    assert body.input_value() == "Could you call the courier? @Bruno Books "
    assert listbox.is_hidden()
    body.press_sequentially("thanks")
    page.get_by_role("button", name="Send", exact=True).click()
    page.locator(".message.internal", has_text="@Bruno Books thanks").wait_for()

    # Bruno signs in (on his phone) and sees one unread notification
    sign_in(phone_page, desk.agent)
    bell = phone_page.get_by_role("button", name="Notifications: 1 unread")
    bell.wait_for()
    assert phone_page.locator(".bell-count").inner_text() == "1"
    assert_accessible(phone_page, context="the queue with an unread notification")
    # the bell opens its panel, whose "See all" leads to the whole list
    bell.click()
    panel = phone_page.locator("#bell-panel")
    panel.get_by_role("link", name="See all").click()
    phone_page.wait_for_url(url("/inbox/"))
    item = phone_page.get_by_role("button", name=re.compile("Ada Admin mentioned you in a note"))
    assert f"#{ticket.number}" in item.inner_text()
    no_sideways_overflow(phone_page)
    shot(phone_page, "inbox-phone")
    assert_accessible(phone_page, context="the notifications list")
    # opening it lands on the ticket, and the notification is read
    item.click()
    phone_page.wait_for_url(url(f"/tickets/{ticket.pk}/"))
    phone_page.get_by_role("heading", name=re.compile("The parcel arrived damaged")).wait_for()
    phone_page.get_by_role("button", name="Notifications: 0 unread").wait_for()
    assert phone_page.locator(".bell-count").count() == 0


def _mention_bruno(desk: Any, open_ticket: Any, subject: str) -> Any:
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.tickets.services import message_add

    ticket = open_ticket(subject)
    message_add(
        principal=desk.admin, ticket_id=ticket.pk, via=Via.WEB, body="@Bruno Books please look",
        body_html="", public=False, attachment_ids=[], version=None, now=clock.now(),
    )  # fmt: skip
    return ticket


def test_the_bell_panel_by_keyboard(desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.inbox.models import Notification

    # given two mentions of Bruno, the older one already read
    older = _mention_bruno(desk, open_ticket, "Older parcel")
    newer = _mention_bruno(desk, open_ticket, "Newer parcel")
    Notification.objects.filter(recipient=desk.agent, ticket=older).update(read_at=older.created_at)
    sign_in(page, desk.agent)
    bell = page.get_by_role("button", name="Notifications: 1 unread")
    bell.wait_for()
    assert bell.get_attribute("aria-expanded") == "false"
    panel = page.locator("#bell-panel")
    assert panel.is_hidden()
    # Enter opens the panel, which loads the latest notifications, unread first
    bell.focus()
    page.keyboard.press("Enter")
    assert bell.get_attribute("aria-expanded") == "true"
    items = panel.locator(".bell-item")
    items.first.wait_for()
    assert [re.sub(r"\s+", " ", t).strip() for t in items.locator(".bell-ticket").all_inner_texts()] == [
        f"#{newer.number} Newer parcel",
        f"#{older.number} Older parcel",
    ]
    assert "unread" in (items.first.get_attribute("class") or "")
    shot(page, "bell-panel")
    assert_accessible(page, context="the bell's panel open")
    # Escape closes it and gives the focus back to the bell
    page.keyboard.press("Escape")
    assert panel.is_hidden()
    assert bell.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.id") == "bell-button"
    # Space opens it again; "Mark all read" empties the count without leaving the page
    page.keyboard.press(" ")
    panel.get_by_role("button", name="Mark all read").click()
    panel.get_by_role("button", name="Mark all read").wait_for(state="detached")
    page.get_by_role("button", name="Notifications: 0 unread").wait_for()
    assert page.locator(".bell-count").count() == 0
    assert panel.locator(".bell-item.unread").count() == 0
    assert page.url == url("/")
    # opening a notification lands on its ticket
    panel.locator(".bell-open", has_text="Older parcel").click()
    page.wait_for_url(url(f"/tickets/{older.pk}/"))
    # a click elsewhere closes an open panel
    page.get_by_role("button", name="Notifications: 0 unread").click()
    panel.locator(".bell-item").first.wait_for()
    page.locator("h1").click()
    assert panel.is_hidden()


def test_mark_all_read_while_the_panel_is_still_loading(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, monkeypatch: Any
) -> None:
    from sportello.inbox import selectors, services

    # given a mention, and a server slow to answer: the panel's second load is read, then
    # answered a second later; marking all read takes two seconds
    _mention_bruno(desk, open_ticket, "Slow parcel")
    latest, mark_all, loads = selectors.notification_latest, services.notification_mark_all_read, []

    def slow_latest(**kwargs: Any) -> Any:
        loads.append(1)
        found = list(latest(**kwargs))
        if len(loads) == 2:
            time.sleep(1)
        return found

    def slow_mark_all(**kwargs: Any) -> Any:
        time.sleep(2)
        return mark_all(**kwargs)

    monkeypatch.setattr(selectors, "notification_latest", slow_latest)
    monkeypatch.setattr(services, "notification_mark_all_read", slow_mark_all)
    sign_in(page, desk.agent)
    bell = page.get_by_role("button", name="Notifications: 1 unread")
    bell.click()
    panel = page.locator("#bell-panel")
    panel.locator(".bell-item.unread").wait_for()
    page.keyboard.press("Escape")
    # when the panel is opened again and "Mark all read" pressed before its reload answers
    bell.click()
    panel.get_by_role("button", name="Mark all read").click()
    # then the bell counts none once marked (not at its next poll, 30 s on), and the panel
    # shows none unread: the reload's answer, older, did not come back over it
    page.get_by_role("button", name="Notifications: 0 unread").wait_for(timeout=8000)
    page.wait_for_timeout(1500)
    assert panel.locator(".bell-item.unread").count() == 0
    assert panel.locator(".bell-item").count() == 1


def test_a_new_notification_opens_its_ticket_and_is_read(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.inbox.models import Notification

    ticket = _mention_bruno(desk, open_ticket, "Where is my parcel")
    sign_in(page, desk.agent)
    page.get_by_role("button", name="Notifications: 1 unread").click()
    page.locator("#bell-panel .bell-open", has_text="Where is my parcel").click()
    page.wait_for_url(url(f"/tickets/{ticket.pk}/"))
    page.get_by_role("button", name="Notifications: 0 unread").wait_for()
    assert Notification.objects.get(recipient=desk.agent).read_at is not None


def test_profile_availability_and_tokens(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    sign_in(page, desk.agent)
    # the menu: availability, offline to away
    menu = page.locator(".me-menu > summary")
    menu.click()
    away = page.get_by_role("button", name="Away")
    assert away.get_attribute("aria-pressed") == "false"
    shot(page, "menu")
    assert_accessible(page, context="the agent's menu, open")
    away.click()
    page.locator(".availability [aria-pressed='true']", has_text="Away").wait_for()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Away"
    page.keyboard.press("Escape")
    assert page.locator(".me-menu[open]").count() == 0
    page.reload()
    assert page.locator(".me-menu > summary .presence-away").count() == 1

    # the profile: a new name and a time zone picked by typing
    page.locator(".me-menu > summary").click()
    page.get_by_role("link", name="Profile").click()
    page.wait_for_url(url("/me/profile/"))
    assert_accessible(page, context="the profile page")
    page.get_by_label("Name").fill("Bruno Libri")
    page.get_by_label("Time zone").fill("Mars/Base")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_text("Pick a time zone from the list").wait_for()
    page.get_by_label("Time zone").fill("Europe/Rome")
    page.get_by_label("Signature").fill("Bruno — Books team")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_role("status").filter(has_text="Your profile is saved.").wait_for()
    assert page.locator(".me-menu .whoami").inner_text() == "Bruno Libri"
    shot(page, "profile")
    desk.agent.refresh_from_db()
    assert (desk.agent.time_zone, desk.agent.signature) == ("Europe/Rome", "Bruno — Books team")

    # API tokens: create one, its secret shown once; revoke it
    page.get_by_role("navigation", name="Your settings").get_by_role("link", name="API tokens").click()
    page.get_by_label("Token name").fill("Reporting script")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New token")
    assert secret.input_value().startswith("spt_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    shot(page, "tokens")
    assert_accessible(page, context="the API tokens page with a new token")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke Reporting script").click()
    page.get_by_text("Token “Reporting script” revoked").wait_for()
    assert page.get_by_role("cell", name="Revoked").count() == 1
    assert_accessible(page, context="the API tokens page")

    # the password page
    page.get_by_role("link", name="Password").first.click()
    page.get_by_role("heading", name="Change your password").wait_for()
    assert_accessible(page, context="the password page")


def test_the_password_reset_pages(desk: Any, page: Any, url: Any) -> None:
    page.goto(url("/login/"))
    page.get_by_role("link", name="Forgot your password?").click()
    assert_accessible(page, context="the password reset page")
    page.get_by_label("Email").fill("nobody@desk.test")
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert_accessible(page, context="the reset link sent page")


def test_on_a_phone_the_menus_open_under_their_buttons(desk: Any, phone_page: Any, sign_in: Any) -> None:
    # given the top bar wrapped on two lines at 390 px
    sign_in(phone_page, desk.agent)
    for button, panel in ((".me-menu > summary", ".me-panel"), ("button.bell", "#bell-panel")):
        # when the agent opens the menu
        phone_page.locator(button).click()
        phone_page.locator(panel).wait_for()
        # then it lies under the button that opened it, which stays visible, and within the screen
        opener = phone_page.locator(button).bounding_box()
        box = phone_page.locator(panel).bounding_box()
        assert box["y"] >= opener["y"] + opener["height"], f"{panel} covers its button"
        assert box["x"] >= 0, f"{panel} leaves the screen"
        assert box["x"] + box["width"] <= 390, f"{panel} leaves the screen"
        phone_page.keyboard.press("Escape")
    no_sideways_overflow(phone_page)


def test_on_a_phone_the_tokens_table_scrolls_in_its_box(
    desk: Any, phone_page: Any, sign_in: Any, url: Any, now: Any
) -> None:
    from sportello.accounts.services import token_create

    # given an agent with tokens: the table is wider than a phone
    for i in range(3):
        token_create(user=desk.agent, name=f"Nightly export to the warehouse {i}", now=now)
    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/me/tokens/"))
    table = phone_page.locator(".me-table")
    table.wait_for()
    # then the table scrolls within its box (its hidden labels included), not the page sideways
    no_sideways_overflow(phone_page)
    box = phone_page.locator(".table-scroll").bounding_box()
    assert box["x"] + box["width"] <= 390
    phone_page.get_by_role("button", name="Revoke").first.scroll_into_view_if_needed()

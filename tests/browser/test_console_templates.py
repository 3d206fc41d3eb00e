"""Notification templates in the Console, in a real browser: an admin opens the Spanish "ticket
received", inserts a placeholder at the cursor, sees the live preview on the sample ticket in
Spanish then in Italian, is told (with the line) what the sandbox refuses, and saves."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_edits_a_template_with_a_live_preview(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.notifications.models import NotificationTemplate

    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Notification templates").click()
    page.wait_for_url(url("/console/templates/"))
    assert_accessible(page, context="the notification templates")
    page.get_by_role("link", name="Customise Ticket received (Spanish)").click()
    page.wait_for_url(url("/console/templates/ticket_received/es/"))
    page.locator("#preview-subject").wait_for()  # the preview of the default, on load
    assert_accessible(page, context="the template editor")
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Hola ")
    subject.press("End")
    page.get_by_role("button", name="requester.name").click()
    assert subject.input_value() == "Hola {{ requester.name }}"
    page.locator("#preview-subject", has_text="Hola Carla Rossi").wait_for()
    # the same draft in Italian: the status and priority names follow the language
    body = page.get_by_label("Text", exact=True)
    body.fill("Priorità: {{ ticket.priority_name }}")
    page.get_by_label("Language", exact=True).select_option("it")
    page.locator("#preview-text", has_text="Priorità: Alta").wait_for()
    shot(page, "console-template-preview")
    # a text the sandbox refuses: the preview says why, with the line; saving refuses it
    body.fill("Ciao\n{% for x in y %}")
    page.locator("#preview-error", has_text="line 2").wait_for()
    page.get_by_role("button", name="Save").click()
    page.locator("#t-body_text-error").wait_for()
    assert "line 2" in page.locator("#t-body_text-error").inner_text()
    assert not NotificationTemplate.objects.exists()
    assert_accessible(page, context="a refused template")
    # fixed, saved
    page.get_by_label("Text", exact=True).fill("Hemos recibido su ticket #{{ ticket.number }}.")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved “Ticket received” in Spanish.").wait_for()
    row = NotificationTemplate.objects.get(key="ticket_received", language="es")
    assert (row.subject, row.version) == ("Hola {{ requester.name }}", 1)
    page.goto(url("/console/templates/"))
    assert "Customised · v1" in page.locator("#template-ticket_received").inner_text()


def test_the_templates_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    sign_in(phone_page, desk.admin)
    for path in ("/console/templates/", "/console/templates/agent_reply/it/"):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.locator("#preview-subject").wait_for()
    no_sideways_overflow(phone_page)

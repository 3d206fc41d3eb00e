"""The Console's macro and canned response editors in a real browser: an admin creates a macro
(checks it, previews the unsaved draft on a ticket, saves it), then a canned response with a
placeholder inserted from the picker (previews it, saves it, deletes it behind the confirmation
page). Accessible, and fits a phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_creates_a_macro_and_a_canned_response(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.automation.models import Macro
    from sportello.notifications.models import CannedResponse

    ticket = open_ticket("Where is my parcel?")
    sign_in(page, desk.admin)
    page.goto(url("/console/macros/"))
    page.get_by_role("link", name="New macro").click()
    page.wait_for_url(url("/console/macros/new/"))
    assert_accessible(page, context="a new macro")
    page.get_by_label("Name", exact=True).fill("Ask for the order number")
    page.get_by_label("Key", exact=True).fill("ask-order")
    page.get_by_label("Who may use it").select_option(label="Books")
    page.get_by_label("Actions, as YAML").fill(
        "- set: {field: ticket.priority, value: high}\n"
        "- reply: {body: 'Hello {{ requester.name }}, what is your order number?'}\n"
    )
    page.get_by_role("button", name="Check").click()
    page.get_by_text("Valid: the macro can be saved.").wait_for()
    page.get_by_label("Preview on ticket #").fill(str(ticket.number))
    page.get_by_role("button", name="Preview", exact=True).click()
    page.get_by_text("Hello Alice Acme, what is your order number?").wait_for()
    assert not Macro.objects.exists()
    assert_accessible(page, context="a macro's draft previewed")
    shot(page, "console-macro-editor")
    page.get_by_role("button", name="Create the macro").click()
    page.wait_for_url(url("/console/macros/ask-order/"))
    page.get_by_text("Macro “Ask for the order number” saved as version 1.").wait_for()
    assert Macro.objects.get(key="ask-order").owner_department_id == desk.books.pk
    assert_accessible(page, context="a saved macro")
    shot(page, "console-macro-saved")

    page.goto(url("/console/canned-responses/"))
    page.get_by_role("link", name="New canned response").click()
    page.wait_for_url(url("/console/canned-responses/new/"))
    page.get_by_label("Title", exact=True).fill("Parcel on its way")
    text = page.get_by_label("Text", exact=True)
    text.fill("Dear , your parcel left today.")
    text.evaluate("el => el.setSelectionRange(5, 5)")
    page.locator("[data-placeholder='requester.name']").click()
    assert text.input_value() == "Dear {{ requester.name }}, your parcel left today."
    page.get_by_label("Shared with").select_option(label="Department Books")
    page.get_by_label("Preview on ticket #").fill(str(ticket.number))
    page.get_by_role("button", name="Preview", exact=True).click()
    page.get_by_text("Dear Alice Acme, your parcel left today.").wait_for()
    assert_accessible(page, context="a canned response's draft previewed")
    shot(page, "console-canned-editor")
    page.get_by_role("button", name="Create the canned response").click()
    page.get_by_text("Canned response “Parcel on its way” created.").wait_for()
    canned = CannedResponse.objects.get()
    assert canned.owner_department_id == desk.books.pk
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("heading", name="Delete canned response “Parcel on its way”?").wait_for()
    assert_accessible(page, context="a canned response's delete confirmation")
    page.get_by_role("button", name="Delete canned response").click()
    page.get_by_text("Canned response “Parcel on its way” deleted.").wait_for()
    assert not CannedResponse.objects.exists()


def test_the_editors_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any, now: Any) -> None:
    from sportello.automation.macros import macro_create
    from sportello.notifications.canned import canned_create

    macro_create(
        definition={
            "key": "ask-order",
            "name": "Ask for the order number",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [{"add_tags": ["needs_order"]}, {"note": {"body": "Asked.\nWaiting."}}],
        },
        actor=desk.admin,
        now=now,
    )
    canned = canned_create(actor=desk.admin, title="Thanks", body="Thank you!", now=now)
    sign_in(phone_page, desk.admin)
    for i, (path, name) in enumerate(
        (
            ("/console/macros/", "the macros"),
            ("/console/macros/ask-order/", "a macro"),
            ("/console/macros/ask-order/edit/", "the macro editor"),
            ("/console/canned-responses/", "the canned responses"),
            (f"/console/canned-responses/{canned.pk}/edit/", "the canned response editor"),
            (f"/console/canned-responses/{canned.pk}/delete/", "a canned response's delete confirmation"),
        )
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{name} on a phone")
        shot(phone_page, f"console-macros-phone-{i}")

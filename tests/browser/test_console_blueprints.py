"""The Console's blueprint editor in a real browser: an admin builds a "Warranty claim" process
(Received → Inspecting → Replaced or Rejected, the replacement asking for the serial number),
sees the flowchart follow the form, saves it and opens its dashboard; every page has no
accessibility violations and fits a 390 px wide phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def serial_number_field(desk: Any) -> None:
    from sportello.tickets.fields_services import custom_field_create

    custom_field_create(actor=desk.admin, key="serial_number", label="Serial number", type="text")


def test_an_admin_builds_a_warranty_blueprint(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.blueprints.models import BlueprintVersion

    serial_number_field(desk)
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Blueprints").click()
    page.wait_for_url(url("/console/blueprints/"))
    page.get_by_text("No blueprint yet").wait_for()
    assert_accessible(page, context="the empty blueprints list")
    page.get_by_role("link", name="New blueprint").click()
    page.get_by_role("heading", name="New blueprint", level=1).wait_for()
    assert_accessible(page, context="a new blueprint")
    # the blueprint, and room for four states
    about = page.get_by_role("group", name="Blueprint")
    about.get_by_label("Name", exact=True).fill("Warranty claim")
    about.get_by_label("Key", exact=True).fill("warranty")
    about.get_by_label("Department").select_option(label="Electronics")
    page.get_by_role("button", name="Add a state").click()
    page.get_by_role("button", name="Add a state").click()
    page.locator("#s-3-name").wait_for()
    assert about.get_by_label("Name", exact=True).input_value() == "Warranty claim"  # kept
    for i, (name, status) in enumerate(
        [("Received", "Open"), ("Inspecting", "Pending"), ("Replaced", "Solved"), ("Rejected", "Closed")]
    ):
        page.get_by_label(f"Name of state {i + 1}").fill(name)
        page.get_by_label(f"Ticket status of state {i + 1}").select_option(label=status)
    page.get_by_label("State 2 is an end").uncheck()
    page.get_by_label("State 3 is an end").check()
    page.get_by_label("State 4 is an end").check()
    page.get_by_label("Time limit of state 2").fill("2d")
    # three transitions: inspect, replace (the serial number must be filled), reject
    page.get_by_role("button", name="Add a transition").click()
    page.get_by_role("button", name="Add a transition").click()
    page.locator("#transition-2").wait_for()
    first, replace, reject = (page.locator(f"#transition-{i}") for i in range(3))
    first.get_by_label("Name", exact=True).fill("Inspect")
    replace.get_by_label("Name", exact=True).fill("Replace")
    replace.get_by_role("group", name="From").get_by_label("Inspecting").check()
    replace.get_by_label("To").select_option(label="Replaced")
    replace.get_by_role("group", name="Fields that must be filled").get_by_label("Serial number").check()
    reject.get_by_label("Name", exact=True).fill("Reject")
    reject.get_by_role("group", name="From").get_by_label("Inspecting").check()
    reject.get_by_label("To").select_option(label="Rejected")
    # the flowchart follows: every state and the new transitions are drawn
    chart = page.locator("#bp-preview svg")
    chart.wait_for()
    page.wait_for_function(
        "() => { const t = document.querySelector('#bp-preview svg')?.textContent || '';"
        " return t.includes('Rejected') && t.includes('Reject') && t.includes('Replace'); }"
    )
    page.locator(".bp-as-table summary").click()
    table = page.locator(".bp-as-table")
    assert "Serial number" in table.inner_text()
    assert_accessible(page, context="the blueprint editor with its flowchart")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "console-blueprint-editor")
    # a mistake is listed instead of a broken chart
    reject.get_by_label("To").select_option(label="Choose a state")
    page.locator("#bp-preview .bp-problems").wait_for()
    assert "Transition 3 “Reject”" in page.locator("#bp-preview").inner_text()
    reject.get_by_label("To").select_option(label="Rejected")
    chart.wait_for()
    # saved
    page.get_by_role("button", name="Save blueprint").first.click()
    page.get_by_text("Blueprint “Warranty claim” saved as version 1.").wait_for()
    d = BlueprintVersion.objects.get(blueprint__key="warranty").definition
    assert [s["key"] for s in d["states"]] == ["received", "inspecting", "replaced", "rejected"]
    replace_saved = next(t for t in d["transitions"] if t["key"] == "replace")
    assert replace_saved["during"]["fields"] == [{"field": "ticket.custom.serial_number", "required": True}]
    assert_accessible(page, context="a saved blueprint")
    # its dashboard, one click away
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("heading", name="Dashboard of “Warranty claim”").wait_for()
    assert "Inspecting" in page.locator("table").first.inner_text()
    assert_accessible(page, context="the blueprint's dashboard")
    shot(page, "console-blueprint-dashboard")
    # and the list
    page.get_by_role("link", name="All blueprints").click()
    assert "Warranty claim" in page.locator("#blueprint-warranty").inner_text()
    assert_accessible(page, context="the blueprints list")
    shot(page, "console-blueprints")


def test_the_blueprint_pages_fit_a_phone(
    desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.blueprints.services import blueprint_save
    from workflow_setup import warranty_definition

    blueprint_save(definition=warranty_definition(desk), actor=desk.admin, now=now)
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/blueprints/",
        "/console/blueprints/new/",
        "/console/blueprints/warranty/edit/",
        "/console/blueprints/warranty/dashboard/",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.goto(url("/console/blueprints/warranty/edit/"))
    shot(phone_page, "console-blueprint-editor-phone")

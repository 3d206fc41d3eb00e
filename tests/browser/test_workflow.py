"""The ticket page's workflow panels in a real browser: a blueprint step refused for a missing
mandatory field and then done; an SLA badge turning to "due soon" while the page is open (the
page's clock driven by Playwright); a task created and completed; a tier escalation."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from workflow_setup import (
    customer_ticket,
    returns_blueprint,
    returns_fields,
    sla_policy,
    tier_path,
)

from .axe import assert_accessible

SHOTS = os.environ.get("SPORTELLO_SHOTS")  # a directory: save screenshots there to look at them


def shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_blueprint_step_is_refused_for_a_missing_field_then_done(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core import clock

    now = clock.now()
    returns_fields(desk)
    returns_blueprint(desk, now)
    ticket = customer_ticket(desk, now)
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    panel = page.locator("#blueprint-panel")
    assert "Received" in panel.locator(".bp-current").inner_text()
    # the agent opens the step and performs it without the order number
    panel.locator("summary", has_text="Send the return label").click()
    panel.get_by_label("Note").fill("Label sent by e-mail")
    panel.get_by_role("button", name="Perform “Send the return label”").click()
    # the refusal names the field, next to it, and the note typed is kept
    error = panel.get_by_text("Fill in “Order number” to perform this step.")
    error.wait_for()
    assert panel.get_by_label("Note").input_value() == "Label sent by e-mail"
    assert page.evaluate("document.activeElement.name") == "input_0"  # focus on the field to fix
    shot(page, "blueprint-refused")
    assert_accessible(page, context="a refused blueprint step")
    # filled in, the step is done and the ticket is in the next state
    panel.get_by_label("Order number").fill("AB123456")
    panel.get_by_role("button", name="Perform “Send the return label”").click()
    page.locator("#blueprint-panel .bp-current", has_text="Awaiting the item").wait_for()
    assert "Label sent by e-mail" in page.locator(".conversation").inner_text()
    # the flowchart shows, with the current state highlighted
    page.get_by_text("Show the flowchart").click()
    chart = page.locator(".bp-chart img")
    chart.scroll_into_view_if_needed()
    for _ in range(50):
        if chart.evaluate("img => img.complete && img.naturalWidth > 0"):
            break
        page.wait_for_timeout(100)
    assert chart.evaluate("img => img.naturalWidth") > 0
    shot(page, "blueprint-done")
    assert_accessible(page, context="the ticket page with its process")


def test_an_sla_badge_turns_to_due_soon_while_the_page_is_open(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core import clock

    now = clock.now()
    sla_policy(desk, now, within="1h", warn_before="15m")
    ticket = customer_ticket(desk, now)
    page.clock.install(time=now)
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    first = page.locator(".sla-clock", has_text="First response")
    assert "sla-ok" in (first.get_attribute("class") or "")
    assert first.locator(".sla-badge").inner_text() == "On track"
    # when 46 minutes pass on the page's clock (no reload, no request)
    page.clock.fast_forward("46:00")
    page.locator('.sla-clock.sla-warning[data-metric="First response"]').wait_for()
    # then the badge says so in words, the countdown shows the time left, and it is announced
    assert first.locator(".sla-badge").inner_text() == "Due soon"
    assert "left" in first.locator(".sla-countdown").inner_text()
    assert page.locator(".sla-announce").inner_text() == "First response: Due soon"
    shot(page, "sla-warning")
    assert_accessible(page, context="an SLA warning")
    # and past the due time it is breached
    page.clock.fast_forward("15:00")
    page.locator('.sla-clock.sla-breached[data-metric="First response"]').wait_for()
    assert first.locator(".sla-badge").inner_text() == "Breached"
    assert "overdue" in first.locator(".sla-countdown").inner_text()


def test_an_agent_creates_and_completes_a_task(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.core import clock

    ticket = customer_ticket(desk, clock.now())
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    panel = page.locator("#tasks-panel")
    panel.get_by_text("New task").click()
    panel.get_by_label("Task").fill("Call the warehouse")
    panel.get_by_label("Assignee").select_option(label="Lia Light")
    due = (clock.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    panel.get_by_label("Due").fill(due)
    panel.get_by_label("Reminder").select_option(label="1 hour before")
    panel.get_by_role("button", name="Add task").click()
    row = page.locator("#tasks-panel .task", has_text="Call the warehouse")
    row.wait_for()
    assert "Lia Light" in row.inner_text()
    assert "reminder 1 hour before" in row.inner_text().replace("\xa0", " ")
    shot(page, "task-created")
    row.get_by_role("button", name="Complete").click()
    page.locator("#tasks-panel .task-done", has_text="Call the warehouse").wait_for()
    assert_accessible(page, context="the tasks panel")


def test_an_agent_escalates_a_ticket_to_the_next_tier(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.core import clock

    now = clock.now()
    tier_path(desk, now)
    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    panel = page.locator("#tier-panel")
    assert "Tier 1" in panel.locator(".tier-badge").inner_text()
    panel.get_by_text("Escalate to Tier 2").click()
    assert panel.get_by_label("Reason").get_attribute("required") is not None  # the browser asks for it
    panel.get_by_label("Reason").fill("Needs the warehouse records")
    panel.get_by_role("button", name="Escalate").click()
    page.locator("#tier-panel .tier-badge", has_text="Tier 2").wait_for()
    shot(page, "tier-escalated")
    assert_accessible(page, context="the tier panel")


def test_the_workflow_panels_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    from sportello.core import clock

    now = clock.now()
    returns_fields(desk)
    returns_blueprint(desk, now)
    tier_path(desk, now)
    sla_policy(desk, now, within="2h")
    ticket = customer_ticket(desk, now)
    sign_in(phone_page, desk.agent)
    phone_page.goto(url(f"/tickets/{ticket.pk}/"))
    phone_page.locator("summary", has_text="Send the return label").click()
    phone_page.get_by_text("Show the flowchart").click()
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(phone_page, "phone")
    assert_accessible(phone_page, context="the workflow panels at phone width")

"""The Blueprint dashboard in a real browser: the supervisor of Books opens Reports, finds the
Returns process among the blueprints, changes the period, opens its figures and follows the
ticket over its state's limit to its page in the Desk; no accessibility violations, and the
pages fit a 390 px wide phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.accounts.services import agent_update
from workflow_setup import returns_definition, returns_fields

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot

H = timedelta(hours=1)


@pytest.fixture
def returns_history(desk: Any, now: datetime) -> dict[str, Any]:
    """Returns in Books (two hours allowed in Received): one return refunded this morning, one
    received five hours ago and still waiting (three hours over the limit)."""
    from sportello.blueprints.services import TransitionRequest, blueprint_save, blueprint_transition
    from sportello.core.actors import Via
    from sportello.tickets import services

    returns_fields(desk)
    definition = returns_definition(desk)
    definition["states"][0]["time_limit"] = "2h"
    blueprint_save(definition=definition, actor=desk.admin, now=now - 10 * H)

    def open_return(subject: str, at: datetime) -> Any:
        data = {
            "subject": subject,
            "description": "I want to send it back.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "custom_fields": {"kind": "return"},
        }
        return services.ticket_open(principal=desk.agent, via=Via.API, data=data, now=at).ticket

    def move(ticket: Any, key: str, at: datetime, by: Any, **inputs: Any) -> None:
        blueprint_transition(
            actor=by, ticket_id=ticket.pk, transition_key=key, inputs=TransitionRequest(**inputs), now=at
        )

    done = open_return("Wrong size", now - 9 * H)
    move(
        done, "label-sent", now - 8 * H, desk.agent, custom_fields={"order_id": "AB123456"}, note="Label sent"
    )
    move(done, "refund", now - 6 * H, desk.admin, custom_fields={"refund_amount": "10"})
    waiting = open_return("Missing pages", now - 5 * H)
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    return {"done": done, "waiting": waiting}


def test_a_supervisor_reads_the_returns_dashboard(
    desk: Any, returns_history: dict[str, Any], page: Any, sign_in: Any, url: Any
) -> None:
    sign_in(page, desk.agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Blueprints").click()
    page.wait_for_url(url("/reports/blueprints/"))
    row = page.get_by_role("row").filter(has_text="Returns")
    assert " ".join(row.inner_text().split()).startswith("Returns Books 1 1")
    assert_accessible(page, context="the blueprints list")
    # a shorter period keeps the process in it
    page.get_by_label("Period", exact=True).select_option(label="Last 7 days")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(url("/reports/blueprints/?period=7d&from=&to="))
    page.get_by_role("link", name="Returns").click()
    page.get_by_role("heading", name="Returns", level=1).wait_for()
    assert "period=7d" in page.url
    tiles = page.locator(".report-tiles")
    assert "1 ticket in the process now" in " ".join(tiles.inner_text().split())
    assert "1 run completed in the period" in " ".join(tiles.inner_text().split())
    # the flowchart shows where the tickets are, and the table says it in words
    flowchart = page.get_by_role("img", name="Returns")
    assert "1 over" in flowchart.text_content()
    states = page.get_by_role("region", name="By state")
    assert "Received" in states.inner_text()
    assert page.get_by_role("img", name="Average time in each state, in hours").is_visible()
    assert_accessible(page, context="the Returns dashboard")
    shot(page, "reports-blueprint")
    # each table downloads as CSV
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV — By state").click()
    assert download.value.suggested_filename.startswith("returns_states_")
    # the ticket over the limit opens in the Desk
    waiting = returns_history["waiting"]
    page.get_by_role("region", name="Over their state's time limit now").get_by_role(
        "link", name=f"#{waiting.number}"
    ).click()
    page.wait_for_url(url(f"/tickets/{waiting.pk}/"))
    page.get_by_role("heading", name="Missing pages").wait_for()


def test_custom_dates_that_read_wrong_are_named_next_to_the_field(
    desk: Any, returns_history: dict[str, Any], page: Any, sign_in: Any, url: Any
) -> None:
    sign_in(page, desk.agent)
    page.goto(url("/reports/blueprints/returns/"))
    page.get_by_label("Period", exact=True).select_option(label="Custom dates")
    page.get_by_label("From", exact=True).fill("2026-11-02")
    page.get_by_label("To", exact=True).fill("2026-11-01")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("The last day cannot be before the first.").wait_for()
    assert page.get_by_label("To", exact=True).get_attribute("aria-invalid") == "true"
    assert_accessible(page, context="a custom period with a mistake")


def test_the_dashboard_fits_a_phone(
    desk: Any, returns_history: dict[str, Any], phone_page: Any, sign_in: Any, url: Any
) -> None:
    sign_in(phone_page, desk.agent)
    for path in ("/reports/blueprints/", "/reports/blueprints/returns/"):
        phone_page.goto(url(path))
        phone_page.locator(".report-period").wait_for()
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    shot(phone_page, "reports-blueprint-phone")

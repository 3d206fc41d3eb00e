"""The process map in a real browser: a supervisor opens it on their department's status flow,
reads the map and its figures, switches to a blueprint, downloads the event log; no axe-core
violation, and nothing overflows sideways on a phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sportello.accounts.services import agent_update
from sportello.blueprints.services import TransitionRequest, blueprint_save, blueprint_transition
from sportello.core.actors import Via
from sportello.tickets import services
from workflow_setup import returns_definition, returns_fields

from .axe import assert_accessible

H = timedelta(hours=1)


def history(desk: Any, now: datetime) -> None:
    """Books, over the last day: two tickets solved and closed, one reopened, one returned
    through the Returns blueprint."""
    returns_fields(desk)
    blueprint_save(definition=returns_definition(desk), actor=desk.admin, now=now - 30 * H)

    def open_ticket(at: datetime, **data: Any) -> Any:
        body = {
            "subject": "Missing pages",
            "description": "x",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        }
        return services.ticket_open(principal=desk.agent, via=Via.API, data={**body, **data}, now=at).ticket

    def move(ticket: Any, at: datetime, status: str) -> None:
        ticket.refresh_from_db()
        services.ticket_update(
            principal=desk.agent,
            ticket_id=ticket.pk,
            via=Via.API,
            data={"status": status, "version": ticket.version},
            now=at,
        )

    start = now - 24 * H
    for i, path in enumerate(
        (["open", "solved", "closed"], ["open", "pending", "open", "solved"], ["open", "solved", "open"])
    ):
        ticket = open_ticket(start + i * H)
        for step, status in enumerate(path, start=1):
            move(ticket, start + i * H + step * 2 * H, status)
    returned = open_ticket(start, custom_fields={"kind": "return"})
    blueprint_transition(
        actor=desk.agent,
        ticket_id=returned.pk,
        transition_key="label-sent",
        inputs=TransitionRequest(custom_fields={"order_id": "AB123456"}, note="Label sent"),
        now=start + 3 * H,
    )


def test_supervisor_reads_the_map_switches_source_and_exports(
    desk: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, now: datetime
) -> None:
    history(desk, now)
    supervisor = agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    sign_in(page, supervisor)

    # The Reports' Process tab opens on the department's status flow.
    page.goto(url("/reports/"))
    page.get_by_role("link", name="Process").click()
    page.wait_for_url("**/reports/process/")
    assert page.get_by_role("heading", name="Process map", level=1).is_visible()
    assert page.locator("#process-source option:checked").inner_text() == "Books"
    assert page.get_by_role("img", name="Process map: Books").is_visible()
    assert page.locator(".process-kpis li").first.inner_text().split()[0] == "4"
    assert "Reopened after being solved" in page.locator(".process-deviations").inner_text()
    page.get_by_text("The map as a table").click()
    assert page.get_by_role("table", name="Steps taken, most frequent first").is_visible()
    assert_accessible(page, context="the status flow's map")

    # Switching to the blueprint.
    page.get_by_label("Process", exact=True).select_option(label="Returns (Books)")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**source=blueprint%3Areturns**")
    assert page.get_by_role("img", name="Process map: Returns").is_visible()
    assert "Awaiting the item" in page.locator(".process-map").inner_text()
    assert_accessible(page, context="the blueprint's map")

    # The event log downloads as CSV.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = download.value.path()
    assert path is not None
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().splitlines()
    assert lines[0] == "case_id,activity,timestamp,resource,department"
    assert [line.split(",")[1] for line in lines[1:]] == ["Received", "Awaiting the item"]

    # On a phone, nothing overflows sideways (the map scrolls inside its frame).
    sign_in(phone_page, supervisor)
    phone_page.goto(url("/reports/process/"))
    assert phone_page.get_by_role("img", name="Process map: Books").count() == 1
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert_accessible(phone_page, context="the map on a phone")

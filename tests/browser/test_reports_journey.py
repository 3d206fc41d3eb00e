"""A supervisor's week in reports, in a real browser: Bruno (a supervisor of Books) opens Reports
from the Desk, narrows the dashboard to Books for the last 7 days, drills into the breached
first-response targets, finds exactly Books' two late tickets (not Electronics'), and exports
them as CSV. Zero axe-core violations on each page; the dashboard fits 390 px."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from .axe import assert_accessible
from .pages import no_sideways_overflow

POLICY = {
    "key": "standard",
    "name": "Everyone",
    "position": 100,
    "when": {"all": []},
    "targets": {"first_response": {"normal": {"within": "1h"}}},
}


def _history(desk: Any) -> dict[str, int]:
    from sportello.accounts.services import agent_update
    from sportello.core import clock
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.sla.services import policy_save
    from sportello.tickets import pipeline, services
    from sportello.tickets.change import NewMessage

    start = clock.now() - timedelta(days=3)
    policy_save(definition=POLICY, actor=desk.admin, now=start - timedelta(hours=1))
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)

    def ticket(subject: str, department: Any, answer_after: timedelta, agent: Any) -> int:
        t = pipeline.ticket_create(
            actor=Actor(ActorKind.CONTACT, desk.alice.pk, "Alice"), via=Via.EMAIL, subject=subject,
            requester_id=desk.alice.pk, department_id=department.pk, description=NewMessage(body="Help"),
            now=start,
        ).ticket  # fmt: skip
        services.message_add(
            principal=agent, ticket_id=t.pk, via=Via.WEB, body="On it", body_html="", public=True,
            attachment_ids=[], version=None, now=start + answer_after,
        )  # fmt: skip
        return t.number

    return {
        "late1": ticket("Torn cover", desk.books, timedelta(hours=3), desk.agent),
        "late2": ticket("Wrong edition", desk.books, timedelta(hours=5), desk.agent),
        "quick": ticket("Gift wrapping", desk.books, timedelta(minutes=20), desk.agent),
        "other": ticket("Broken charger", desk.electronics, timedelta(hours=4), desk.outsider),
    }


def test_a_supervisor_drills_into_breached_tickets_and_exports_them(
    desk: Any, page: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    numbers = _history(desk)
    desk.agent.refresh_from_db()
    sign_in(page, desk.agent)
    page.goto(url("/"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Support overview")).to_be_visible()
    form = page.locator("form.report-filters")
    form.get_by_label("Department").select_option(label="Books")
    form.get_by_label("Period").select_option(label="Last 7 days")
    form.get_by_role("button", name="Show").click()
    expect(page.locator(".tile").filter(has_text="Created").locator(".tile-value")).to_have_text("3")
    assert_accessible(page)

    sla = page.get_by_role("region", name="SLA compliance")
    row = sla.get_by_role("row").filter(has_text="First response")
    expect(row.get_by_role("cell").nth(2)).to_have_text("33%")
    row.get_by_role("link", name="2").click()
    expect(page.get_by_role("heading", name="SLA targets breached: First response")).to_be_visible()
    table = page.locator(".report-table")
    for key in ("late1", "late2"):
        expect(table.get_by_role("link", name=str(numbers[key]), exact=True)).to_be_visible()
    for key in ("quick", "other"):
        expect(table.get_by_role("link", name=str(numbers[key]), exact=True)).to_have_count(0)
    assert_accessible(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["Number", "Subject"]
    assert sorted(int(r[0]) for r in rows[1:]) == sorted([numbers["late1"], numbers["late2"]])

    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/reports/?period=7d"))
    expect(phone_page.get_by_role("heading", name="Support overview")).to_be_visible()
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page)

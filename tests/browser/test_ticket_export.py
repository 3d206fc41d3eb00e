"""The Export tab in a real browser: the supervisor of Books chooses the solved tickets of the
last seven days and downloads them as CSV; a wrong custom date is named next to its field; no
accessibility violations, and the form fits a 390 px wide phone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sportello.accounts.services import agent_update

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_a_supervisor_downloads_the_solved_tickets(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, now: Any
) -> None:
    from sportello.core.actors import Via
    from sportello.tickets.models import Ticket
    from sportello.tickets.services import ticket_update

    done = open_ticket("Wrong edition", minutes_ago=90)
    ticket_update(
        principal=desk.admin,
        ticket_id=done.pk,
        via=Via.WEB,
        data={"status": "solved", "version": Ticket.objects.get(pk=done.pk).version},
        now=now - timedelta(minutes=30),
    )
    open_ticket("Still open")
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    sign_in(page, desk.agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_role("navigation", name="Reports").get_by_role("link", name="Export").click()
    page.wait_for_url(url("/reports/export/"))
    page.get_by_role("heading", name="Export tickets").wait_for()
    assert_accessible(page, context="the export form")
    shot(page, "reports-export")
    page.get_by_label("Dates", exact=True).select_option(label="Last 7 days")
    page.get_by_label("Solved").check()
    page.get_by_label("Status").select_option(label="Solved")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("tickets_solved_")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("Number,Subject,Department,")
    assert len(lines) == 2
    assert ",Wrong edition,Books," in lines[1]


def test_a_wrong_date_is_named_and_the_form_fits_a_phone(
    desk: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/reports/export/"))
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the export form on a phone")
    phone_page.get_by_label("Dates", exact=True).select_option(label="Custom dates")
    phone_page.get_by_label("From", exact=True).fill("2026-11-02")
    phone_page.get_by_label("To", exact=True).fill("2026-11-01")
    phone_page.get_by_role("button", name="Download CSV").click()
    phone_page.get_by_text("The last day cannot be before the first.").wait_for()
    assert phone_page.get_by_label("To", exact=True).get_attribute("aria-invalid") == "true"
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the export form with a mistake")
    shot(phone_page, "reports-export-phone")

"""Scheduled reports in a real browser: a supervisor asks for the overview by e-mail from the
dashboard (its filters kept), finds it on the Scheduled tab, changes it, pauses it and deletes
it; on a 390 px phone too. Every page is checked with axe-core."""

from __future__ import annotations

from typing import Any

from sportello.accounts.services import agent_update
from sportello.reports.models import ReportSubscription

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_subscribe_from_the_dashboard(desk: Any, page: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    # Bruno, a supervisor of Books, looks at Books broken down by channel
    sign_in(page, desk.agent)
    page.goto(url(f"/reports/?department={desk.books.pk}&group=channel"))
    page.get_by_role("heading", name="Support overview").wait_for()
    # and asks for it by e-mail every Friday at 07:00
    page.get_by_text("E-mail me this report").click()
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("On (weekly)").select_option(label="Friday")
    page.get_by_label("At (your time)").select_option(label="07:00")
    assert_accessible(page, context="the dashboard with the e-mail form open")
    page.get_by_role("button", name="Schedule").click()
    page.wait_for_url(url("/reports/scheduled/"))
    page.get_by_text("Scheduled: this report will be e-mailed to you.").wait_for()
    page.get_by_role("heading", name="Weekly, Friday at 07:00").wait_for()
    assert "Department: Books" in page.inner_text("main")
    assert page.get_by_role("link", name="Scheduled").get_attribute("aria-current") == "page"
    shot(page, "report-subscriptions")
    assert_accessible(page, context="the scheduled reports")
    s = ReportSubscription.objects.get()
    assert (s.user_id, s.frequency, s.weekday, s.hour, s.group) == (desk.agent.pk, "weekly", 4, 7, "channel")
    assert s.filters == {"department": desk.books.pk}

    # he moves it to daily at 06:00, then pauses it
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("How often").select_option("daily")
    page.get_by_label("At (your time)").select_option(label="06:00")
    assert_accessible(page, context="the scheduled report's form")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Daily at 06:00").wait_for()
    page.get_by_role("button", name="Pause").click()
    page.get_by_text("Paused by hand").wait_for()
    assert_accessible(page, context="a paused scheduled report")

    # on his phone, the list fits and the delete asks first
    sign_in(phone_page, desk.agent)
    phone_page.goto(url("/reports/scheduled/"))
    phone_page.get_by_role("heading", name="Daily at 06:00").wait_for()
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the scheduled reports on a phone")
    phone_page.get_by_role("link", name="Delete").click()
    phone_page.get_by_role("heading", name="Delete a scheduled report").wait_for()
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="deleting a scheduled report")
    phone_page.get_by_role("button", name="Delete").click()
    phone_page.get_by_text("No scheduled report yet.").wait_for()
    assert not ReportSubscription.objects.exists()
    phone_page.goto(url("/reports/"))
    no_sideways_overflow(phone_page)

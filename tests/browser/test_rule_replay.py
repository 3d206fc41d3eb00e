"""The rule editor's replay in a real browser: an admin changes a saved rule (urgent becomes
high), replays it over the last 30 days and reads which tickets it would have changed, day by day
and compared with what the saved version did — before saving anything. Free of accessibility
violations, and it fits a 390 px phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot

URGENT = {
    "key": "urgent-team",
    "name": "Urgent to Novels",
    "on": ["ticket.updated"],
    "when": {"all": [{"field": "ticket.priority", "op": "is", "value": "urgent"}]},
    "actions": [{"assign": {"team": "novels"}}, {"note": {"body": "Urgent: {{ ticket.subject }}"}}],
}


def history(desk: Any, now: datetime) -> dict[str, Any]:
    """The rule saved 20 days ago; a ticket made urgent 5 days ago (the rule acted), another made
    high 4 days ago (it did not)."""
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save
    from sportello.core.actors import Via
    from sportello.tickets import services
    from sportello.tickets.models import Ticket

    rule_save(kind=RuleKind.EVENT, definition=URGENT, created_by=desk.admin, now=now - timedelta(days=20))
    made = {}
    for subject, priority, ago in (("Screen cracked", "urgent", 5), ("Battery swollen", "high", 4)):
        ticket = services.ticket_open(
            principal=desk.agent,
            via=Via.API,
            data={
                "subject": subject,
                "description": "Please help",
                "department_id": desk.books.pk,
                "requester_id": desk.alice.pk,
            },
            now=now - timedelta(days=10),
        ).ticket
        services.ticket_update(
            principal=desk.agent,
            ticket_id=ticket.pk,
            via=Via.API,
            data={"priority": priority, "version": Ticket.objects.get(pk=ticket.pk).version},
            now=now - timedelta(days=ago),
        )
        made[priority] = ticket
    return made


def replay_high(page: Any, url: Any) -> Any:
    page.goto(url("/console/rules/urgent-team/edit/"))
    text = page.get_by_label("The rule as YAML")
    text.fill(text.input_value().replace("value: urgent", "value: high"))
    page.get_by_label("Replay over the last … days").fill("30")
    page.get_by_role("button", name="Replay", exact=True).click()
    result = page.locator("#replay-result")
    result.get_by_text("Over the last 30 days it would have changed 1 ticket.").wait_for()
    return result


def test_an_admin_replays_a_changed_rule_before_saving_it(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.automation.models import Rule

    made = history(desk, now)
    sign_in(page, desk.admin)
    result = replay_high(page, url)
    # the comparison with the saved version, and the two tickets in words
    assert "1 newly affected, 1 no longer affected, 0 affected by both" in result.inner_text()
    battery = result.get_by_role("row").filter(has_text="Battery swollen")
    assert "Team: nothing → Novels" in battery.inner_text()
    assert "Internal note: Urgent: Battery swollen" in battery.inner_text()
    assert "Newly affected" in battery.inner_text()
    assert battery.get_by_role("link").get_attribute("href") == f"/tickets/{made['high'].pk}/"
    screen = result.get_by_role("row").filter(has_text="Screen cracked")
    assert "No longer affected" in screen.inner_text()
    assert "This version would not have changed it." in screen.inner_text()
    # the chart, and its numbers as a table
    assert result.locator("svg rect.rules-replay-bar").count() == 31
    result.get_by_text("The numbers, day by day").click()
    assert result.get_by_role("region", name="Firings a day").get_by_role("row").count() == 32
    assert_accessible(page, context="the rule editor with its replay")
    shot(page, "console-rule-replay")
    # nothing was saved
    assert Rule.objects.get(key="urgent-team").version == 1


def test_the_replay_fits_a_phone(desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    history(desk, now)
    sign_in(phone_page, desk.admin)
    replay_high(phone_page, url)
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the replay on a phone")

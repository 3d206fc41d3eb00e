"""The Console's rules in a real browser: an admin writes the "phone heats up" rule as YAML,
checks it, tries it on the recent tickets (it would have matched two, and says what would
change), saves it, then disables a rule and reorders rules from the keyboard. Every page is
free of accessibility violations and fits a 390 px phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot

HEATS_UP = """key: heats-up
name: Phone heats up
when:
  all:
    - {field: ticket.subject, op: contains, value: heats up}
    - any:
        - {field: ticket.channel, op: is, value: web}
        - {field: ticket.channel, op: is, value: email}
actions:
  - set: {field: ticket.priority, value: high}
  - assign: {team: novels}
"""


def event_rule(key: str, now: Any, tag: str) -> None:
    from sportello.automation import services
    from sportello.automation.models import RuleKind

    services.rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": key,
            "name": f"Tag {tag}",
            "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": tag}]},
            "actions": [{"add_tags": [tag]}],
        },
        created_by=None,
        now=now,
    )


def test_an_admin_tries_a_rule_on_recent_tickets_then_saves_it(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.automation.models import Rule
    from sportello.tickets.models import Ticket

    hot = open_ticket("My phone heats up when charging")
    open_ticket("A missing page in my book")
    open_ticket("The tablet heats up too")
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Event and time rules").click()
    page.wait_for_url(url("/console/rules/"))
    page.get_by_text("No event rules yet.").wait_for()
    assert_accessible(page, context="the empty rules list")
    page.get_by_role("link", name="New event rule").click()
    page.get_by_role("heading", name="New event rule", level=1).wait_for()
    assert_accessible(page, context="a new rule's editor")
    page.get_by_label("The rule as YAML").fill(HEATS_UP)
    # Check: the rule in words, no warnings
    page.get_by_role("button", name="Check").click()
    side = page.locator("#rule-check")
    side.get_by_text("Valid, and no warnings.").wait_for()
    assert "Subject contains heats up" in side.inner_text()
    assert "Assign to team Novels" in side.inner_text()
    # the dry run on the last tickets
    page.get_by_label("Number of recent tickets").fill("20")
    page.get_by_role("button", name="Test on recent tickets").click()
    result = page.locator("#dry-run-result")
    result.get_by_text("Would have matched 2 of the last 3 tickets.").wait_for()
    row = result.get_by_role("row").filter(has_text="My phone heats up")
    assert "Priority: Normal → High" in row.inner_text()
    assert "Team: nothing → Novels" in row.inner_text()
    assert row.get_by_role("link").get_attribute("href") == f"/tickets/{hot.pk}/"
    assert_accessible(page, context="the rule editor with its dry run")
    shot(page, "console-rule-dry-run")
    assert not Rule.objects.exists()
    assert Ticket.objects.get(pk=hot.pk).team_id is None
    # saved
    page.get_by_role("button", name="Create the rule").click()
    page.get_by_text("Rule “Phone heats up” saved as version 1.").wait_for()
    assert Rule.objects.get(key="heats-up").version == 1
    # a typing error is shown beside the text, which is kept
    page.get_by_label("The rule as YAML").fill(HEATS_UP.replace("ticket.channel", "ticket.chanel"))
    page.get_by_role("button", name="Save a new version").click()
    page.get_by_role("alert").get_by_text("when.all[1].any[0].field").wait_for()
    assert "ticket.chanel" in page.get_by_label("The rule as YAML").input_value()
    assert_accessible(page, context="a refused rule")


def test_an_admin_disables_and_reorders_rules_by_keyboard(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.automation.models import Rule

    for key, tag in (("first", "one"), ("second", "two"), ("third", "three")):
        event_rule(key, now, tag)
    sign_in(page, desk.admin)
    page.goto(url("/console/rules/"))
    assert_accessible(page, context="the rules list")
    shot(page, "console-rules")
    page.get_by_role("button", name="Disable Tag two").click()
    page.get_by_text("Rule “Tag two” disabled.").wait_for()
    assert Rule.objects.get(key="second").active is False
    # "third" up twice, from the keyboard: the focus stays on its button after each move
    page.get_by_role("button", name="Move “Tag three” up").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: "moved=third" in u)
    page.locator('#rule-third button[value="up"]:focus').wait_for()  # the focus is back on it
    page.keyboard.press("Enter")
    page.locator(".rules-table tr.rules-category + tr#rule-third").wait_for()  # first of its category
    keys = page.locator(".rules-table tbody tr[id]").evaluate_all("rows => rows.map(r => r.id)")
    assert keys == ["rule-third", "rule-first", "rule-second"]
    assert page.get_by_role("button", name="Move “Tag three” up").is_disabled()


def test_the_rules_pages_fit_a_phone(
    desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    event_rule("a-rule-with-a-rather-long-key-for-a-phone", now, "refund")
    open_ticket("A refund for the phone")
    sign_in(phone_page, desk.admin)
    phone_page.goto(url("/console/rules/"))
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the rules list on a phone")
    phone_page.goto(url("/console/rules/a-rule-with-a-rather-long-key-for-a-phone/edit/"))
    phone_page.get_by_role("button", name="Test on recent tickets").click()
    phone_page.locator("#dry-run-result").get_by_text(
        "Would have matched 1 of the last 1 tickets."
    ).wait_for()
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the rule editor on a phone")
    shot(phone_page, "console-rule-phone")

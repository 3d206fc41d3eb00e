"""The rule builder in a real browser: an admin builds "subject contains 'phone heats up' →
priority High, team Replacements" without typing YAML, sees the YAML follow, tries it on the
recent tickets and saves it; then nests groups three deep, turns an "any of" into "all of",
and saves again. Every state is free of accessibility violations and fits a 390 px phone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .axe import assert_accessible
from .pages import no_sideways_overflow, settled, shot


def test_an_admin_builds_a_rule_without_writing_yaml(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.accounts.services import team_create
    from sportello.automation.models import Rule, RuleVersion

    replacements = team_create(name="Replacements", department=desk.books)
    open_ticket("The phone heats up when charging")
    open_ticket("A missing page in my book")
    sign_in(page, desk.admin)
    page.goto(url("/console/rules/new/?kind=event"))
    builder = page.locator("#rule-builder")
    yaml_text = page.get_by_label("The rule as YAML")
    expect(builder.locator("#bw-0-field")).to_have_value("ticket.channel")
    settled(page)
    assert_accessible(page, context="a new rule's builder")

    # the condition: Subject contains "phone heats up"
    builder.locator("#bw-0-field").select_option(label="Subject")
    expect(yaml_text).to_have_value(lambda_free("field: ticket.subject, op: is"))
    settled(page)
    ops = builder.locator("#bw-0-op option").all_inner_texts()
    assert "contains" in ops
    assert "is less than" not in ops  # operators fit a text field
    builder.get_by_label("Test").select_option(label="contains")
    expect(yaml_text).to_have_value(lambda_free("op: contains"))
    settled(page)
    builder.get_by_label("Value").fill("phone heats up")
    builder.get_by_label("Value").press("Tab")
    expect(yaml_text).to_have_value(
        lambda_free("{field: ticket.subject, op: contains, value: phone heats up}")
    )
    settled(page)
    # the keyboard goes on where it was: the focus is on the next control after the redraw
    expect(builder.locator("#bw-0-remove")).to_be_focused()

    # the actions: priority High, then team Replacements
    builder.get_by_label("Action 1").select_option(label="Set a field")
    expect(builder.locator("#ba-0-field")).to_have_value("ticket.priority")
    settled(page)
    builder.get_by_label("New value").select_option(label="High")
    expect(yaml_text).to_have_value(lambda_free("set: {field: ticket.priority, value: high}"))
    settled(page)
    builder.get_by_role("button", name="Add an action").click()
    expect(builder.get_by_label("Action 2")).to_be_focused()  # the new action's first input
    settled(page)
    builder.get_by_label("Action 2").select_option(label="Assign")
    expect(builder.get_by_label("Assign to")).to_have_value("team")
    settled(page)
    builder.get_by_label("Which").select_option(label="Replacements")
    expect(yaml_text).to_have_value(lambda_free("team: replacements"))
    settled(page)
    assert "add_tags" not in yaml_text.input_value()
    # the rule in words and its check follow each change
    side = page.locator("#rule-check")
    expect(side).to_contain_text("Valid, and no warnings.")
    settled(page)
    expect(side).to_contain_text("Subject contains phone heats up")
    settled(page)
    assert_accessible(page, context="a rule built in the builder")

    # dry run, then save
    page.get_by_role("button", name="Test on recent tickets").click()
    result = page.locator("#dry-run-result")
    result.get_by_text("Would have matched 1 of the last 2 tickets.").wait_for()
    row = result.get_by_role("row").filter(has_text="The phone heats up")
    assert "Priority: Normal → High" in row.inner_text()
    assert "Team: nothing → Replacements" in row.inner_text()
    expect(side).to_contain_text("Set Priority to High")
    expect(side).to_contain_text("Assign to team Replacements")

    # the rule itself: its key and name in the builder, its category typed in the YAML
    builder.get_by_label("Key", exact=True).fill("heats-up")
    builder.get_by_label("Key", exact=True).press("Tab")
    expect(yaml_text).to_have_value(lambda_free("key: heats-up\n"))
    settled(page)
    builder.get_by_label("Name", exact=True).fill("Phone heats up")
    builder.get_by_label("Name", exact=True).press("Tab")
    expect(yaml_text).to_have_value(lambda_free("name: Phone heats up\n"))
    settled(page)
    yaml_text.fill(yaml_text.input_value().replace("category: default", "category: routing"))
    yaml_text.press("Tab")  # the builder is drawn again from the typed YAML
    expect(builder.get_by_label("Category", exact=True)).to_have_value("routing")
    settled(page)
    # the YAML's long lines wrap: nothing is cut off at the right
    assert yaml_text.evaluate("t => t.scrollWidth <= t.clientWidth")
    assert_accessible(page, context="the rule's own inputs in the builder")
    shot(page, "console-rule-builder-new")
    page.get_by_role("button", name="Create the rule").click()
    page.get_by_text("saved as version 1.").wait_for()
    rule = Rule.objects.get(key="heats-up")
    assert (rule.name, rule.category) == ("Phone heats up", "routing")
    definition = RuleVersion.objects.get(rule=rule, version=1).definition
    assert definition["when"] == {
        "all": [{"field": "ticket.subject", "op": "contains", "value": "phone heats up"}]
    }
    assert definition["actions"] == [
        {"set": {"field": "ticket.priority", "value": "high"}},
        {"assign": {"team": replacements.pk}},
    ]

    # nest groups three deep, and make the first one "all of"
    builder = page.locator("#rule-builder")
    builder.locator("#bw-add-group").click()
    expect(builder.locator("#bw-1-join")).to_be_focused()
    settled(page)
    builder.locator("#bw-1-join").select_option("all")
    expect(yaml_text).to_have_value(lambda_free("- all:"))
    settled(page)
    builder.locator("#bw-1-0-value").fill("charging")
    builder.locator("#bw-1-0-value").press("Tab")
    expect(yaml_text).to_have_value(lambda_free("value: charging"))
    settled(page)
    builder.locator("#bw-1-add-group").click()
    expect(builder.locator("#bw-1-1-join")).to_be_focused()
    settled(page)
    builder.locator("#bw-1-1-0-value").fill("battery")
    builder.locator("#bw-1-1-0-value").press("Tab")
    expect(yaml_text).to_have_value(lambda_free("value: battery"))
    settled(page)
    builder.locator("#bw-1-1-add-group").click()
    expect(builder.locator("#bw-1-1-1-join")).to_be_focused()
    settled(page)
    builder.locator("#bw-1-1-1-0-field").select_option(label="Requester is VIP")
    expect(builder.locator("#bw-1-1-1-0-op")).to_have_value("is")
    settled(page)
    builder.locator("#bw-1-1-1-0-value").select_option(label="yes")
    expect(yaml_text).to_have_value(lambda_free("{field: requester.vip, op: is, value: true}"))
    settled(page)
    # the nested "any of" loses its "battery" test; the order of the outer group changes
    builder.get_by_role("button", name="Remove the condition").nth(2).click()
    expect(yaml_text).not_to_have_value(lambda_free("battery"))
    settled(page)
    builder.locator("#bw-1-up").click()
    expect(builder.locator("#bw-0-down")).to_be_focused()  # first now: the focus goes to "down"
    settled(page)
    assert_accessible(page, context="nested groups in the builder")
    shot(page, "console-rule-builder")
    page.get_by_role("button", name="Save a new version").click()
    page.get_by_text("saved as version 2.").wait_for()
    saved = RuleVersion.objects.get(rule=rule, version=2).definition["when"]
    assert saved == {
        "all": [
            {
                "all": [
                    {"field": "ticket.subject", "op": "contains", "value": "charging"},
                    {"any": [{"any": [{"field": "requester.vip", "op": "is", "value": True}]}]},
                ]
            },
            {"field": "ticket.subject", "op": "contains", "value": "phone heats up"},
        ]
    }


def lambda_free(fragment: str) -> Any:
    """A pattern matching a value that contains `fragment` (Playwright takes a regex)."""
    import re

    return re.compile(re.escape(fragment))


def test_the_builder_fits_a_phone(desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    sign_in(phone_page, desk.admin)
    phone_page.goto(url("/console/rules/new/?kind=time"))
    builder = phone_page.locator("#rule-builder")
    builder.locator("#bw-add-group").click()
    expect(builder.locator("#bw-1-join")).to_be_focused()
    settled(phone_page)
    builder.locator("#bw-1-add-group").click()
    expect(builder.locator("#bw-1-1-join")).to_be_focused()
    settled(phone_page)
    builder.get_by_role("button", name="Add a step").click()
    expect(builder.locator("#bs-1-after")).to_be_focused()
    settled(phone_page)
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the builder on a phone")
    shot(phone_page, "console-rule-builder-phone")

"""History in the Console, in a real browser: an admin finds a rule's change in the audit log,
opens what changed, goes to the rule's history, compares two versions, and restores the first
one through its confirmation; every page is free of accessibility violations and fits a
390 px wide phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def rule(name: str, tags: list[str], value: str = "heats up") -> dict[str, Any]:
    return {
        "key": "phone-heats-up",
        "name": name,
        "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": value}]},
        "actions": [{"add_tags": tags}],
    }


def three_versions(desk: Any, now: Any) -> None:
    from sportello.automation.macros import macro_create
    from sportello.automation.services import RuleKind, rule_save

    rule_save(kind=RuleKind.EVENT, definition=rule("Phone heats up", ["hot"]), created_by=desk.admin,
              now=now - timedelta(days=3), create=True)  # fmt: skip
    rule_save(kind=RuleKind.EVENT, definition=rule("Phone heats up", ["hot", "replacement"]),
              created_by=desk.agent, now=now - timedelta(days=1))  # fmt: skip
    rule_save(kind=RuleKind.EVENT, definition=rule("Phone overheats", ["replacement"], "overheat"),
              created_by=desk.admin, now=now - timedelta(hours=2))  # fmt: skip
    macro = {
        "key": "ask-receipt",
        "name": "Ask for the receipt",
        "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"note": {"body": "Asked for the receipt"}}],
    }
    macro_create(definition=macro, actor=desk.admin, now=now - timedelta(hours=5))


def test_an_admin_restores_a_rules_first_version_from_its_history(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core.versioning import version_list

    three_versions(desk, now)
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Change history").click()
    page.wait_for_url(url("/console/audit/"))
    page.get_by_role("heading", name="Change history", level=1).wait_for()
    assert_accessible(page, context="the audit log")
    shot(page, "console-audit")
    # only the rules
    page.get_by_label("What").select_option("rules")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "kind=rules" in u)
    assert page.locator("tbody tr").count() == 3
    # what changed in version 3
    page.get_by_role("link", name="Changes in version 3 of Phone overheats").click()
    page.get_by_role("heading", name="From version 2 to version 3").wait_for()
    changes = page.locator(".history-changes")
    assert "Changed" in changes.inner_text()
    assert "Removed" in changes.inner_text()
    assert "Phone overheats" in changes.inner_text()
    assert_accessible(page, context="the diff of two versions")
    shot(page, "console-history-diff")
    # the rule's history: compare versions 1 and 3
    page.get_by_role("link", name="Phone overheats").click()
    page.get_by_role("heading", name="History of “Phone overheats”").wait_for()
    assert page.locator("#version-3").get_by_text("Current").count() == 1
    assert "Bruno Books" in page.locator("#version-2").inner_text()
    assert_accessible(page, context="a rule's history")
    shot(page, "console-history")
    page.get_by_label("Compare from version 1").check()
    page.get_by_label("Compare to version 3").check()
    page.get_by_role("button", name="Compare the chosen versions").click()
    page.get_by_role("heading", name="From version 1 to version 3").wait_for()
    # restore version 1, through the confirmation
    page.get_by_role("link", name="Restore version 1…").click()
    page.get_by_role("heading", name="Restore version 1 of “Phone overheats”?").wait_for()
    assert "Phone heats up" in page.locator(".history-changes").inner_text()
    assert_accessible(page, context="the restore confirmation")
    shot(page, "console-history-restore")
    page.get_by_role("button", name="Restore version 1").click()
    page.get_by_text("Version 1 restored: it is now version 4.").wait_for()
    versions = version_list("rules", key="phone-heats-up")
    assert versions[0].version == 4
    assert versions[0].definition == versions[-1].definition
    assert page.locator("#version-4").get_by_text("Current").count() == 1


def test_the_history_pages_fit_a_phone(desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    three_versions(desk, now)
    sign_in(phone_page, desk.admin)
    base = "/console/history/rules/phone-heats-up/"
    for path in ("/console/audit/", base, f"{base}diff/?a=1&b=3", f"{base}restore/1/"):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    shot(phone_page, "console-history-restore-phone")
    phone_page.goto(url(f"{base}diff/?a=1&b=3"))
    shot(phone_page, "console-history-diff-phone")

"""The articles' whole set-up, built in the Console from an empty desk, then proved through the
REST API.

An admin alone on a new desk signs in and, through the Console's screens only:
- creates the departments Books and Electronics, the custom fields (a "Subcategory" picklist
  whose values differ per department, the product code, the serial number) and each
  department's layout;
- invites Caterina, Miriam, Adebayo and three colleagues for the round robin, who activate their
  accounts through the mailed link; two go online, one goes offline, as agents do from their
  menu;
- creates the Replacements team in Electronics;
- makes an API token, opens two tickets through the API, then builds the "phone heats up" rule
  in the visual builder (the message's body contains "phone heats up" → priority High, the
  Replacements team), tries it on the recent tickets (dry run: it matches only the ticket whose
  message says so) before saving it;
- adds the direct assignments: chats to Caterina, product code XT372 to Miriam (a condition on
  a custom field), "refund" to Adebayo;
- makes a round-robin policy (at most 3 open tickets each, offline agents skipped), changes the
  cap by mistake and restores the first version from the policy's history, and a rule that
  hands Books' tickets to it;
- builds the Rome office's business calendar with Italy's public holidays imported, and a VIP
  SLA policy counted in its hours; marks a customer VIP;
- builds a warranty blueprint whose replacement asks for the serial number;
- adds the Books mailbox, whose mail the shop's mail server delivers;
- previews the "ticket received" notification in Spanish and in Italian;
- releases a held message from the quarantine.

Then tickets created through the API are prioritised, routed, assigned, timed and processed
as configured, read back through the API. Every Console page visited is free of axe-core
violations; the journey's pages fit a 390 px phone. It runs in well under three minutes."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from playwright.sync_api import expect

from .axe import assert_accessible
from .conftest import PASSWORD
from .pages import no_sideways_overflow, settled, shot

ADMIN = "ada@desk.test"
AGENTS = {  # name: (e-mail, departments)
    "Caterina": ("caterina@desk.test", ("Books",)),
    "Miriam": ("miriam@desk.test", ("Electronics",)),
    "Adebayo": ("adebayo@desk.test", ("Books", "Electronics")),
    "Paolo": ("paolo@desk.test", ("Books",)),
    "Lucia": ("lucia@desk.test", ("Books",)),
    "Marco": ("marco@desk.test", ("Books",)),
}
AGENT_PASSWORD = "a-strong-pass-91"
MAILBOX = "books@shop.test"

ROUND_ROBIN_RULE = """key: books-round-robin
name: Books' tickets by round robin
category: round-robin
when:
  all:
    - {field: ticket.department, op: is, value: books}
    - {field: ticket.assignee, op: absent}
actions:
  - assign: {policy: books-round-robin}
"""


class Api:
    """The REST API of the live server, with a bearer token, as a script would call it."""

    def __init__(self, base: str, token: str) -> None:
        self.base = f"{base}/api/v1"
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if raw is not None:
            headers["Content-Type"] = "message/rfc822"
        r = httpx.request(method, f"{self.base}{path}", json=body, content=raw, headers=headers, timeout=30)
        return r.status_code, r.json() if r.content else None

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: Any) -> Any:
        status, answer = self.call("POST", path, body)
        assert status in (200, 201), (path, status, answer)
        return answer

    def ticket(self, **data: Any) -> dict[str, Any]:
        data.setdefault("requester_email", "carla@customer.test")
        data.setdefault("description", data["subject"])
        return self.post("/tickets", data)


def console(page: Any, url: Any, path: str, *, context: str) -> None:
    """Open a Console page and check it has no accessibility violations."""
    page.goto(url(path))
    assert_accessible(page, context=context)


def sign_in_as(page: Any, url: Any, email: str, password: str) -> None:
    page.goto(url("/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "/login/" not in u)


def fragment(text: str) -> re.Pattern[str]:
    """A pattern matching a value that contains `text` (Playwright takes a regex)."""
    return re.compile(re.escape(text))


# --------------------------------------------------------------------------------------------
# The steps, each on the Console's screens


def departments_fields_and_layouts(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    assert_accessible(page, context="the Console's overview")
    page.locator(".console-cards").get_by_role("link", name="Departments and layouts").click()
    page.get_by_text("No departments yet.").wait_for()
    assert_accessible(page, context="the departments, none yet")
    for name in ("Books", "Electronics"):
        page.goto(url("/console/departments/"))
        page.get_by_text("New department").click()
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Create department").click()
        page.get_by_text(f"Department “{name}” created.").wait_for()
    console(page, url, "/console/departments/", context="the departments")
    # the fields: a subcategory for both departments, a product code and a serial number
    console(page, url, "/console/fields/", context="the custom fields, none yet")
    for label, key, values in (
        ("Subcategory", "subcategory", "Novels\nchildrens_books | Children's books\nPhones\nTelevisions"),
        ("Product code", "product_code", None),
        ("Serial number", "serial_number", None),
    ):
        page.get_by_role("link", name="New field").click()
        page.get_by_label("Label").fill(label)
        page.get_by_role("textbox", name="Key").fill(key)
        if values:
            page.get_by_label("Type").select_option("picklist")
            page.get_by_label("Values").fill(values)
            assert_accessible(page, context="a new picklist field")
        page.get_by_role("button", name="Create field").click()
        page.get_by_text(f"Field “{label}” created.").wait_for()
    assert_accessible(page, context="the custom fields")
    # each department's layout: the subcategory with its own values
    for department, fields, dropped in (
        ("Books", ("Subcategory",), ("Phones", "Televisions")),
        ("Electronics", ("Subcategory", "Product code", "Serial number"), ("Novels", "Children's books")),
    ):
        page.goto(url("/console/departments/"))
        page.get_by_role("link", name=f"Layout {department}").click()
        page.get_by_role("heading", name=f"Layout of {department}").wait_for()
        # each change redraws the editor: the next one waits for it to settle
        for field in fields:
            settled(page)
            page.get_by_label("Add a field").select_option(label=field)
            page.get_by_role("button", name="Add", exact=True).click()
            page.locator(f"#row-{field.lower().replace(' ', '_')}").wait_for()
        row = page.locator("#row-subcategory")
        for value in dropped:
            settled(page)
            row.get_by_label(value, exact=True).uncheck()
        expect(page.locator("#id_agent-preview-subcategory option")).to_have_count(3)
        settled(page)
        assert_accessible(page, context=f"the layout of {department}")
        page.get_by_role("button", name="Save layout").click()
        page.get_by_text(f"Layout of {department} saved.").wait_for()


def invite_agents(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Agents").click()
    page.get_by_role("heading", name="Agents", level=1).wait_for()
    assert_accessible(page, context="the agents list, the admin alone")
    for name, (email, departments) in AGENTS.items():
        page.goto(url("/console/people/agents/invite/"))
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Role").select_option("agent")
        for department in departments:
            page.get_by_role("checkbox", name=department).check()
        if name == "Caterina":
            assert_accessible(page, context="the invitation form")
        page.get_by_role("button", name="Send the invitation").click()
        page.get_by_text(f"Invitation sent to {email}").wait_for()
    assert_accessible(page, context="the agents list with invitations")


def agents_activate(page: Any, url: Any) -> None:
    """Each invited agent opens the link in their mail and chooses a password."""
    from sportello.outbox.models import OutboxMessage

    mails = [json.dumps(m.payload) for m in OutboxMessage.objects.filter(kind="email").order_by("pk")]
    for name, (email, _departments) in AGENTS.items():
        mail = next(m for m in mails if email in m and "/invite/" in m)
        link = re.search(r"https?://[^/\s]+(/invite/[^\s\\\"]+/)", mail)
        assert link is not None, mail
        page.goto(url(link.group(1)))
        page.get_by_role("heading", name="Activate your account").wait_for()
        if name == "Caterina":
            assert_accessible(page, context="the invitation's page")
        page.get_by_label("New password", exact=True).fill(AGENT_PASSWORD)
        page.get_by_label("New password confirmation").fill(AGENT_PASSWORD)
        page.get_by_role("button", name="Activate my account").click()
        page.get_by_role("heading", name="Account activated").wait_for()
        if name == "Caterina":
            assert_accessible(page, context="the account activated")


def agents_set_their_availability(another_page: Any, url: Any) -> None:
    """Paolo and Lucia go online from their menu; Marco goes online, then offline."""
    for name, steps in (("Paolo", ("Online",)), ("Lucia", ("Online",)), ("Marco", ("Online", "Offline"))):
        page = another_page()
        sign_in_as(page, url, AGENTS[name][0], AGENT_PASSWORD)
        for step in steps:
            page.locator(".me-menu > summary").click()
            page.locator(".availability").get_by_role("button", name=step).click()
            page.locator(".availability [aria-pressed='true']", has_text=step).wait_for()
            if name == "Marco":
                assert_accessible(page, context="an agent's availability menu")
            page.keyboard.press("Escape")
        page.context.close()


def replacements_team(page: Any, url: Any) -> None:
    page.goto(url("/console/people/teams/"))
    assert_accessible(page, context="the teams, none yet")
    page.get_by_role("link", name="New team").click()
    page.get_by_label("Name", exact=True).fill("Replacements")
    page.get_by_label("Department").select_option(label="Electronics")
    page.get_by_role("checkbox", name="Miriam (miriam@desk.test)").check()
    assert_accessible(page, context="the team form")
    page.get_by_role("button", name="Create the team").click()
    page.get_by_text("Team “Replacements” created.").wait_for()
    assert_accessible(page, context="the team created")


def api_token(page: Any, url: Any) -> str:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="API tokens").click()
    page.wait_for_url(url("/console/tokens/"))
    assert_accessible(page, context="the API tokens")
    page.get_by_text("Create a token for yourself").click()
    page.get_by_label("Name").fill("Shop integration")
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("Token “Shop integration” created.").wait_for()
    assert_accessible(page, context="a token just created")
    return str(page.locator("#token-secret").input_value())


def heats_up_rule_built_with_a_dry_run(
    page: Any, url: Any, hot: dict[str, Any], other: dict[str, Any]
) -> None:
    """The article's rule in the visual builder: the message's body contains "phone heats up" →
    priority High, the Replacements team; tried on the recent tickets, then saved."""
    from sportello.accounts.models import Team
    from sportello.automation.models import Rule, RuleVersion

    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Event and time rules").click()
    page.get_by_text("No event rules yet.").wait_for()
    assert_accessible(page, context="the rules, none yet")
    page.get_by_role("link", name="New event rule").click()
    page.get_by_role("heading", name="New event rule", level=1).wait_for()
    builder = page.locator("#rule-builder")
    yaml_text = page.get_by_label("The rule as YAML")
    # the condition: the message's body contains "phone heats up"
    builder.locator("#bw-0-field").select_option(label="Message body")
    expect(yaml_text).to_have_value(fragment("field: message.body"))
    settled(page)
    builder.get_by_label("Test").select_option(label="contains")
    expect(yaml_text).to_have_value(fragment("op: contains"))
    settled(page)
    builder.get_by_label("Value").fill("phone heats up")
    builder.get_by_label("Value").press("Tab")
    expect(yaml_text).to_have_value(fragment("{field: message.body, op: contains, value: phone heats up}"))
    settled(page)
    # the actions: priority High, then the Replacements team
    builder.get_by_label("Action 1").select_option(label="Set a field")
    expect(builder.locator("#ba-0-field")).to_have_value("ticket.priority")
    settled(page)
    builder.get_by_label("New value").select_option(label="High")
    expect(yaml_text).to_have_value(fragment("set: {field: ticket.priority, value: high}"))
    settled(page)
    builder.get_by_role("button", name="Add an action").click()
    expect(builder.get_by_label("Action 2")).to_be_focused()
    settled(page)
    builder.get_by_label("Action 2").select_option(label="Assign")
    expect(builder.get_by_label("Assign to")).to_have_value("team")
    settled(page)
    builder.get_by_label("Which").select_option(label="Replacements")
    expect(yaml_text).to_have_value(fragment("team: replacements"))
    settled(page)
    # its name and key, typed in the YAML (the builder draws itself again from it)
    typed = yaml_text.input_value()
    yaml_text.fill(
        typed.replace("key: new-rule", "key: phone-heats-up").replace(
            "name: New rule", "name: The phone heats up"
        )
    )
    yaml_text.press("Tab")
    settled(page)
    expect(page.locator("#rule-check")).to_contain_text("Valid, and no warnings.")
    expect(page.locator("#rule-check")).to_contain_text("Message body contains phone heats up")
    assert_accessible(page, context="the rule built in the builder")
    # the dry run, before saving: of the two tickets opened a moment ago, only the one whose
    # message says so would have been changed
    page.get_by_role("button", name="Test on recent tickets").click()
    result = page.locator("#dry-run-result")
    result.get_by_text("Would have matched 1 of the last 2 tickets.").wait_for()
    row = result.get_by_role("row").filter(has_text=hot["subject"])
    assert "Priority: Normal → High" in row.inner_text()
    assert "Team: nothing → Replacements" in row.inner_text()
    assert other["subject"] not in result.inner_text()
    assert_accessible(page, context="the rule editor with its dry run")
    shot(page, "journey-rule-dry-run")
    page.get_by_role("button", name="Create the rule").click()
    page.get_by_text("Rule “The phone heats up” saved as version 1.").wait_for()
    assert_accessible(page, context="the rule saved")
    definition = RuleVersion.objects.get(rule=Rule.objects.get(key="phone-heats-up"), version=1).definition
    assert definition["when"] == {
        "all": [{"field": "message.body", "op": "contains", "value": "phone heats up"}]
    }
    assert definition["actions"] == [
        {"set": {"field": "ticket.priority", "value": "high"}},
        {"assign": {"team": Team.objects.get(name="Replacements").pk}},
    ]


def direct_assignments(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Direct assignment").click()
    page.get_by_text("No direct assignment yet.").wait_for()
    assert_accessible(page, context="the empty direct assignment page")
    page.get_by_label("When a new ticket…").select_option(label="The channel is")
    page.get_by_label("Channel", exact=True).select_option(label="Chat")
    page.get_by_label("Agent", exact=True).select_option(label="Caterina")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Rule “Chat → Caterina” saved").wait_for()
    # the product code is a custom field: its value typed as the field is
    page.get_by_label("When a new ticket…").select_option(label="A custom field is")
    page.get_by_label("Custom field", exact=True).select_option(label="Product code")
    page.get_by_label("Value", exact=True).fill("XT372")
    page.get_by_label("Agent", exact=True).select_option(label="Miriam")
    assert_accessible(page, context="a direct assignment on a custom field")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Rule “Product code XT372 → Miriam” saved").wait_for()
    page.get_by_label("When a new ticket…").select_option(label="The subject or the description contains")
    page.get_by_label("Words or domain").fill("refund")
    page.get_by_label("Agent", exact=True).select_option(label="Adebayo")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Rule ““refund” → Adebayo” saved").wait_for()
    assert "Product code is XT372" in page.locator("#rule-direct-product-code-xt372-miriam").inner_text()
    assert_accessible(page, context="the direct assignment rules")
    shot(page, "journey-direct-assignment")


def round_robin(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Round robin").click()
    page.get_by_text("No round-robin policy yet.").wait_for()
    assert_accessible(page, context="the round-robin policies, none yet")
    page.get_by_role("link", name="New policy").click()
    page.get_by_label("Name", exact=True).fill("Books round robin")
    page.get_by_label("Agents I choose").check()
    for name in ("Paolo", "Lucia", "Marco"):
        page.get_by_role("checkbox", name=name, exact=True).check()
    page.get_by_label("Most open tickets per agent").fill("3")
    assert page.get_by_label(
        "Only agents who are online get tickets (away and offline agents are skipped)"
    ).is_checked()
    assert_accessible(page, context="a new round-robin policy")
    page.get_by_role("button", name="Create policy").click()
    page.get_by_text("Policy “Books round robin” saved (version 1).").wait_for()
    assert_accessible(page, context="the policy with its members")
    members = page.locator("tr[id^=member-]")
    assert "Skipped: not online" in members.filter(has_text="Marco").inner_text()
    assert "Offline" in members.filter(has_text="Marco").inner_text()
    assert "Online" in members.filter(has_text="Paolo").inner_text()
    # a mistake: the cap raised to 30; restored from the policy's history
    page.get_by_label("Most open tickets per agent").fill("30")
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("Policy “Books round robin” saved (version 2).").wait_for()
    page.get_by_role("link", name="History", exact=True).click()
    page.get_by_role("heading", name="History of “Books round robin”").wait_for()
    assert_accessible(page, context="the policy's history")
    page.get_by_label("Compare from version 1").check()
    page.get_by_label("Compare to version 2").check()
    page.get_by_role("button", name="Compare the chosen versions").click()
    page.get_by_role("heading", name="From version 1 to version 2").wait_for()
    assert "30" in page.locator(".history-changes").inner_text()
    assert_accessible(page, context="what changed in the policy")
    page.get_by_role("link", name="Restore version 1…").click()
    page.get_by_role("heading", name="Restore version 1 of “Books round robin”?").wait_for()
    assert_accessible(page, context="the restore confirmation")
    page.get_by_role("button", name="Restore version 1").click()
    page.get_by_text("Version 1 restored: it is now version 3.").wait_for()
    assert_accessible(page, context="the policy's history after the restore")
    # the rule that hands Books' unassigned tickets to the policy, after the direct assignments
    page.goto(url("/console/rules/new/"))
    page.get_by_label("The rule as YAML").fill(ROUND_ROBIN_RULE)
    page.get_by_role("button", name="Create the rule").click()
    page.get_by_text("Rule “Books' tickets by round robin” saved as version 1.").wait_for()
    console(page, url, "/console/rules/", context="the rules")


def calendar_and_vip_sla(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Business calendars").click()
    page.get_by_text("No calendar yet.").wait_for()
    assert_accessible(page, context="the calendars, none yet")
    page.get_by_role("link", name="New calendar").click()
    page.get_by_label("Name", exact=True).fill("Rome office")
    page.get_by_label("Key", exact=True).fill("rome")
    page.get_by_label("Time zone").fill("Europe/Rome")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        page.get_by_label(f"{day}, interval 1, opens").fill("09:00")
        page.get_by_label(f"{day}, interval 1, closes").fill("18:00")
    assert_accessible(page, context="a new calendar")
    page.get_by_role("button", name="Create calendar").click()
    page.get_by_text("Calendar “Rome office” created.").wait_for()
    # Italy's public holidays, from the holidays data (offline)
    assert page.get_by_label("Country").input_value() == "IT"
    page.get_by_role("button", name="Show holidays").click()
    page.get_by_role("heading", name="Import public holidays").wait_for()
    assert_accessible(page, context="the holidays to import")
    page.get_by_role("button", name="Add the chosen holidays").click()
    page.get_by_text("holidays added.").wait_for()
    assert_accessible(page, context="the calendar with its holidays")
    # the VIP SLA, counted in the office's hours
    page.locator(".console-nav").get_by_role("link", name="SLA policies").click()
    page.get_by_role("heading", name="SLA policies", level=1).wait_for()
    assert_accessible(page, context="the SLA policies, none yet")
    page.get_by_role("link", name="New policy").click()
    page.get_by_label("Name", exact=True).fill("VIP customers")
    page.get_by_label("Key", exact=True).fill("vip")
    page.get_by_label("Tickets of VIP customers").check()
    page.get_by_label("First response, Normal").fill("1h")
    page.get_by_label("Resolution, Normal").fill("2d")
    page.get_by_label("Count time in").select_option("rome")
    assert_accessible(page, context="a new SLA policy")
    page.get_by_role("button", name="Create policy").click()
    page.get_by_text("SLA policy “VIP customers” created.").wait_for()
    assert_accessible(page, context="the SLA policy saved")


def customer_made_vip(page: Any, url: Any, email: str) -> None:
    page.goto(url("/console/people/contacts/"))
    page.get_by_label("Search by name, e-mail or phone").fill(email)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "q=" in u)
    assert_accessible(page, context="the contacts searched")
    page.get_by_role("link", name=email).first.click()
    page.get_by_role("heading", name=email).wait_for()
    assert_accessible(page, context="a contact's page")
    page.get_by_role("checkbox", name="VIP").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("saved.").first.wait_for()


def warranty_blueprint(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Blueprints").click()
    page.get_by_text("No blueprint yet").wait_for()
    assert_accessible(page, context="the blueprints, none yet")
    page.get_by_role("link", name="New blueprint").click()
    about = page.get_by_role("group", name="Blueprint")
    about.get_by_label("Name", exact=True).fill("Warranty claim")
    about.get_by_label("Key", exact=True).fill("warranty")
    about.get_by_label("Department").select_option(label="Electronics")
    page.get_by_label("Applies to (condition, YAML)").fill(
        "{field: ticket.subject, op: contains, value: warranty}"
    )
    page.get_by_role("button", name="Add a state").click()
    page.locator("#s-2-name").wait_for()
    for i, (name, status) in enumerate(
        [("Received", "Open"), ("Inspecting", "Pending"), ("Replaced", "Solved")]
    ):
        page.get_by_label(f"Name of state {i + 1}").fill(name)
        page.get_by_label(f"Ticket status of state {i + 1}").select_option(label=status)
    page.get_by_label("State 2 is an end").uncheck()
    page.get_by_label("State 3 is an end").check()
    page.get_by_role("button", name="Add a transition").click()
    page.locator("#transition-1").wait_for()
    inspect, replace = (page.locator(f"#transition-{i}") for i in range(2))
    inspect.get_by_label("Name", exact=True).fill("Inspect")
    inspect.get_by_role("group", name="From").get_by_label("Received").check()
    inspect.get_by_label("To").select_option(label="Inspecting")
    replace.get_by_label("Name", exact=True).fill("Replace")
    replace.get_by_role("group", name="From").get_by_label("Inspecting").check()
    replace.get_by_label("To").select_option(label="Replaced")
    replace.get_by_role("group", name="Fields that must be filled").get_by_label("Serial number").check()
    page.wait_for_function(
        "() => (document.querySelector('#bp-preview svg')?.textContent || '').includes('Replace')"
    )
    assert_accessible(page, context="the blueprint editor")
    page.get_by_role("button", name="Save blueprint").first.click()
    page.get_by_text("Blueprint “Warranty claim” saved as version 1.").wait_for()
    assert_accessible(page, context="the blueprint saved")


def books_mailbox(page: Any, url: Any) -> None:
    """The Books mailbox, whose mail the shop's mail server (MTA) delivers: no IMAP account."""
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Mailboxes").click()
    page.wait_for_url(url("/console/mailboxes/"))
    page.get_by_text("No mailbox yet.").wait_for()
    assert "/api/v1/mail/inbound" in page.locator("#mta-endpoint").inner_text()
    assert_accessible(page, context="the mailboxes, none yet")
    page.get_by_role("link", name="New mailbox").click()
    page.wait_for_url(url("/console/mailboxes/new/"))
    page.get_by_label("Address").fill(MAILBOX)
    page.get_by_label("Department").select_option(label="Books")
    assert page.get_by_label("IMAP server").input_value() == ""
    assert_accessible(page, context="a new mailbox")
    page.get_by_role("button", name="Create the mailbox").click()
    page.wait_for_url(url("/console/mailboxes/"))
    page.get_by_text(f"Mailbox {MAILBOX} created.").wait_for()
    assert MAILBOX in page.locator(".mailbox-routes").inner_text()
    assert_accessible(page, context="the mailboxes")


def template_previews(page: Any, url: Any) -> None:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Notification templates").click()
    assert_accessible(page, context="the notification templates")
    page.get_by_role("link", name="Customise Ticket received (Spanish)").click()
    page.locator("#preview-subject").wait_for()
    page.get_by_label("Text", exact=True).fill(
        "Hola {{ requester.name }}: prioridad {{ ticket.priority_name }}."
    )
    page.locator("#preview-text", has_text="Hola Carla Rossi: prioridad Alta.").wait_for()
    page.get_by_label("Language", exact=True).select_option("it")
    page.get_by_label("Text", exact=True).fill(
        "Ciao {{ requester.name }}: priorità {{ ticket.priority_name }}."
    )
    page.locator("#preview-text", has_text="Ciao Carla Rossi: priorità Alta.").wait_for()
    assert_accessible(page, context="a template's preview in Italian")


def held_message_released(page: Any, url: Any, inbound_id: int) -> int:
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Quarantine").click()
    assert "From an agent's address" in page.locator(f"#held-{inbound_id}").inner_text()
    assert_accessible(page, context="the quarantine")
    page.locator(f"#held-{inbound_id}").get_by_role("link", name="Review").click()
    assert_accessible(page, context="a held message")
    page.get_by_role("button", name="Release into the desk").click()
    page.wait_for_url(url("/console/quarantine/"))
    notice = page.get_by_text("Released: it opened ticket #")
    notice.wait_for()
    assert_accessible(page, context="the quarantine after a release")
    match = re.search(r"#(\d+)", notice.inner_text())
    assert match is not None
    return int(match.group(1))


# --------------------------------------------------------------------------------------------
# The journey


def test_the_articles_set_up_built_in_the_console_from_an_empty_desk(
    page: Any, phone_page: Any, another_page: Any, url: Any, live_server: Any
) -> None:
    from sportello.accounts.models import Department, Role, User
    from sportello.accounts.services import agent_create
    from sportello.engine.calendars import add, elapsed, is_holiday, parse_calendar

    # an empty desk: no departments, no agents, no rules; only its admin
    assert not Department.objects.exists()
    agent_create(email=ADMIN, name="Ada Admin", role=Role.ADMIN, password=PASSWORD)
    assert User.objects.count() == 1
    sign_in_as(page, url, ADMIN, PASSWORD)

    departments_fields_and_layouts(page, url)
    invite_agents(page, url)
    agents_activate(page, url)
    agents_set_their_availability(another_page, url)
    replacements_team(page, url)
    api = Api(live_server.url, api_token(page, url))
    agents = api.get("/agents")["items"]
    people = {a["name"]: a["id"] for a in agents}
    assert {a["name"]: a["status"] for a in agents if a["name"] in ("Paolo", "Lucia", "Marco")} == {
        "Paolo": "online",
        "Lucia": "online",
        "Marco": "offline",
    }
    departments = {d["name"]: d["id"] for d in api.get("/departments")["items"]}
    books, electronics = departments["Books"], departments["Electronics"]

    # two tickets before the rule exists: its dry run shows what it would have done to the one
    # whose message says the phone heats up, and leaves the other alone
    first = api.ticket(
        subject="Hot after the update",
        description="Since the update the phone heats up in my pocket.",
        department_id=electronics,
    )
    other = api.ticket(
        subject="A scratched screen", description="It arrived scratched.", department_id=electronics
    )
    assert (first["priority"], other["priority"]) == ("normal", "normal")
    heats_up_rule_built_with_a_dry_run(page, url, first, other)
    direct_assignments(page, url)
    round_robin(page, url)
    calendar_and_vip_sla(page, url)
    warranty_blueprint(page, url)
    books_mailbox(page, url)
    template_previews(page, url)

    # the phone heats up: High, to the Replacements team
    hot = api.ticket(
        subject="Overheating",
        description="When I charge it the phone heats up a lot.",
        department_id=electronics,
    )
    replacements = next(t["id"] for t in api.get("/teams")["items"] if t["name"] == "Replacements")
    assert (hot["priority"], hot["team_id"]) == ("high", replacements)
    # direct assignment: chat → Caterina, product code XT372 → Miriam, "refund" → Adebayo
    chat = api.ticket(subject="Hello from the chat", channel="chat", department_id=books)
    xt = api.ticket(
        subject="Broken screen",
        department_id=electronics,
        custom_fields={"product_code": "XT372", "subcategory": "phones"},
    )
    refund = api.ticket(subject="Money back", description="I would like a refund.", department_id=books)
    assert api.get(f"/tickets/{chat['id']}")["assignee_id"] == people["Caterina"]
    assert api.get(f"/tickets/{xt['id']}")["assignee_id"] == people["Miriam"]
    assert xt["custom_fields"]["subcategory"] == "phones"
    assert api.get(f"/tickets/{refund['id']}")["assignee_id"] == people["Adebayo"]
    # a subcategory of Electronics is refused in Books
    status, error = api.call(
        "POST",
        "/tickets",
        {
            "subject": "A phone book",
            "description": "?",
            "requester_email": "carla@customer.test",
            "department_id": books,
            "custom_fields": {"subcategory": "phones"},
        },
    )
    assert status == 422, error
    # round robin: Paolo and Lucia, online, take three each; Marco, offline, none; the seventh waits
    rr = [api.ticket(subject=f"Order {i}", department_id=books)["id"] for i in range(7)]
    assignees = [api.get(f"/tickets/{t}")["assignee_id"] for t in rr]
    assert sorted(a for a in assignees if a) == sorted([people["Paolo"]] * 3 + [people["Lucia"]] * 3)
    assert assignees[6] is None
    # the VIP SLA, in the Rome office's business hours with Italy's holidays
    giulia = "giulia@vip.test"
    before = api.ticket(subject="A question", department_id=electronics, requester_email=giulia)
    assert api.get(f"/tickets/{before['id']}/sla")["policy"] is None
    customer_made_vip(page, url, giulia)
    vip = api.ticket(subject="An urgent question", department_id=electronics, requester_email=giulia)
    sla = api.get(f"/tickets/{vip['id']}/sla")
    assert sla["policy"] == "vip"
    rome = parse_calendar(api.get("/calendars/rome")["definition"])
    assert any(h.name == "Immacolata Concezione" for v in rome.versions for h in v.holidays)
    first_response = next(c for c in sla["clocks"] if c["metric"] == "first_response")
    assert first_response["business"] is True
    start = datetime.fromisoformat(first_response["started_at"])
    due = datetime.fromisoformat(first_response["due_at"])
    assert due == add(rome, start, timedelta(hours=1))
    assert elapsed(rome, start, due) == timedelta(hours=1)
    assert not is_holiday(rome, due)
    # the warranty blueprint: the replacement asks for the serial number
    claim = api.ticket(subject="Warranty claim for my phone", department_id=electronics)
    process = api.get(f"/tickets/{claim['id']}/blueprint")
    assert (process["blueprint"]["key"], process["state"]["key"]) == ("warranty", "received")
    api.post(f"/tickets/{claim['id']}/blueprint/transitions/inspect", {})
    status, refused = api.call("POST", f"/tickets/{claim['id']}/blueprint/transitions/replace", {})
    assert status == 422, refused
    assert "serial_number" in json.dumps(refused)
    done = api.post(
        f"/tickets/{claim['id']}/blueprint/transitions/replace", {"custom_fields": {"serial_number": "SN-1"}}
    )
    assert done["state"]["key"] == "replaced"
    assert api.get(f"/tickets/{claim['id']}")["custom_fields"]["serial_number"] == "SN-1"
    # the quarantine: Caterina forwards a customer's mail to the mailbox; the shop's mail server
    # delivers it to the desk, which holds it; the admin releases it
    message = EmailMessage()
    message["From"], message["To"] = "Caterina <caterina@desk.test>", MAILBOX
    message["Subject"], message["Message-ID"] = "Fwd: my parcel is late", "<fwd-1@desk.test>"
    message.set_content("Forwarding what a customer sent me:\n\n> Where is my parcel?")
    status, held = api.call("POST", "/mail/inbound", raw=message.as_bytes())
    assert (status, held["status"]) == (201, "quarantine"), held
    number = held_message_released(page, url, held["inbound_id"])
    (latest,) = api.get("/tickets?sort=-created_at&limit=1")["items"]
    assert (latest["number"], latest["subject"], latest["department_id"]) == (
        number,
        "Fwd: my parcel is late",
        books,
    )

    # the journey's pages on a phone
    sign_in_as(phone_page, url, ADMIN, PASSWORD)
    for path in ("/console/direct-assignment/", "/console/round-robin/books-round-robin/"):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    shot(phone_page, "journey-direct-assignment-phone")

"""Round robin and direct assignment in the Console, in a real browser: an admin creates a
round-robin policy with a cap of 3 that skips offline agents, sees each member's load, status
and who gets the next ticket, fixes a mistake shown by its field; the pages have no accessibility
violations and fit a 390 px wide phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_sets_up_round_robin(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create
    from sportello.automation.models import AssignmentPolicy

    cara = agent_create(email="cara@desk.test", name="Cara Books", role=Role.AGENT, departments=[desk.books])
    desk.agent.status = "online"
    desk.agent.save(update_fields=["status"])
    open_ticket("Two for Bruno", assignee_id=desk.agent.pk)
    open_ticket("Two for Bruno, again", assignee_id=desk.agent.pk)
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Round robin").click()
    page.wait_for_url(url("/console/round-robin/"))
    page.get_by_text("No round-robin policy yet.").wait_for()
    assert_accessible(page, context="the empty round-robin list")
    page.get_by_role("link", name="New policy").click()
    page.wait_for_url(url("/console/round-robin/new/"))
    assert_accessible(page, context="a new policy")
    # she forgets the department: told so by its field, the name she typed kept
    page.get_by_label("Name", exact=True).fill("Books round robin")
    page.get_by_label("Most open tickets per agent").fill("3")
    page.get_by_role("button", name="Create policy").click()
    page.get_by_text("Choose the department whose agents take tickets.").wait_for()
    assert page.get_by_label("Name", exact=True).input_value() == "Books round robin"
    assert_accessible(page, context="a policy with a mistake")
    page.get_by_label("Department", exact=True).select_option(label="Books")
    page.get_by_role("button", name="Create policy").click()
    page.get_by_text("Policy “Books round robin” saved (version 1).").wait_for()
    policy = AssignmentPolicy.objects.get()
    assert policy.definition["max_open_per_agent"] == 3
    assert policy.definition["offline"] == "skip"
    # each member's load and status, and who is next: Bruno is online; Cara and Ada are not
    bruno = page.locator(f"#member-{desk.agent.pk}")
    assert "Online" in bruno.inner_text()
    assert "2 of 3" in bruno.inner_text()
    assert "Next in line" in bruno.inner_text()
    assert "Skipped: not online" in page.locator(f"#member-{cara.pk}").inner_text()
    assert_accessible(page, context="the policy's editor")
    shot(page, "console-round-robin")
    # offline agents get tickets too: Cara, with none open, becomes next
    page.get_by_label("Agents who are away or offline get tickets too").check()
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("Policy “Books round robin” saved (version 2).").wait_for()
    assert "Next in line" in page.locator(f"#member-{cara.pk}").inner_text()
    # the list shows it
    page.get_by_role("link", name="Round robin", exact=True).first.click()
    row = page.locator("#policy-books-round-robin")
    assert "Department Books" in row.inner_text()
    assert_accessible(page, context="the round-robin list")
    shot(page, "console-round-robin-list")


def test_an_admin_adds_direct_assignments(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create

    caterina = agent_create(
        email="caterina@desk.test", name="Caterina", role=Role.AGENT, departments=[desk.books]
    )
    adebayo = agent_create(
        email="adebayo@desk.test", name="Adebayo", role=Role.AGENT, departments=[desk.books]
    )
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Direct assignment").click()
    page.wait_for_url(url("/console/direct-assignment/"))
    page.get_by_text("No direct assignment yet.").wait_for()
    assert_accessible(page, context="the empty direct assignment page")
    # chats go to Caterina
    page.get_by_label("When a new ticket…").select_option(label="The channel is")
    page.get_by_label("Channel", exact=True).select_option(label="Chat")
    page.get_by_label("Agent", exact=True).select_option(label="Caterina")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Rule “Chat → Caterina” saved: new tickets that match are assigned.").wait_for()
    # "refund" anywhere goes to Adebayo; she forgets the word first
    page.get_by_label("When a new ticket…").select_option(label="The subject or the description contains")
    page.get_by_label("Agent", exact=True).select_option(label="Adebayo")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Type the words to look for.").wait_for()
    assert_accessible(page, context="a direct assignment with a mistake")
    page.get_by_label("Words or domain").fill("refund")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Rule ““refund” → Adebayo” saved").wait_for()
    assert (
        "Subject or description contains “refund”" in page.locator("#rule-direct-refund-adebayo").inner_text()
    )
    assert "Channel is Chat" in page.locator("#rule-direct-chat-caterina").inner_text()
    assert_accessible(page, context="the direct assignment rules")
    shot(page, "console-direct-assignment")
    # new tickets follow them
    assert open_ticket("Hi", channel="chat", requester=desk.bob).assignee_id == caterina.pk
    assert open_ticket("Money", description="A refund?", requester=desk.bob).assignee_id == adebayo.pk
    # turned off, the chat rule assigns nothing
    page.get_by_role("button", name="Turn off Chat → Caterina").click()
    page.get_by_text("is off: it assigns nothing until turned on").wait_for()
    assert open_ticket("Hi again", channel="chat", requester=desk.bob).assignee_id is None


def test_the_assignment_pages_fit_a_phone(
    desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.automation.assignment import policy_save

    policy_save(
        definition={
            "key": "books-rr",
            "name": "Books round robin with a rather long name",
            "pool": {"agents": [desk.agent.pk, desk.admin.pk, desk.outsider.pk]},
            "max_open_per_agent": 3,
        },
        created_by=desk.admin,
        now=now,
    )
    sign_in(phone_page, desk.admin)
    from sportello.automation.services import direct_rule_create

    direct_rule_create(
        name="Tickets from a customer with a long domain name",
        when={"all": [{"field": "requester.domain", "op": "is", "value": "a-rather-long-domain.example"}]},
        assign={"team": desk.team.pk},
        created_by=desk.admin,
        now=now,
    )
    paths = ("/console/round-robin/", "/console/round-robin/new/", "/console/round-robin/books-rr/")
    for path in (*paths, "/console/direct-assignment/"):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    shot(phone_page, "console-round-robin-phone")


def test_an_admin_previews_a_macro_on_a_ticket(
    desk: Any, now: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.automation.macros import macro_create

    macro_create(
        definition={
            "key": "ask-order",
            "name": "Ask for the order number",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"reply": {"body": "Hello {{ requester.name }}, what is your order number?"}},
            ],
        },
        actor=desk.admin,
        now=now,
    )
    ticket = open_ticket("Where is my parcel?")
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Macros").click()
    page.wait_for_url(url("/console/macros/"))
    assert_accessible(page, context="the macros list")
    page.get_by_role("link", name="Ask for the order number").click()
    page.get_by_label("Ticket number").fill(str(ticket.number))
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("Hello Alice Acme, what is your order number?").wait_for()
    assert_accessible(page, context="a macro's preview")
    shot(page, "console-macro-preview")
    sign_in(phone_page, desk.admin)
    for path in ("/console/macros/", f"/console/macros/ask-order/?ticket={ticket.number}"):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")


def test_an_admin_previews_a_canned_response(
    desk: Any, now: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.notifications.canned import canned_create

    canned = canned_create(
        actor=desk.admin,
        title="Order number, please",
        body="Hello {{ requester.name }}, could you send us your order number?",
        department_id=desk.books.pk,
        now=now,
    )
    ticket = open_ticket("Where is my parcel?")
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Canned responses").click()
    page.wait_for_url(url("/console/canned-responses/"))
    assert_accessible(page, context="the canned responses")
    page.get_by_role("link", name="Order number, please").click()
    page.get_by_label("Ticket number").fill(str(ticket.number))
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("Hello Alice Acme, could you send us your order number?").wait_for()
    assert_accessible(page, context="a canned response's preview")
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/canned-responses/",
        f"/console/canned-responses/{canned.pk}/?ticket={ticket.number}",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")


def test_a_direct_assignment_on_a_custom_field_types_its_value(
    desk: Any, layouts: None, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.automation.services import direct_rules
    from sportello.tickets.fields_services import custom_field_create

    custom_field_create(actor=None, key="weight", label="Weight (kg)", type="number")
    sign_in(page, desk.admin)
    page.goto(url("/console/direct-assignment/"))
    # only the chosen condition's input shows
    assert page.get_by_label("Channel", exact=True).is_visible()
    assert not page.get_by_label("Value", exact=True).is_visible()
    page.get_by_label("When a new ticket…").select_option(label="A custom field is")
    assert not page.get_by_label("Channel", exact=True).is_visible()
    value = page.get_by_label("Value", exact=True)
    # a picklist offers its values; a number field takes a number
    page.get_by_label("Custom field", exact=True).select_option(label="Subcategory")
    options = page.locator("#direct-values option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["Novels", "Children's books", "Phones", "Televisions"]
    assert value.get_attribute("list") == "direct-values"
    page.get_by_label("Custom field", exact=True).select_option(label="Weight (kg)")
    assert value.get_attribute("type") == "number"
    assert value.get_attribute("list") is None
    # a picklist's value typed that is not one of its values is refused next to the field
    page.get_by_label("Custom field", exact=True).select_option(label="Subcategory")
    value.fill("Radios")
    page.get_by_label("A team").check()
    assert not page.get_by_label("Agent", exact=True).is_visible()
    page.get_by_label("Team", exact=True).select_option(label="Novels (Books)")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text(
        "Choose one of this field's values: Novels, Children's books, Phones, Televisions."
    ).wait_for()
    assert page.get_by_label("Value", exact=True).input_value() == "Radios"
    assert_accessible(page, context="a custom-field condition with a mistake")
    shot(page, "console-direct-assignment-custom-field-error")
    page.get_by_label("Value", exact=True).fill("Novels")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_text("Rule “Subcategory Novels → Novels (Books)” saved").wait_for()
    assert (
        "Subcategory is Novels" in page.locator("#rule-direct-subcategory-novels-novels-books").inner_text()
    )
    assert [r.name for r in direct_rules()] == ["Subcategory Novels → Novels (Books)"]
    shot(page, "console-direct-assignment-custom-field")
    # on a phone, the form with the custom field's inputs fits
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("When a new ticket…").select_option(label="A custom field is")
    page.get_by_label("Custom field", exact=True).select_option(label="Subcategory")
    no_sideways_overflow(page)
    shot(page, "console-direct-assignment-custom-field-phone")

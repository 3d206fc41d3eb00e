"""People in the Console, in a real browser: an admin invites an agent, who activates their
account through the mailed link; she changes an agent's departments, deactivates an agent
holding open tickets through the confirmation, and creates a team. Every page has no
accessibility violations and fits a 390 px wide phone."""

from __future__ import annotations

import re
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_invites_edits_and_deactivates_agents(
    desk: Any, page: Any, sign_in: Any, url: Any, open_ticket: Any
) -> None:
    from sportello.accounts.models import User
    from sportello.outbox.models import OutboxMessage
    from sportello.tickets.models import Ticket

    held = [open_ticket(f"Held {i}", assignee_id=desk.agent.pk) for i in range(2)]
    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Agents").click()
    page.wait_for_url(url("/console/people/agents/"))
    page.get_by_role("heading", name="Agents", level=1).wait_for()
    assert "Bruno Books" in page.locator(f"#agent-{desk.agent.pk}").inner_text()
    assert_accessible(page, context="the agents list")
    # Ada invites Nora to Books
    page.get_by_role("link", name="Invite an agent").click()
    page.get_by_role("heading", name="Invite an agent").wait_for()
    assert_accessible(page, context="the invitation form")
    page.get_by_label("Name", exact=True).fill("Nora New")
    page.get_by_label("E-mail").fill("nora@desk.test")
    page.get_by_label("Role").select_option("agent")
    page.get_by_role("checkbox", name="Books").check()
    shot(page, "console-agent-invite")
    page.get_by_role("button", name="Send the invitation").click()
    page.get_by_text("Invitation sent to nora@desk.test").wait_for()
    nora = User.objects.get(email="nora@desk.test")
    row = page.locator(f"#agent-{nora.pk}")
    assert "Invited" in row.inner_text()
    shot(page, "console-agents-invited")
    # the list of every agent
    page.get_by_label("State").select_option("all")
    page.get_by_role("button", name="Filter").click()
    page.locator(f"#agent-{desk.outsider.pk}").wait_for()
    assert_accessible(page, context="the agents list with an invited agent")
    shot(page, "console-agents")
    # Bruno moves to Electronics too
    page.get_by_role("link", name="Bruno Books").click()
    page.get_by_role("heading", name="Bruno Books").wait_for()
    assert_accessible(page, context="an agent's page")
    page.get_by_role("checkbox", name="Electronics").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Bruno Books is saved.").wait_for()
    assert sorted(d.name for d in User.objects.get(pk=desk.agent.pk).departments.all()) == [
        "Books",
        "Electronics",
    ]
    # then is deactivated, through the confirmation that counts his open tickets
    page.get_by_role("link", name="Deactivate…").click()
    page.get_by_role("heading", name="Deactivate Bruno Books?").wait_for()
    page.get_by_text("They hold 2 open tickets").wait_for()
    assert_accessible(page, context="the deactivation's confirmation")
    shot(page, "console-agent-deactivate")
    page.get_by_role("button", name="Deactivate").click()
    page.get_by_text("Bruno Books is deactivated; 2 open tickets went back to assignment.").wait_for()
    assert [Ticket.objects.get(pk=t.pk).assignee_id for t in held] == [None, None]
    page.get_by_role("button", name="Reactivate").wait_for()
    # Nora opens the link in her mail and chooses a password
    body = OutboxMessage.objects.get(kind="email").payload["body"]
    link = re.search(r"https?://[^/\s]+(/invite/\S+/)", body)
    assert link is not None
    page.goto(url(link.group(1)))
    page.get_by_role("heading", name="Activate your account").wait_for()
    assert_accessible(page, context="the invitation's page")
    shot(page, "invite-accept")
    page.get_by_label("New password", exact=True).fill("a-strong-pass-91")
    page.get_by_label("New password confirmation").fill("a-strong-pass-91")
    page.get_by_role("button", name="Activate my account").click()
    page.get_by_role("heading", name="Account activated").wait_for()
    assert_accessible(page, context="the account activated")
    assert User.objects.get(pk=nora.pk).is_active


def test_an_admin_creates_a_team(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.accounts.models import Team

    sign_in(page, desk.admin)
    page.goto(url("/console/people/teams/"))
    assert "Novels" in page.locator(f"#team-{desk.team.pk}").inner_text()
    assert_accessible(page, context="the teams list")
    shot(page, "console-teams")
    page.get_by_role("link", name="New team").click()
    page.get_by_label("Name", exact=True).fill("Returns")
    page.get_by_label("Department").select_option(label="Books")
    page.get_by_role("checkbox", name="Lia Light (lia@desk.test)").check()
    assert_accessible(page, context="the team form")
    page.get_by_role("button", name="Create the team").click()
    page.get_by_text("Team “Returns” created.").wait_for()
    team = Team.objects.get(name="Returns")
    assert [m.name for m in team.members.all()] == ["Lia Light"]


def test_the_people_pages_fit_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/people/agents/",
        "/console/people/agents/invite/",
        f"/console/people/agents/{desk.agent.pk}/",
        f"/console/people/agents/{desk.agent.pk}/deactivate/",
        "/console/people/teams/",
        "/console/people/teams/new/",
        f"/console/people/teams/{desk.team.pk}/",
        "/console/people/contacts/",
        f"/console/people/contacts/{desk.alice.pk}/",
        "/console/people/organizations/",
        f"/console/people/organizations/{desk.acme.pk}/",
        "/console/people/contacts/new/",
        "/console/people/organizations/new/",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.goto(url("/console/people/agents/"))
    shot(phone_page, "console-agents-phone")


def test_an_admin_finds_and_edits_a_contact_and_an_organization(
    desk: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.contacts.models import Contact, Organization

    sign_in(page, desk.admin)
    page.goto(url("/console/people/contacts/"))
    page.get_by_label("Search by name, e-mail or phone").fill("example")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "q=example" in u)
    assert page.locator(f"#contact-{desk.alice.pk}").count() == 0
    assert_accessible(page, context="the contacts searched")
    shot(page, "console-contacts")
    page.get_by_role("link", name="Bob Example").click()
    page.get_by_role("heading", name="Bob Example").wait_for()
    assert_accessible(page, context="a contact's page")
    page.get_by_label("Organization").select_option(label="Acme")
    page.get_by_label("VIP").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Contact “Bob Example” saved.").wait_for()
    bob = Contact.objects.get(pk=desk.bob.pk)
    assert (bob.organization_id, bob.vip) == (desk.acme.pk, True)
    page.goto(url("/console/people/organizations/"))
    assert_accessible(page, context="the organizations")
    page.get_by_role("link", name="Acme").click()
    page.get_by_label("E-mail domains").fill("acme.test\nacme-shop.test")
    page.get_by_label("Tier").select_option("platinum")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Organization “Acme” saved.").wait_for()
    acme = Organization.objects.get(pk=desk.acme.pk)
    assert (acme.domains, acme.tier) == (["acme.test", "acme-shop.test"], "platinum")


def test_an_admin_creates_a_contact_and_an_organization(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.contacts.models import Contact, Organization
    from sportello.contacts.services import contact_update

    sign_in(page, desk.admin)
    page.goto(url("/console/people/organizations/"))
    page.get_by_role("link", name="New organization").click()
    page.get_by_role("heading", name="New organization").wait_for()
    assert_accessible(page, context="the new organization form")
    page.get_by_label("Name").fill("Globex")
    page.get_by_label("E-mail domains").fill("globex.test\nacme.test")
    page.get_by_label("Tier").select_option("silver")
    page.get_by_role("button", name="Create the organization").click()
    # a domain of Acme's: said, with a link to Acme, and what was typed kept
    page.get_by_text("One of these domains belongs to another organization").first.wait_for()
    assert page.get_by_label("Name").input_value() == "Globex"
    assert page.get_by_role("link", name="Open “Acme”, which has it").get_attribute("href") == (
        f"/console/people/organizations/{desk.acme.pk}/"
    )
    assert_accessible(page, context="a new organization refused")
    shot(page, "console-organization-new-taken")
    page.get_by_label("E-mail domains").fill("globex.test")
    page.get_by_role("button", name="Create the organization").click()
    page.get_by_text("Organization “Globex” created.").wait_for()
    globex = Organization.objects.get(name="Globex")
    assert (globex.domains, globex.tier) == (["globex.test"], "silver")

    page.goto(url("/console/people/contacts/"))
    page.get_by_role("link", name="New contact").click()
    page.get_by_role("heading", name="New contact").wait_for()
    assert_accessible(page, context="the new contact form")
    page.get_by_label("Name").fill("Carla Globex")
    page.get_by_label("E-mail").fill("alice@acme.test")
    page.get_by_role("button", name="Create the contact").click()
    page.get_by_text("Another contact has this e-mail address.").wait_for()
    assert page.get_by_label("Name").input_value() == "Carla Globex"
    assert page.get_by_role("link", name="Open “Alice Acme”, which has it").get_attribute("href") == (
        f"/console/people/contacts/{desk.alice.pk}/"
    )
    assert_accessible(page, context="a new contact refused")
    page.get_by_label("E-mail").fill("carla@globex.test")
    page.get_by_label("VIP").check()
    page.get_by_role("button", name="Create the contact").click()
    page.get_by_text("Contact “Carla Globex” created.").wait_for()
    carla = Contact.objects.get(email="carla@globex.test")
    assert (carla.name, carla.organization_id, carla.vip) == ("Carla Globex", globex.pk, True)

    # someone else edits Carla while her page is open: the save is refused, nothing typed lost
    contact_update(contact=carla, actor=desk.admin, name="Carla G.")
    page.get_by_label("Phone").fill("+39 02 777")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Someone else changed this while you were editing it").wait_for()
    assert page.get_by_label("Phone").input_value() == "+39 02 777"
    assert "Carla G." in page.locator(".people-changes").inner_text()
    assert_accessible(page, context="a stale contact save")
    shot(page, "console-contact-stale")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Contact “Carla Globex” saved.").wait_for()
    assert Contact.objects.get(pk=carla.pk).phone == "+39 02 777"

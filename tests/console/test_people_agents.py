"""The Console's agents: the list with its filters, inviting an agent by e-mail (an outbox mail
with a set-password link that expires and works once), a new invitation, editing role and
departments, deactivating (open tickets handed back to assignment through the pipeline, by the
admin, via the web) and reactivating; admins only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import Role, User
from sportello.outbox.models import OutboxMessage
from sportello.tickets.models import Ticket, TicketEvent

PAGES = [
    "/console/people/agents/",
    "/console/people/agents/invite/",
    "/console/people/agents/{agent}/",
    "/console/people/agents/{agent}/deactivate/",
]
POSTS = [
    "/console/people/agents/invite/",
    "/console/people/agents/{agent}/",
    "/console/people/agents/{agent}/deactivate/",
    "/console/people/agents/{agent}/reactivate/",
    "/console/people/agents/{agent}/resend/",
]


def names(response: Any) -> list[str]:
    return [a.name for a, _state in response.context["agents"]]


def invite(client: Client, **data: Any) -> Any:
    form = {"name": "Nora New", "email": "nora@desk.test", "role": "agent", "language": "en", **data}
    return client.post("/console/people/agents/invite/", form)


def link_in(mail: OutboxMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/invite/[^\s]+/)", mail.payload["body"])
    assert found is not None, mail.payload["body"]
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["agent", "light"])
def test_agents_and_light_agents_get_the_403_page(
    desk: Any, browser: Any, settings: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    r = browser(getattr(desk, role)).get(path.format(agent=desk.agent.pk))
    assert r.status_code == 403


@pytest.mark.parametrize("path", POSTS)
def test_an_agent_changes_nobody_through_it(desk: Any, browser: Any, path: str) -> None:
    r = browser(desk.agent).post(path.format(agent=desk.outsider.pk), {"name": "X", "email": "x@desk.test"})
    assert r.status_code == 403
    desk.outsider.refresh_from_db()
    assert desk.outsider.is_active
    assert desk.outsider.name == "Eva Electronics"
    assert not User.objects.filter(email="x@desk.test").exists()


@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_go_to_the_login_page(desk: Any, path: str) -> None:
    path = path.format(agent=desk.agent.pk)
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"].startswith("/login/?next=")


def test_the_list_shows_every_agent_with_role_departments_teams_and_state(
    desk: Any, browser: Any, now: Any
) -> None:
    User.objects.filter(pk=desk.agent.pk).update(status="online", last_login=now - timedelta(hours=2))
    User.objects.filter(pk=desk.outsider.pk).update(is_active=False)
    r = browser(desk.admin).get("/console/people/agents/")
    assert r.status_code == 200
    assert names(r) == ["Ada Admin", "Bruno Books", "Eva Electronics", "Lia Light"]
    html = r.content.decode()
    row = re.search(rf'<tr id="agent-{desk.agent.pk}">(.*?)</tr>', html, re.S)
    assert row is not None
    text = re.sub(r"[ \n]+", " ", re.sub(r"<[^>]+>", " ", row.group(1)))
    for expected in (
        "Bruno Books",
        "bruno@desk.test",
        "Agent",
        "Books",
        "Novels",
        "Online",
        "3\xa0hours ago",
    ):
        assert expected in text
    assert f'<tr id="agent-{desk.outsider.pk}" class="inactive">' in html
    assert "Deactivated</span>" in html
    assert "Light agent" in html
    assert ">light_agent<" not in html


def test_the_filters_are_in_the_address(desk: Any, browser: Any) -> None:
    User.objects.filter(pk=desk.outsider.pk).update(is_active=False)
    client = browser(desk.admin)
    assert names(client.get("/console/people/agents/?state=active")) == [
        "Ada Admin",
        "Bruno Books",
        "Lia Light",
    ]
    assert names(client.get("/console/people/agents/?state=deactivated")) == ["Eva Electronics"]
    assert names(client.get("/console/people/agents/?state=invited")) == []
    assert names(client.get("/console/people/agents/?role=light_agent")) == ["Lia Light"]
    assert names(client.get(f"/console/people/agents/?department={desk.books.pk}")) == [
        "Bruno Books",
        "Lia Light",
    ]
    assert names(client.get(f"/console/people/agents/?department={desk.books.pk}&role=agent")) == [
        "Bruno Books"
    ]
    # nonsense falls back to the defaults or matches none; never an error
    assert len(names(client.get("/console/people/agents/?state=x&role=y&department=z"))) == 4
    assert names(client.get(f"/console/people/agents/?department={2**70}")) == []
    empty = client.get("/console/people/agents/?role=admin&department=" + str(desk.books.pk))
    assert "No agents match these filters." in empty.content.decode()
    assert client.get("/console/people/agents/?cursor=garbage").status_code == 400


def test_many_agents_come_a_page_at_a_time(desk: Any, browser: Any, monkeypatch: Any) -> None:
    from sportello.console.people import agents

    monkeypatch.setattr(agents, "PAGE_SIZE", 3)
    client = browser(desk.admin)
    first = client.get("/console/people/agents/?role=agent")
    assert names(first) == ["Bruno Books", "Eva Electronics"]
    first = client.get("/console/people/agents/")
    assert names(first) == ["Ada Admin", "Bruno Books", "Eva Electronics"]
    assert names(client.get(first.context["next_url"])) == ["Lia Light"]


def test_an_admin_invites_an_agent_who_sets_a_password_through_the_mailed_link(
    desk: Any, browser: Any, now: Any
) -> None:
    client = browser(desk.admin)
    form = client.get("/console/people/agents/invite/").content.decode()
    assert "Invite an agent" in form
    assert 'name="departments"' in form
    # when Ada invites Nora to Books and Electronics as an agent, in Italian
    r = invite(
        client,
        email="Nora@Desk.test",
        departments=[desk.books.pk, desk.electronics.pk],
        language="it",
    )
    assert r.status_code == 302
    assert r["Location"] == "/console/people/agents/?state=invited"
    # then Nora exists, inactive, invited, without a password
    nora = User.objects.get(email="nora@desk.test")
    assert (nora.is_active, nora.role, nora.language) == (False, Role.AGENT, "it")
    assert nora.invited_at is not None
    assert not nora.has_usable_password()
    assert sorted(d.name for d in nora.departments.all()) == ["Books", "Electronics"]
    # and the list says she is invited
    page = client.get("/console/people/agents/?state=invited")
    assert names(page) == ["Nora New"]
    assert "Invitation sent to nora@desk.test. The link works for 72 hours." in page.content.decode()
    # a mail went through the outbox, in Italian, with the link
    [mail] = OutboxMessage.objects.filter(kind="email")
    assert mail.ticket_id is None
    assert mail.payload["to"] == ["nora@desk.test"]
    assert mail.payload["language"] == "it"
    assert "Ada Admin" in mail.payload["body"]
    link = link_in(mail)
    # Nora cannot sign in yet
    assert not Client().login(username="nora@desk.test", password="a-strong-pass-91")
    # she opens the link: the form to choose a password, publicly, its address sent to no other site
    anon = Client()
    opened = anon.get(link)
    assert opened.status_code == 200
    assert "nora@desk.test" in opened.content.decode()
    assert opened["Referrer-Policy"] == "same-origin"
    # a weak or mismatched password is refused inline
    weak = anon.post(link, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 422
    assert 'class="error"' in weak.content.decode()
    assert not User.objects.get(pk=nora.pk).is_active
    # a good one activates her account
    done = anon.post(link, {"new_password1": "a-strong-pass-91", "new_password2": "a-strong-pass-91"})
    assert done.status_code == 200
    assert "Account activated" in done.content.decode()
    nora.refresh_from_db()
    assert nora.is_active
    assert nora.invited_at is None
    assert Client().login(username="nora@desk.test", password="a-strong-pass-91")
    # the link works once
    again = anon.get(link)
    assert again.status_code == 404
    assert "This invitation link has expired or was already used." in again.content.decode()
    assert (
        anon.post(link, {"new_password1": "x-other-pass-77", "new_password2": "x-other-pass-77"}).status_code
        == 404
    )
    assert Client().login(username="nora@desk.test", password="a-strong-pass-91")


def test_the_invitation_link_expires_after_72_hours(
    desk: Any, browser: Any, monkeypatch: Any, now: Any
) -> None:
    from sportello.core import clock

    invite(browser(desk.admin))
    link = link_in(OutboxMessage.objects.get(kind="email"))
    sent = User.objects.get(email="nora@desk.test").invited_at
    assert sent is not None
    monkeypatch.setattr(clock, "now", lambda: sent + timedelta(hours=71, minutes=59))
    assert Client().get(link).status_code == 200
    monkeypatch.setattr(clock, "now", lambda: sent + timedelta(hours=72, seconds=1))
    assert Client().get(link).status_code == 404
    r = Client().post(link, {"new_password1": "a-strong-pass-91", "new_password2": "a-strong-pass-91"})
    assert r.status_code == 404
    assert not User.objects.get(email="nora@desk.test").is_active


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "WzEsIjIwMjYtMTItMDcifQ:abc:def"])
def test_a_forged_link_is_refused(desk: Any, token: str) -> None:
    assert Client().get(f"/invite/{token}/").status_code == 404


def test_a_new_invitation_replaces_the_earlier_link(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    invite(client)
    nora = User.objects.get(email="nora@desk.test")
    first = link_in(OutboxMessage.objects.get(kind="email"))
    r = client.post(f"/console/people/agents/{nora.pk}/resend/")
    assert r.status_code == 302
    assert r["Location"] == f"/console/people/agents/{nora.pk}/"
    mails = list(OutboxMessage.objects.filter(kind="email").order_by("pk"))
    assert len(mails) == 2
    second = link_in(mails[1])
    assert second != first
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200
    assert "A new invitation was sent to nora@desk.test" in client.get(r["Location"]).content.decode()
    # an agent who is active has no invitation to resend
    r = client.post(f"/console/people/agents/{desk.agent.pk}/resend/", follow=True)
    assert "has no pending invitation" in r.content.decode()
    assert OutboxMessage.objects.filter(kind="email").count() == 2


def test_an_address_in_use_or_invalid_is_said_next_to_the_field_and_nothing_typed_is_lost(
    desk: Any, browser: Any
) -> None:
    client = browser(desk.admin)
    r = invite(client, name="Bruno Again", email="BRUNO@desk.test", departments=[desk.books.pk])
    assert r.status_code == 422
    html = r.content.decode()
    assert "An agent with this e-mail address already exists." in html
    assert 'value="Bruno Again"' in html
    assert f'value="{desk.books.pk}" checked' in html or re.search(
        rf'value="{desk.books.pk}"[^>]*checked', html
    )
    r = invite(client, email="not-an-address")
    assert r.status_code == 422
    assert "Enter a valid email address." in r.content.decode()
    r = invite(client, name="", role="owner")
    assert r.status_code == 422
    assert not OutboxMessage.objects.exists()
    assert User.objects.count() == 4  # the desk's own


def test_an_admin_changes_an_agents_role_and_departments(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get(f"/console/people/agents/{desk.agent.pk}/").content.decode()
    assert "bruno@desk.test" in page
    assert "Novels" in page
    r = client.post(
        f"/console/people/agents/{desk.agent.pk}/",
        {"name": "Bruno B.", "role": "light_agent", "departments": [desk.electronics.pk]},
    )
    assert r.status_code == 302
    bruno = User.objects.get(pk=desk.agent.pk)
    assert (bruno.name, bruno.role) == ("Bruno B.", Role.LIGHT_AGENT)
    assert [d.name for d in bruno.departments.all()] == ["Electronics"]
    assert list(bruno.teams.all()) == []  # leaving Books left its team
    assert "Bruno B. is saved." in client.get(r["Location"]).content.decode()


def test_the_last_admin_stays_an_admin(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        f"/console/people/agents/{desk.admin.pk}/", {"name": "Ada", "role": "agent", "departments": []}
    )
    assert r.status_code == 422
    assert "The desk needs at least one active admin" in r.content.decode()
    assert User.objects.get(pk=desk.admin.pk).role == Role.ADMIN


def test_deactivating_hands_the_agents_open_tickets_back_to_assignment(
    desk: Any, browser: Any, open_ticket: Any
) -> None:
    mine = [open_ticket(f"Open {i}", assignee_id=desk.agent.pk) for i in range(3)]
    solved = open_ticket("Done", assignee_id=desk.agent.pk, status="solved")
    other = open_ticket("Unassigned")
    client = browser(desk.admin)
    # the confirmation says how many open tickets they hold
    confirm = client.get(f"/console/people/agents/{desk.agent.pk}/deactivate/")
    assert confirm.status_code == 200
    assert "They hold 3 open tickets" in confirm.content.decode()
    assert User.objects.get(pk=desk.agent.pk).is_active  # asking changes nothing
    # when Ada confirms
    r = client.post(f"/console/people/agents/{desk.agent.pk}/deactivate/")
    assert r.status_code == 302
    bruno = User.objects.get(pk=desk.agent.pk)
    assert not bruno.is_active
    # his open tickets are unassigned, each by a change of Ada's on the web; the solved one stays his
    for t in mine:
        assert Ticket.objects.get(pk=t.pk).assignee_id is None
        [event] = TicketEvent.objects.filter(ticket_id=t.pk, field="assignee", actor_id=desk.admin.pk)
        assert (event.via, event.actor_kind, event.old_value) == ("web", "agent", desk.agent.pk)
    assert Ticket.objects.get(pk=solved.pk).assignee_id == desk.agent.pk
    assert Ticket.objects.get(pk=other.pk).assignee_id is None
    page = client.get(r["Location"]).content.decode()
    assert "Bruno Books is deactivated; 3 open tickets went back to assignment." in page
    assert "Reactivate" in page
    # he can no longer sign in
    assert not Client().login(username="bruno@desk.test", password="anything")
    # deactivating again hands back nothing and is no error
    assert client.post(f"/console/people/agents/{desk.agent.pk}/deactivate/").status_code == 302
    assert TicketEvent.objects.filter(field="assignee", actor_id=desk.admin.pk, via="web").count() == 3


def test_round_robin_takes_the_handed_back_tickets(
    desk: Any, browser: Any, open_ticket: Any, now: Any
) -> None:
    from sportello.accounts.services import agent_create, agent_set_status
    from sportello.automation.assignment import policy_save
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    carla = agent_create(email="carla@desk.test", name="Carla Books", departments=[desk.books])
    for agent in (desk.agent, carla):
        agent_set_status(user=agent, status="online", now=now)
    policy, _ = policy_save(
        definition={
            "key": "books-rr",
            "name": "Books round robin",
            "pool": {"department": desk.books.pk},
            "max_open_per_agent": None,
            "offline": "skip",
            "backlog": True,
        },
        created_by=desk.admin,
        now=now,
    )
    held = [open_ticket(f"Held {i}", assignee_id=desk.agent.pk) for i in range(2)]
    # a rule: a ticket left without an assignee goes through round robin
    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "reassign",
            "name": "Unassigned go round",
            "on": ["ticket.updated"],
            "when": {
                "all": [
                    {"field": "ticket.assignee", "op": "changed"},
                    {"field": "ticket.assignee", "op": "absent"},
                ]
            },
            "actions": [{"assign": {"policy": policy.pk}}],
        },
        created_by=desk.admin,
        now=now,
    )
    r = browser(desk.admin).post(f"/console/people/agents/{desk.agent.pk}/deactivate/")
    assert r.status_code == 302
    # Bruno, deactivated, is offered none: Carla, the other online member, takes both
    assert [Ticket.objects.get(pk=t.pk).assignee_id for t in held] == [carla.pk, carla.pk]


def test_nobody_deactivates_themself(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get(f"/console/people/agents/{desk.admin.pk}/deactivate/").content.decode()
    assert "You cannot deactivate yourself; another admin can." in page
    assert 'class="danger"' not in page
    r = client.post(f"/console/people/agents/{desk.admin.pk}/deactivate/")
    assert r.status_code == 409
    assert "You cannot deactivate yourself; another admin can." in r.content.decode()
    assert User.objects.get(pk=desk.admin.pk).is_active


def test_a_deactivated_agent_is_reactivated(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    client.post(f"/console/people/agents/{desk.outsider.pk}/deactivate/")
    assert not User.objects.get(pk=desk.outsider.pk).is_active
    r = client.post(f"/console/people/agents/{desk.outsider.pk}/reactivate/")
    assert r.status_code == 302
    assert User.objects.get(pk=desk.outsider.pk).is_active
    assert "Eva Electronics is active again and can sign in." in client.get(r["Location"]).content.decode()


def test_withdrawing_an_invitation_kills_its_link(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    invite(client)
    nora = User.objects.get(email="nora@desk.test")
    link = link_in(OutboxMessage.objects.get(kind="email"))
    confirm = client.get(f"/console/people/agents/{nora.pk}/deactivate/").content.decode()
    assert "Withdraw the invitation of Nora New?" in confirm
    client.post(f"/console/people/agents/{nora.pk}/deactivate/")
    nora.refresh_from_db()
    assert (nora.is_active, nora.invited_at) == (False, None)
    assert Client().get(link).status_code == 404
    assert names(client.get("/console/people/agents/?state=deactivated")) == ["Nora New"]


@pytest.mark.parametrize("agent_id", [999_999, 2**63])
def test_an_unknown_agent_is_a_404(desk: Any, browser: Any, agent_id: int) -> None:
    client = browser(desk.admin)
    assert client.get(f"/console/people/agents/{agent_id}/").status_code == 404
    assert client.post(f"/console/people/agents/{agent_id}/deactivate/").status_code == 404
    assert client.post(f"/console/people/agents/{agent_id}/reactivate/").status_code == 404


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("es", ["Agentes", "Invitar a un agente", "Agente ligero"]),
        ("it", ["Agenti", "Invita un agente", "Agente light"]),
    ],
)
def test_the_agents_page_is_translated(desk: Any, browser: Any, language: str, texts: list[str]) -> None:
    client = browser(desk.admin)
    client.cookies["django_language"] = language
    html = client.get("/console/people/agents/").content.decode()
    for text in texts:
        assert text in html

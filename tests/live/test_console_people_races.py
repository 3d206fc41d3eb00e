"""The Console's People pages at a live server, on SQLite and on PostgreSQL, under requests
fired at once: one invitation per address however many ask for it; an invitation link accepted
once; an agent deactivated by many requests hands each open ticket back once; a team name taken
once in its department."""

from __future__ import annotations

import re

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import FRESH_CONNECTIONS, post, shell, signed_in

pytestmark = LIVE

READ_AGENT = (
    "import json; from sportello.accounts.models import User as U; "
    "print(json.dumps([[u.pk, u.is_active, u.invited_at is not None, u.has_usable_password()] "
    "for u in U.objects.filter(email='{email}')]))"
)
READ_MAILS = (
    "import json; from sportello.outbox.models import OutboxMessage as O; "
    "print(json.dumps([[o.pk, o.payload['body']] for o in O.objects.filter(dedupe_key__startswith="
    "'agent-invite:{agent}:').order_by('pk')]))"
)
READ_HANDBACKS = (
    "import json; from sportello.tickets.models import Ticket as T, TicketEvent as E; "
    "print(json.dumps([[t.pk, t.assignee_id, E.objects.filter(ticket=t, field='assignee', "
    "actor_id={admin}, via='web').count()] for t in T.objects.filter(pk__in={ids}).order_by('pk')]))"
)


def invite_form(client: httpx.Client, email: str) -> Reply:
    data = {"name": "Race Invitee", "email": email, "role": "agent", "language": "en"}
    return post(client, "/console/people/agents/invite/", data)


def test_one_address_invited_by_many_requests_at_once_is_invited_once(live: LiveDesk) -> None:
    client = signed_in(live)
    email = "invite-race@live.test"
    n = 8
    replies = live.race(n, lambda i: invite_form(client, email))
    # then one invitation succeeds; the others are told the address is taken
    assert sorted(r.status for r in replies) == [302] + [422] * (n - 1), replies
    assert all(
        "An agent with this e-mail address already exists." in r.body for r in replies if r.status == 422
    )
    [[agent_id, active, invited, usable]] = shell(live, READ_AGENT.format(email=email))
    assert (active, invited, usable) == (False, True, False)
    assert len(shell(live, READ_MAILS.format(agent=agent_id))) == 1


def test_an_invitation_link_accepted_by_many_requests_at_once_works_once(live: LiveDesk) -> None:
    admin = signed_in(live)
    email = "accept-race@live.test"
    assert invite_form(admin, email).status == 302
    [[agent_id, *_]] = shell(live, READ_AGENT.format(email=email))
    [[_pk, body]] = shell(live, READ_MAILS.format(agent=agent_id))
    found = re.search(r"https?://[^/\s]+(/invite/\S+/)", body)
    assert found is not None, body
    link = found.group(1)
    n = 8
    clients = []
    for _ in range(n):
        c = httpx.Client(base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60, follow_redirects=False)
        assert c.get(link).status_code == 200
        clients.append(c)

    def accept(i: int) -> Reply:
        password = f"race-pass-{i}-long-enough"
        data = {"new_password1": password, "new_password2": password}
        return post(clients[i], link, data)

    replies = live.race(n, accept)
    # then one request activates the account; the others find the link used
    assert sorted(r.status for r in replies) == [200] + [404] * (n - 1), replies
    winner = next(i for i, r in enumerate(replies) if r.status == 200)
    [[_id, active, invited, usable]] = shell(live, READ_AGENT.format(email=email))
    assert (active, invited, usable) == (True, False, True)
    # the winner's password is the one that signs in
    c = httpx.Client(base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60, follow_redirects=False)
    c.get("/login/")
    r = c.post(
        "/login/",
        data={
            "username": email,
            "password": f"race-pass-{winner}-long-enough",
            "csrfmiddlewaretoken": c.cookies["csrftoken"],
        },
    )
    assert r.status_code == 302


def test_an_agent_deactivated_by_many_requests_at_once_hands_each_ticket_back_once(live: LiveDesk) -> None:
    # given an agent of Support holding three open tickets
    made = live.post(
        "/agents",
        {
            "email": "leaving@live.test",
            "name": "Leaving Agent",
            "role": "agent",
            "department_ids": [live.departments["support"]],
        },
        as_="admin",
    )
    assert made.status == 201, made
    leaving = made.body["id"]
    ids = []
    for i in range(3):
        ticket = live.open_ticket(subject=f"Held {i}", as_="admin")
        r = live.patch(
            f"/tickets/{ticket['id']}", {"assignee_id": leaving, "version": ticket["version"]}, as_="admin"
        )
        assert r.status == 200, r
        ids.append(ticket["id"])
    client = signed_in(live)
    confirm = client.get(f"/console/people/agents/{leaving}/deactivate/")
    assert "They hold 3 open tickets" in confirm.text
    # when the admin confirms from ten requests at once
    n = 10
    replies = live.race(n, lambda i: post(client, f"/console/people/agents/{leaving}/deactivate/"))
    # then all succeed; the agent is inactive; each ticket was unassigned by one change
    assert [r.status for r in replies] == [302] * n, replies
    [[_id, active, _invited, _usable]] = shell(live, READ_AGENT.format(email="leaving@live.test"))
    assert active is False
    rows = shell(live, READ_HANDBACKS.format(admin=live.people["admin"], ids=ids))
    assert [(pk, assignee, events) for pk, assignee, events in rows] == [(pk, None, 1) for pk in ids]
    assert live.get(f"/agents/{leaving}", as_="admin").body["is_active"] is False


def test_one_team_name_created_by_many_requests_at_once_is_created_once(live: LiveDesk) -> None:
    client = signed_in(live)
    n = 8
    data = {"name": "Race team", "department": str(live.departments["billing"])}
    replies = live.race(n, lambda i: post(client, "/console/people/teams/new/", data))
    assert sorted(r.status for r in replies) == [302] + [422] * (n - 1), replies
    teams = live.get("/teams", as_="admin", params={"department_id": live.departments["billing"]}).body[
        "items"
    ]
    assert [t["name"] for t in teams].count("Race team") == 1


READ_CONTACT_EMAILS = (
    "import json; from sportello.contacts.models import Contact as C; "
    "print(json.dumps([[c.pk, c.email] for c in C.objects.filter(pk__in={ids}).order_by('pk')]))"
)


def test_one_address_given_to_many_contacts_at_once_goes_to_one(live: LiveDesk) -> None:
    # given eight contacts
    ids = [live.contact(f"race-contact-{i}@live.test")["id"] for i in range(8)]
    client = signed_in(live)
    wanted = "claimed-at-once@live.test"

    def edit(i: int) -> Reply:
        return post(client, f"/console/people/contacts/{ids[i]}/", {"name": f"Contact {i}", "email": wanted})

    replies = live.race(len(ids), edit)
    # then one edit wins; the others are told next to the field, and keep their address
    assert sorted(r.status for r in replies) == [302] + [422] * (len(ids) - 1), replies
    assert all("Another contact has this e-mail address." in r.body for r in replies if r.status == 422)
    rows = shell(live, READ_CONTACT_EMAILS.format(ids=ids))
    assert [email for _pk, email in rows].count(wanted) == 1
    assert (
        sum(1 for i, (_pk, email) in enumerate(rows) if email == f"race-contact-{i}@live.test")
        == len(ids) - 1
    )


def test_one_name_given_to_many_organizations_at_once_goes_to_one(live: LiveDesk) -> None:
    ids = []
    for i in range(6):
        r = live.post("/organizations", {"name": f"Race org {i}"}, as_="admin")
        assert r.status == 201, r
        ids.append(r.body["id"])
    client = signed_in(live)

    def rename(i: int) -> Reply:
        return post(
            client, f"/console/people/organizations/{ids[i]}/", {"name": "Race org winner", "tier": "gold"}
        )

    replies = live.race(len(ids), rename)
    assert sorted(r.status for r in replies) == [302] + [422] * (len(ids) - 1), replies
    names = [live.get(f"/organizations/{pk}", as_="admin").body["name"] for pk in ids]
    assert names.count("Race org winner") == 1

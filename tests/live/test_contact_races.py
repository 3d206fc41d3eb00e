"""Concurrent creations of a customer known only by their phone, at a live server on SQLite and
on PostgreSQL: through the API, one contact and a clear conflict (409 naming the phone) for the
others; through the Desk's new-ticket screen, every ticket opened, all for the one contact."""

from __future__ import annotations

import re
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply
from live.test_me_races import signed_in

pytestmark = LIVE


def _phone_only(live: LiveDesk, phone: str) -> list[Any]:
    r = live.get("/contacts", as_="admin", params={"q": phone, "limit": 100})
    assert r.status == 200, r
    return [c for c in r.body["items"] if c["phone"] == phone and c["email"] == ""]


def test_one_phone_only_contact_when_agents_create_it_at_once_through_the_api(live: LiveDesk) -> None:
    # when eight requests create the same caller, known only by their phone, at once
    phone = "+39 333 100 2001"
    n = 8
    replies = live.race(
        n,
        lambda i: live.post(
            "/contacts", {"name": f"Caller {i}", "phone": phone}, as_="agent" if i % 2 else "agent2"
        ),
    )
    # then one is created, and each other is told that this phone is taken
    assert sorted(r.status for r in replies) == [201] + [409] * (n - 1), replies
    refused = [r.body["error"] for r in replies if r.status == 409]
    assert {(e["code"], e["field"]) for e in refused} == {("conflict", "phone")}
    created = next(r.body for r in replies if r.status == 201)
    # and the desk holds that one contact, with no e-mail address
    assert [c["id"] for c in _phone_only(live, phone)] == [created["id"]]
    assert created["email"] == ""


def _new_ticket(client: httpx.Client, live: LiveDesk, i: int, phone: str) -> Reply:
    client.get("/tickets/new/")
    r = client.post(
        "/tickets/new/",
        data={
            "department": str(live.departments["support"]),
            "requester_q": "",
            "new_name": "Walk-in caller",
            "new_email": "",
            "new_phone": phone,
            "channel": "phone",
            "subject": f"Phone race {i}",
            "priority": "normal",
            "description": "Called about a parcel.",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    return Reply(r.status_code, r.headers.get("Location", r.text[:300]))


def test_tickets_opened_at_once_for_the_same_new_caller_share_one_contact(live: LiveDesk) -> None:
    # given four Desk sessions, each taking a call from the same new customer (no e-mail)
    phone = "+39 333 100 2002"
    n = 4
    clients = [signed_in(live) for _ in range(n)]
    # when each opens a ticket for them at once, creating the customer from name and phone
    replies = live.race(n, lambda i: _new_ticket(clients[i], live, i, phone))
    # then every ticket is opened
    assert [r.status for r in replies] == [302] * n, replies
    ids = [int(m.group(1)) for r in replies if (m := re.match(r"^/tickets/(\d+)/$", str(r.body)))]
    assert len(ids) == n, replies
    # for the one contact known by that phone
    contacts = _phone_only(live, phone)
    assert len(contacts) == 1, contacts
    requesters = {live.get(f"/tickets/{pk}", as_="admin").body["requester_id"] for pk in ids}
    assert requesters == {contacts[0]["id"]}

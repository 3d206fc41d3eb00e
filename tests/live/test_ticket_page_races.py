"""Concurrent writes from the ticket page (the Desk, signed in with a session), fired at a live
server on SQLite and on PostgreSQL.

- Properties: agents who loaded the same version save at once: exactly one change is applied,
  every other save is refused as stale (409) and keeps the agent's form; the ticket moved one
  version, and its audit trail holds that one change.
- The requester's details: simultaneous edits all succeed (the last one written wins), and the
  contact holds exactly one of the values sent, never a mix.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx

from live import LIVE
from live.server import REQUEST_TIMEOUT, LiveDesk, Reply

# A new connection per request: a race's requests really run side by side, and none is sent on
# a kept-alive connection the server has closed for idleness meanwhile (a reset, not an answer).
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)

pytestmark = LIVE

ADMIN = ("admin@live.test", "live-admin-passphrase-1")  # as seeded (seed.py)


def signed_in(live: LiveDesk) -> tuple[httpx.Client, str]:
    """A browser-like client signed in as the seeded admin, and its CSRF token."""
    client = httpx.Client(
        base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=REQUEST_TIMEOUT, follow_redirects=False
    )
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None, page.text[:500]
    r = client.post(
        "/login/",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{live.base_url}/login/"},
    )
    assert r.status_code == 302, r.text[:500]
    return client, client.cookies["csrftoken"]


def web_post(client: httpx.Client, csrf: str, path: str, data: dict[str, Any], base_url: str) -> Reply:
    r = client.post(
        path,
        data=data,
        headers={"HX-Request": "true", "X-CSRFToken": csrf, "Referer": f"{base_url}{path}"},
    )
    return Reply(r.status_code, r.text)


def test_simultaneous_property_saves_apply_one_and_refuse_the_others_as_stale(live: LiveDesk) -> None:
    # given a ticket every agent loaded at the same version
    ticket = live.open_ticket(subject="Properties race")
    client, csrf = signed_in(live)
    priorities = ["low", "high", "urgent"]
    n = 12
    seen = ticket["version"]

    def save(i: int) -> Reply:
        data = {
            "status": "open",
            "priority": priorities[i % 3],
            "assignee": "",
            "team": "",
            "department": live.departments["support"],
            "tags": f"race-{i}",
            "version": seen,
        }
        return web_post(client, csrf, f"/tickets/{ticket['id']}/properties/", data, live.base_url)

    # when they all save at once
    replies = live.race(n, save)
    # then one save is applied and every other is refused as stale, with the form kept
    statuses = Counter(r.status for r in replies)
    assert statuses == Counter({200: 1, 409: n - 1}), [r for r in replies if r.status not in (200, 409)][:2]
    winner = next(i for i, r in enumerate(replies) if r.status == 200)
    for r in replies:
        if r.status == 409:
            assert "This ticket changed since you opened it" in r.body
            assert 'id="properties-form"' in r.body
    after = live.get(f"/tickets/{ticket['id']}").body
    assert (after["version"], after["status"], after["priority"], after["tags"]) == (
        seen + 1,
        "open",
        priorities[winner % 3],
        [f"race-{winner}"],
    )
    events = live.get(f"/tickets/{ticket['id']}/events", as_="admin", params={"limit": 200}).body["items"]
    from_the_page = {e["change_id"] for e in events if e["via"] == "web"}
    assert len(from_the_page) == 1


def test_simultaneous_edits_of_the_requester_each_succeed_and_one_wins_whole(live: LiveDesk) -> None:
    # given a ticket from a customer of its own
    contact = live.contact("race-contact@customer.test")
    ticket = live.open_ticket(subject="Contact race", requester_id=contact["id"])
    client, csrf = signed_in(live)
    n = 10

    def edit(i: int) -> Reply:
        data = {"contact-name": f"Name {i}", "contact-phone": f"+39 02 {i:04d}", "contact-language": "it"}
        return web_post(client, csrf, f"/tickets/{ticket['id']}/contact/", data, live.base_url)

    # when agents save the customer's details at once
    replies = live.race(n, edit)
    # then every save succeeds, and the contact holds one save's values, never a mix
    assert [r.status for r in replies] == [200] * n, [r for r in replies if r.status != 200][:2]
    stored = live.get(f"/contacts/{contact['id']}", as_="admin").body
    i = int(stored["name"].removeprefix("Name "))
    assert (stored["phone"], stored["language"]) == (f"+39 02 {i:04d}", "it")

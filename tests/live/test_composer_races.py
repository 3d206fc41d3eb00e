"""The composer's write paths under concurrency, through the Desk's own pages (session sign-in,
CSRF, HTMX headers) on a live server: agents replying with "Send and set …" at once each get
their message and status change stored as one change, and the audit trail pairs them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from live import LIVE
from live.server import REQUEST_TIMEOUT, LiveDesk, Reply

pytestmark = LIVE

PASSWORD = "composer-race-passphrase-1"
_SIGNED_IN: dict[tuple[str, str], httpx.Client] = {}


def desk_session(live: LiveDesk, who: str) -> httpx.Client:
    """A browser-like client signed in to the Desk as the seeded agent `who` (its password set
    through the management shell once)."""
    key = (live.base_url, who)
    if key in _SIGNED_IN:
        return _SIGNED_IN[key]
    email = {"agent": "agent1@live.test", "agent2": "agent2@live.test"}[who]
    live.server.manage(
        "shell",
        "-c",
        "from sportello.accounts.models import User; "
        f"u = User.objects.get(email={email!r}); u.set_password({PASSWORD!r}); u.save()",
    )
    client = httpx.Client(base_url=live.base_url, timeout=REQUEST_TIMEOUT)
    client.get("/login/")
    r = client.post(
        "/login/",
        data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Referer": f"{live.base_url}/login/"},
    )
    assert r.status_code == 302, r.text[:500]
    _SIGNED_IN[key] = client
    return client


def send(client: httpx.Client, ticket_id: int, body: str, status: str, *, kind: str = "public") -> Reply:
    r = client.post(
        f"/tickets/{ticket_id}/reply/",
        data={"kind": kind, "body": body, "status": status},
        headers={"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]},
    )
    return Reply(r.status_code, r.text)


def events(live: LiveDesk, ticket_id: int) -> list[Any]:
    out: list[Any] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        r = live.get(f"/tickets/{ticket_id}/events", as_="admin", params=params)
        assert r.status == 200, r
        out += r.body["items"]
        cursor = r.body.get("next_cursor")
        if not cursor:
            return sorted(out, key=lambda e: e["id"])


def test_two_agents_sending_with_a_status_at_once_keep_both_messages_and_an_exact_trail(
    live: LiveDesk,
) -> None:
    # given a new ticket and two agents signed in to the Desk
    ticket = live.open_ticket(subject="Composer race")
    clients = {who: desk_session(live, who) for who in ("agent", "agent2")}
    n = 8
    plan = [("agent" if i % 2 else "agent2", "pending" if i % 2 else "on_hold") for i in range(n)]

    # when they send replies with "Send and set Pending" / "Send and set On hold" at once
    replies = live.race(n, lambda i: send(clients[plan[i][0]], ticket["id"], f"race reply {i}", plan[i][1]))

    # then every send answered with the refreshed ticket, and every message is stored once
    assert [r.status for r in replies] == [200] * n, [r.body[:300] for r in replies if r.status != 200][:2]
    assert all(r.body.lstrip().startswith('<article id="ticket"') for r in replies)
    bodies = Counter(m["body"].strip() for m in live.messages(ticket["id"]))
    assert bodies == Counter(["The first message.", *(f"race reply {i}" for i in range(n))])
    # each message and its status change are one change of the trail, by the agent who sent it
    trail = events(live, ticket["id"])
    by_change: dict[str, list[Any]] = {}
    for e in trail:
        by_change.setdefault(e["change_id"], []).append(e)
    sends = [rows for rows in by_change.values() if any(e["kind"] == "message" for e in rows)][1:]
    assert len(sends) == n
    people = {live.people["agent"]: "agent", live.people["agent2"]: "agent2"}
    current = "new"
    seen: Counter[tuple[str, str]] = Counter()
    for rows in sends:
        (message,) = [e for e in rows if e["kind"] == "message"]
        statuses = [e for e in rows if e["kind"] == "field" and e["field"] == "status"]
        who = people[message["actor_id"]]
        wanted = "pending" if who == "agent" else "on_hold"
        assert {(e["via"], e["actor_id"]) for e in [message, *statuses]} == {("web", message["actor_id"])}
        if wanted == current:
            assert statuses == []  # already so: no change to record
        else:
            (status,) = statuses
            assert (status["old_value"], status["new_value"]) == (current, wanted)
            current = wanted
        seen[(who, wanted)] += 1
    assert seen == Counter({("agent", "pending"): n // 2, ("agent2", "on_hold"): n // 2})
    after = live.get(f"/tickets/{ticket['id']}").body
    assert (after["message_count"], after["status"], after["version"]) == (n + 1, current, 1 + n)
    instants = [datetime.fromisoformat(e["at"]) for e in trail]
    assert instants == sorted(instants)

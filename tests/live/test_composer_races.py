"""The composer's write paths under concurrency, through the Desk's own pages (session sign-in,
CSRF, HTMX headers) on a live server: agents replying with "Send and set …" at once each get
their message and status change stored as one change, and the audit trail pairs them."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from live import LIVE
from live.server import REQUEST_TIMEOUT, LiveDesk, Reply

# A new connection per request: a race's requests really run side by side, and none is sent on
# a kept-alive connection the server has closed for idleness meanwhile (a reset, not an answer).
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)

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
    client = httpx.Client(base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=REQUEST_TIMEOUT)
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
    # (the opening's message is its `created` event's, not a `message` event)
    sends = [rows for rows in by_change.values() if any(e["kind"] == "message" for e in rows)]
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


def test_files_uploaded_at_once_through_the_desk_are_all_staged_then_sent_together(live: LiveDesk) -> None:
    # given a ticket and two agents signed in to the Desk
    ticket = live.open_ticket(subject="Upload race")
    clients = {who: desk_session(live, who) for who in ("agent", "agent2")}
    n = 8

    def upload(i: int) -> Reply:
        client = clients["agent" if i % 2 else "agent2"]
        r = client.post(
            f"/tickets/{ticket['id']}/uploads/",
            files={"file": (f"scan-{i}.txt", f"page {i}".encode(), "text/plain")},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        is_json = r.headers.get("content-type", "").startswith("application/json")
        return Reply(r.status_code, r.json() if is_json else r.text[:500])

    # when the agents upload n files at once
    replies = live.race(n, upload)
    # then each is staged once, under its own id and name
    assert [r.status for r in replies] == [201] * n, [r.body for r in replies if r.status != 201][:2]
    ids = [r.body["id"] for r in replies]
    assert len(set(ids)) == n
    assert [r.body["filename"] for r in replies] == [f"scan-{i}.txt" for i in range(n)]
    # and one reply carries them all
    client = clients["agent"]
    r = client.post(
        f"/tickets/{ticket['id']}/reply/",
        data={"kind": "public", "body": "All the pages.", "attachment_ids": [str(i) for i in ids]},
        headers={"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]},
    )
    assert r.status_code == 200, r.text[:300]
    (sent,) = [m for m in live.messages(ticket["id"]) if m["body"].strip() == "All the pages."]
    assert sorted(a["id"] for a in sent["attachments"]) == sorted(ids)


def test_a_macro_applied_from_the_desk_by_two_agents_at_once_applies_twice_in_order(live: LiveDesk) -> None:
    # given a macro that adds a note and a tag, and two agents on one ticket
    macro = {
        "key": "desk-race-note",
        "name": "Desk race note",
        "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"add_tags": ["checked"]}, {"note": {"body": "Checked by {{ agent.name }}."}}],
    }
    created = live.post("/macros", macro, as_="admin")
    assert created.status == 201, created
    ticket = live.open_ticket(subject="Macro desk race")
    clients = {who: desk_session(live, who) for who in ("agent", "agent2")}

    def apply(i: int) -> Reply:
        client = clients["agent" if i % 2 else "agent2"]
        r = client.post(
            f"/tickets/{ticket['id']}/macros/desk-race-note/apply/",
            data={"version": str(created.body["version"])},
            headers={"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]},
        )
        return Reply(r.status_code, r.text)

    # when both apply it at once
    replies = live.race(2, apply)
    # then both applied: two notes, one by each, each its own change caused by the macro
    assert [r.status for r in replies] == [200, 200], [r.body[:300] for r in replies]
    notes = Counter(m["body"].strip() for m in live.messages(ticket["id"]) if not m["public"])
    assert notes == Counter(["Checked by Agent 1.", "Checked by Agent 2."])
    trail = events(live, ticket["id"])
    causes = {
        e["change_id"] for e in trail if e["cause"] == f"macro:desk-race-note@{created.body['version']}"
    }
    assert len(causes) == 2
    after = live.get(f"/tickets/{ticket['id']}").body
    assert (after["tags"], after["version"]) == (["checked"], 3)
    instants = [datetime.fromisoformat(e["at"]) for e in trail]
    assert instants == sorted(instants)


def test_follow_ups_created_at_once_on_a_closed_ticket_each_keep_their_message(live: LiveDesk) -> None:
    # given a closed ticket
    ticket = live.open_ticket(subject="Closed race")
    r = live.patch(
        f"/tickets/{ticket['id']}", {"status": "closed", "version": ticket["version"]}, as_="admin"
    )
    assert r.status == 200, r
    clients = {who: desk_session(live, who) for who in ("agent", "agent2")}

    def follow_up(i: int) -> Reply:
        client = clients["agent" if i % 2 else "agent2"]
        r = client.post(
            f"/tickets/{ticket['id']}/follow-up/",
            data={"body": f"follow-up {i}"},
            headers={"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]},
        )
        return Reply(r.status_code, r.headers.get("HX-Redirect", ""))

    # when two agents create a follow-up at once
    replies = live.race(2, follow_up)
    # then each opened its own ticket, linked by its cause, with that agent's message first
    assert [r.status for r in replies] == [200, 200], replies
    new_ids = [int(re.search(r"/tickets/(\d+)/", r.body).group(1)) for r in replies]  # type: ignore[union-attr]
    assert len(set(new_ids)) == 2
    assert ticket["id"] not in new_ids
    for i, new_id in enumerate(new_ids):
        new = live.get(f"/tickets/{new_id}", as_="admin").body
        assert (new["subject"], new["requester_id"], new["department_id"]) == (
            "Re: Closed race",
            ticket["requester_id"],
            ticket["department_id"],
        )
        assert [m["body"].strip() for m in live.messages(new_id)] == [f"follow-up {i}"]
        created = [e for e in events(live, new_id) if e["kind"] == "created"]
        assert [e["cause"] for e in created] == [f"follow-up of #{ticket['number']}"]
    assert live.get(f"/tickets/{ticket['id']}").body["status"] == "closed"

"""Replays at a live server, on SQLite and on PostgreSQL, while the desk is busy: replays through
the API and the Console run at the same moment as customers' messages on the tickets they read.
Every request succeeds, every message is stored, and the replays write nothing (a replay only
reads, not even a rolled-back transaction)."""

from __future__ import annotations

import uuid

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE


def test_replays_during_a_busy_moment_succeed_and_write_nothing(live: LiveDesk) -> None:
    key = f"replay{uuid.uuid4().hex[:6]}"
    tickets = [live.open_ticket(subject=f"{key} parcel {i}") for i in range(2)]
    rule = {
        "kind": "event",
        "key": key,
        "name": "Replayed",
        "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": key}]},
        "actions": [{"add_tags": [key]}, {"note": {"body": "Seen {{ ticket.subject }}"}}],
    }
    when = f"{{all: [{{field: ticket.subject, op: contains, value: {key}}}]}}"
    text = f"key: {key}\nname: Replayed\nwhen: {when}\nactions: [{{add_tags: [{key}]}}]\n"
    client = signed_in(live)
    before = [live.messages(t["id"]) for t in tickets]

    def act(i: int) -> Reply:
        if i % 3 == 0:
            return live.post("/rules/replay", {"rule": rule, "days": 1}, as_="admin")
        if i % 3 == 1:
            return post(client, "/console/rules/replay/", {"kind": "event", "yaml": text, "days": "1"})
        ticket = tickets[i % 2]
        return live.post(f"/tickets/{ticket['id']}/messages", {"body": f"Message {i}"}, as_="agent")

    n = 9
    replies = live.race(n, act)
    statuses = [r.status for r in replies]
    assert statuses == [200, 200, 201] * (n // 3), replies
    for r in replies[0::3]:
        assert r.body["key"] == key
        assert {t["ticket_id"] for t in r.body["tickets"]} == {t["id"] for t in tickets}
        assert all(f["changes"][0]["new_value"] == [key] for t in r.body["tickets"] for f in t["firings"])
    for r in replies[1::3]:
        assert "it would have changed 2 tickets" in r.body
    # every message is stored; no tag, note or rule came from the replays
    after = [live.messages(t["id"]) for t in tickets]
    assert sum(len(a) - len(b) for a, b in zip(after, before, strict=True)) == n // 3
    for t, messages in zip(tickets, after, strict=True):
        assert not any(m["body"].startswith("Seen ") for m in messages)
        assert key not in live.get(f"/tickets/{t['id']}", as_="admin").body["tags"]
    assert live.get(f"/rules/{key}", as_="admin").status == 404

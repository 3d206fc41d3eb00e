"""Two agents bulk-change overlapping tickets from the queue page at the same instant, on a live
server (SQLite and PostgreSQL): every ticket is changed by exactly the agents whose summary says
so, a ticket one of them changed first is reported to the other as stale (never overwritten),
and nothing is lost."""

from __future__ import annotations

import re
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

# A new connection per request: a race's requests really run side by side, and none is sent on
# a kept-alive connection the server has closed for idleness meanwhile (a reset, not an answer).
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)

pytestmark = LIVE

PASSWORD = "queue-race-passphrase-1"


def _signed_in(live: LiveDesk, email: str) -> httpx.Client:
    client = httpx.Client(base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60)
    client.get("/login/")
    token = client.cookies["csrftoken"]
    r = client.post(
        "/login/",
        data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{live.base_url}/login/"},
    )
    assert r.status_code == 302, r.text[-2000:]
    return client


def _bulk(client: httpx.Client, data: dict[str, Any]) -> Reply:
    r = client.post(
        "/queues/bulk/",
        data=data,
        headers={"X-CSRFToken": client.cookies["csrftoken"], "HX-Request": "true"},
    )
    return Reply(r.status_code, r.text)


def _summary(html: str) -> tuple[int, dict[int, str]]:
    found = re.search(r'data-changed="(\d+)"', html)
    assert found, html[-2000:]
    failed = re.findall(r'data-failed-ticket="(\d+)" data-code="([a-z_]+)"', html)
    return int(found.group(1)), {int(i): code for i, code in failed}


def test_two_agents_bulk_updating_overlapping_tickets_lose_nothing(live: LiveDesk) -> None:
    live.server.manage(
        "shell",
        "-c",
        "from sportello.accounts.models import User\n"
        "for u in User.objects.filter(email__in=['agent1@live.test', 'agent2@live.test']):\n"
        f"    u.set_password({PASSWORD!r}); u.save(update_fields=['password'])",
    )
    # given ten tickets, and two agents who loaded the same list
    tickets = [live.open_ticket(subject=f"Bulk race {i}") for i in range(10)]
    one, two = _signed_in(live, "agent1@live.test"), _signed_in(live, "agent2@live.test")
    first = [f"{t['id']}:{t['version']}" for t in tickets[:7]]
    second = [f"{t['id']}:{t['version']}" for t in tickets[3:]]
    # when both apply their change at once (tickets 3 to 6 are in both selections)
    replies = live.race(
        2,
        lambda i: (
            _bulk(one, {"bulk-action": "priority", "bulk-priority": "4", "ticket": first})
            if i == 0
            else _bulk(two, {"bulk-action": "add_tags", "bulk-tags": "raced", "ticket": second})
        ),
    )
    # then each summary adds up, and every failure is a stale ticket of the overlap
    assert [r.status for r in replies] == [200, 200], replies
    (changed_one, failed_one), (changed_two, failed_two) = (_summary(r.body) for r in replies)
    assert changed_one + len(failed_one) == 7
    assert changed_two + len(failed_two) == 7
    overlap = {t["id"] for t in tickets[3:7]}
    assert set(failed_one) | set(failed_two) <= overlap
    assert set(failed_one.values()) | set(failed_two.values()) <= {"stale_version"}
    # and the stored tickets say exactly what the summaries said: nothing lost, nothing overwritten
    for t in tickets:
        r = live.get(f"/tickets/{t['id']}", as_="admin")
        assert r.status == 200, r
        in_one = t["id"] in {x["id"] for x in tickets[:7]} and t["id"] not in failed_one
        in_two = t["id"] in {x["id"] for x in tickets[3:]} and t["id"] not in failed_two
        assert (r.body["priority"] == "urgent") == in_one, (t["id"], r.body)
        assert ("raced" in r.body["tags"]) == in_two, (t["id"], r.body)
        assert in_one or in_two
        assert r.body["version"] == t["version"] + int(in_one) + int(in_two)

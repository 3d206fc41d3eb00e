"""The Console's round-robin policies at a live server, on SQLite and on PostgreSQL: many admins'
saves of one policy from the same page at once — one is saved, the others are told the policy
changed meanwhile, keeping what they typed; many creations of one key at once — one policy,
one version, the others told the key is taken."""

from __future__ import annotations

import json
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

READ_POLICY = (
    "import json; from sportello.automation.models import AssignmentPolicy as P; "
    "p = P.objects.get(key={key!r}); "
    "print(json.dumps([p.version, p.name, p.definition, "
    "list(p.versions.order_by('version').values_list('version', flat=True))]))"
)


def policy_row(live: LiveDesk, key: str) -> list[Any]:
    out = live.server.manage("shell", "-c", READ_POLICY.format(key=key))
    row: list[Any] = json.loads(out.strip().splitlines()[-1])
    return row


def form(live: LiveDesk, **over: Any) -> dict[str, Any]:
    return {
        "name": "Race round robin",
        "pool": "department",
        "department": str(live.departments["support"]),
        "max_open_per_agent": "3",
        "count_categories": ["new", "open"],
        "offline": "skip",
        "backlog": "on",
        "active": "on",
        **over,
    }


def test_saves_of_one_policy_from_one_page_at_once_keep_exactly_one(live: LiveDesk) -> None:
    made = live.post(
        "/assignment-policies",
        {"key": "race-rr", "name": "Race round robin", "pool": {"department": live.departments["support"]}},
        as_="admin",
    )
    assert made.status == 201, made
    client = signed_in(live)
    assert client.get("/console/round-robin/race-rr/").status_code == 200
    # when twelve saves, each with its own limit, are sent from version 1 at once
    n = 12
    replies: list[Reply] = live.race(
        n,
        lambda i: post(
            client, "/console/round-robin/race-rr/", form(live, version="1", max_open_per_agent=str(i + 1))
        ),
    )
    # then one is saved; the others are told, and keep what they typed
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    for i, r in enumerate(replies):
        if r.status == 409:
            assert "Someone saved this policy while you were editing it" in r.body
            assert f'name="max_open_per_agent" value="{i + 1}"' in r.body
            assert 'name="version" value="2"' in r.body
    version, name, definition, versions = policy_row(live, "race-rr")
    assert (version, name, versions) == (2, "Race round robin", [1, 2])
    assert definition["max_open_per_agent"] == winner + 1


def test_creations_of_one_key_at_once_make_one_policy(live: LiveDesk) -> None:
    client = signed_in(live)
    n = 10
    replies: list[Reply] = live.race(
        n,
        lambda i: post(client, "/console/round-robin/new/", form(live, key="race-new", name=f"Made by {i}")),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    for r in replies:
        if r.status == 409:
            assert "A policy with this key exists already; choose another key." in r.body
    version, name, _definition, versions = policy_row(live, "race-new")
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    assert (version, name, versions) == (1, f"Made by {winner}", [1])


READ_DIRECT = (
    "import json; from sportello.automation.models import Rule; "
    "print(json.dumps([[r.key, r.name, r.position, r.version, r.active] "
    "for r in Rule.objects.filter(category='direct-assignment', name={name!r}).order_by('key')]))"
)


def direct_rows(live: LiveDesk, name: str) -> list[list[Any]]:
    out = live.server.manage("shell", "-c", READ_DIRECT.format(name=name))
    rows: list[list[Any]] = json.loads(out.strip().splitlines()[-1])
    return rows


def test_direct_assignments_added_at_once_are_all_kept_under_their_own_keys(live: LiveDesk) -> None:
    client = signed_in(live)
    n = 8
    data = {
        "condition": "subject",
        "text": "race-word",
        "target": "agent",
        "agent": str(live.people["agent"]),
        "name": "Race words",
    }
    replies: list[Reply] = live.race(n, lambda i: post(client, "/console/direct-assignment/", data))
    assert [r.status for r in replies] == [302] * n
    rows = direct_rows(live, "Race words")
    keys = [r[0] for r in rows]
    assert sorted(keys) == sorted(["direct-race-words"] + [f"direct-race-words-{k}" for k in range(2, n + 1)])
    assert all(r[3] == 1 and r[4] for r in rows)
    # turned off by many requests at once: off once, one new version
    replies = live.race(
        6, lambda i: post(client, "/console/direct-assignment/direct-race-words/active/", {"active": "0"})
    )
    assert [r.status for r in replies] == [302] * 6
    first = next(r for r in direct_rows(live, "Race words") if r[0] == "direct-race-words")
    assert (first[3], first[4]) == (2, False)
    # a new ticket with the word goes to the agent through one of the others
    ticket = live.open_ticket(subject="About race-word")
    assert live.get(f"/tickets/{ticket['id']}", as_="admin").body["assignee_id"] == live.people["agent"]

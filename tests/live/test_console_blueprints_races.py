"""The Console's blueprint editor at a live server, on SQLite and on PostgreSQL: an admin's
session creates one blueprint by many requests at once (one creates it, the others are told the
key is taken, with their form kept), then saves many different edits of its version 1 at once
(one is saved as version 2; every other is told someone saved meanwhile, nothing lost)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import signed_in

pytestmark = LIVE

READ = (
    "import json; from sportello.blueprints.models import Blueprint as B, BlueprintVersion as V; "
    "print(json.dumps([[b.key, b.name, b.version, "
    "sorted(V.objects.filter(blueprint=b).values_list('version', flat=True))] "
    "for b in B.objects.filter(key='{key}')]))"
)


def blueprint_row(live: LiveDesk, key: str) -> list[Any]:
    out = live.server.manage("shell", "-c", READ.format(key=key))
    rows: list[list[Any]] = json.loads(out.strip().splitlines()[-1])
    assert len(rows) == 1
    return rows[0]


def form(live: LiveDesk, key: str, name: str, version: int) -> dict[str, Any]:
    return {
        "version": str(version),
        "key": key,
        "name": name,
        "department": str(live.departments["support"]),
        "priority": "0",
        # off: the live server is shared, and an enabled blueprint of Support would hold the
        # other tests' tickets to its transitions
        "s-count": "3",
        "t-count": "2",
        "s-0-name": "Received", "s-0-status": "open", "s-0-initial": "on",
        "s-1-name": "Replaced", "s-1-status": "solved", "s-1-terminal": "on",
        "s-2-name": "Rejected", "s-2-status": "closed", "s-2-terminal": "on",
        "t-0-name": "Replace", "t-0-from": ["s0"], "t-0-to": "s1", "t-0-fields": ["ticket.subject"],
        "t-1-name": "Reject", "t-1-from": ["s0"], "t-1-to": "s2",
        "action": "save",
    }  # fmt: skip


def post(client: httpx.Client, path: str, data: dict[str, Any]) -> Reply:
    r = client.post(path, data=data, headers={"X-CSRFToken": client.cookies["csrftoken"]})
    return Reply(r.status_code, r.text)


def test_one_blueprint_created_and_one_edit_saved_when_many_arrive_at_once(live: LiveDesk) -> None:
    client = signed_in(live)
    key = "race-warranty"
    # when twelve requests create the same blueprint at once
    n = 12
    replies = live.race(n, lambda i: post(client, "/console/blueprints/new/", form(live, key, f"New {i}", 0)))
    # then one creates it; the others are told the key is taken, their form kept
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    for r in replies:
        if r.status == 409:
            assert "A blueprint with this key" in r.body
            assert 'name="s-2-name" value="Rejected"' in r.body
    k, name, version, versions = blueprint_row(live, key)
    assert (k, version, versions) == (key, 1, [1])
    assert name.startswith("New ")
    # when twelve different edits of version 1 are saved at once
    replies = live.race(
        n, lambda i: post(client, f"/console/blueprints/{key}/edit/", form(live, key, f"Edit {i}", 1))
    )
    # then one is saved as version 2; every other hears of it and keeps its own name
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    for i, r in enumerate(replies):
        if r.status == 409:
            assert "you started from version 1, it is now at version 2" in r.body
            assert f'value="Edit {i}"' in r.body
    assert blueprint_row(live, key) == [key, f"Edit {winner}", 2, [1, 2]]
    # and the list shows it
    page = client.get("/console/blueprints/")
    assert page.status_code == 200
    assert f"Edit {winner}" in page.text

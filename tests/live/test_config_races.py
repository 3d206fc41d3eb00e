"""Concurrent writes to one configured thing, fired at a live server on SQLite and on
PostgreSQL (`core.versioning`): saves of one rule are applied one after the other (every one a
version, numbered without gaps or repeats), simultaneous reverts to one version write it once,
and of simultaneous creations of one key exactly one succeeds, the others answering 409."""

from __future__ import annotations

from typing import Any

from live import LIVE
from live.server import LiveDesk

pytestmark = LIVE

N = 12


def rule(key: str, name: str) -> dict[str, Any]:
    # a condition no other live test's ticket meets
    return {"kind": "event", "key": key, "name": name,
            "when": {"field": "ticket.subject", "op": "contains", "value": "zz-config-race-zz"},
            "actions": [{"add_tags": ["config-race"]}]}  # fmt: skip


def test_simultaneous_saves_and_reverts_of_one_rule_serialise(live: LiveDesk) -> None:
    # given a rule at version 1
    created = live.post("/rules", rule("race-config", "Version one"), as_="admin")
    assert created.status == 201, created
    # when N admins save a new definition of it at once, each its own
    names = [f"Saved by {i:02d}" for i in range(N)]
    replies = live.race(
        N, lambda i: live.put("/rules/race-config", rule("race-config", names[i]), as_="admin")
    )
    # then every save wrote its own version: 2 … N + 1, none lost or repeated
    assert [r.status for r in replies] == [200] * N, [r for r in replies if r.status != 200][:3]
    assert all(r.body["written"] for r in replies)
    assert sorted(r.body["version"] for r in replies) == list(range(2, N + 2))
    versions = live.get("/rules/race-config/versions", as_="admin").body["items"]
    assert [v["version"] for v in versions] == list(range(N + 1, 0, -1))
    by_version = {r.body["version"]: r.body["name"] for r in replies}
    assert {v["version"]: v["definition"]["name"] for v in versions[:-1]} == by_version
    # when N admins revert it to version 1 at once
    reverts = live.race(N, lambda i: live.post("/rules/race-config/revert", {"version": 1}, as_="admin"))
    # then one of them wrote version N + 2, equal to version 1; the others found it current
    assert [r.status for r in reverts] == [200] * N, [r for r in reverts if r.status != 200][:3]
    assert sorted(r.body["written"] for r in reverts) == [False] * (N - 1) + [True]
    assert {r.body["version"] for r in reverts} == {N + 2}
    diff = live.get(f"/rules/race-config/versions/1/diff/{N + 2}", as_="admin").body
    assert diff["changes"] == []
    # (the rule stops running for the other tests)
    assert live.request("DELETE", "/rules/race-config", as_="admin").status == 200


def test_simultaneous_creations_of_one_key_create_it_once(live: LiveDesk) -> None:
    replies = live.race(
        N, lambda i: live.post("/rules", rule("race-create", f"Creator {i:02d}"), as_="admin")
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [409] * (N - 1), [r for r in replies if r.status not in (201, 409)][:3]
    assert {r.body["error"]["code"] for r in replies if r.status == 409} == {"conflict"}
    [winner] = [r for r in replies if r.status == 201]
    versions = live.get("/rules/race-create/versions", as_="admin").body["items"]
    assert [(v["version"], v["definition"]["name"]) for v in versions] == [(1, winner.body["name"])]
    assert live.request("DELETE", "/rules/race-create", as_="admin").status == 200

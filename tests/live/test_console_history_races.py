"""Restoring from the Console's history at a live server, on SQLite and on PostgreSQL: an admin's
browser session confirms "Restore version 1" of a rule from many requests at once; all succeed,
one of them writes a new version equal to version 1, the others find it already in force. A
restore confirmed against a version another save replaced meanwhile writes nothing and asks
again."""

from __future__ import annotations

from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

N = 12


def rule(key: str, name: str) -> dict[str, Any]:
    # a condition no other live test's ticket meets
    return {"kind": "event", "key": key, "name": name,
            "when": {"field": "ticket.subject", "op": "contains", "value": "zz-history-race-zz"},
            "actions": [{"add_tags": ["history-race"]}]}  # fmt: skip


def test_many_restores_of_one_version_at_once_write_it_once(live: LiveDesk) -> None:
    # given a rule at version 2
    assert live.post("/rules", rule("history-race", "Version one"), as_="admin").status == 201
    assert live.put("/rules/history-race", rule("history-race", "Version two"), as_="admin").status == 200
    client = signed_in(live)
    page = client.get("/console/history/rules/history-race/restore/1/")
    assert page.status_code == 200
    assert 'name="current" value="2"' in page.text
    # when the admin confirms restoring version 1 from twelve requests at once
    replies: list[Reply] = live.race(
        N, lambda i: post(client, "/console/history/rules/history-race/restore/1/", {"current": "2"})
    )
    # then all succeed, back to the history
    assert [r.status for r in replies] == [302] * N, [r for r in replies if r.status != 302][:3]
    # and exactly one new version was written, equal to version 1
    versions = live.get("/rules/history-race/versions", as_="admin").body["items"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert live.get("/rules/history-race/versions/1/diff/3", as_="admin").body["changes"] == []
    listed = client.get("/console/history/rules/history-race/")
    assert listed.status_code == 200
    assert 'id="version-3" class="history-current"' in listed.text
    # a confirmation shown before version 3, sent again after another save, asks again
    assert live.put("/rules/history-race", rule("history-race", "Version four"), as_="admin").status == 200
    stale = post(client, "/console/history/rules/history-race/restore/2/", {"current": "3"})
    assert stale.status == 409
    assert "Someone saved version 4 while you were looking" in stale.body
    assert len(live.get("/rules/history-race/versions", as_="admin").body["items"]) == 4
    # (the rule stops running for the other tests)
    assert live.request("DELETE", "/rules/history-race", as_="admin").status == 200

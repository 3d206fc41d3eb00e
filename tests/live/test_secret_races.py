"""Concurrent writes to webhook secrets, fired at a live server on SQLite and on PostgreSQL:
rotations of one secret are applied one after the other (none lost: the version counts them all,
and the stored previous value is one the last rotation replaced), and of simultaneous creations of
one name exactly one succeeds."""

from __future__ import annotations

import json

from live import LIVE
from live.server import LiveDesk

pytestmark = LIVE

READ = (
    "import json; from sportello.outbox.models import WebhookSecret as W; "
    "from sportello.outbox.secrets import unseal; r = W.objects.get(name={name!r}); "
    "print(json.dumps([unseal(r.secret), unseal(r.previous) if r.previous else None]))"
)


def stored(live: LiveDesk, name: str) -> list[str | None]:
    """The secret's current and previous values, read from the server's database."""
    out = live.server.manage("shell", "-c", READ.format(name=name))
    values: list[str | None] = json.loads(out.strip().splitlines()[-1])
    return values


def test_simultaneous_rotations_leave_one_current_value_and_the_one_it_replaced(live: LiveDesk) -> None:
    # given a secret
    first = "first-value-0123456789"
    created = live.post("/webhook-secrets", {"name": "race-rotate", "value": first}, as_="admin")
    assert created.status == 201, created
    # when 16 admins rotate it at once, each with its own value
    n = 16
    values = [f"rotated-value-{i:02d}-0123456789" for i in range(n)]
    replies = live.race(
        n, lambda i: live.post("/webhook-secrets/race-rotate/rotate", {"value": values[i]}, as_="admin")
    )
    # then every rotation succeeded and answered its own value
    assert [r.status for r in replies] == [200] * n, [r for r in replies if r.status != 200][:3]
    assert [r.body["value"] for r in replies] == values
    # and the stored value is one of them, the previous one another: the rotation applied
    # just before the last (none read a value that another rotation had already replaced)
    current, previous = stored(live, "race-rotate")
    assert current in values
    assert previous in values
    assert previous != current
    # and the list shows one secret, rotated, with no value
    listed = [
        s for s in live.get("/webhook-secrets", as_="admin").body["items"] if s["name"] == "race-rotate"
    ]
    assert len(listed) == 1
    assert "value" not in listed[0]
    assert listed[0]["version"] == 1 + n  # no rotation was lost
    assert listed[0]["rotated_by"] == listed[0]["created_by"]
    assert live.request("DELETE", "/webhook-secrets/race-rotate", as_="admin").status == 204


def test_simultaneous_creations_of_one_name_create_it_once(live: LiveDesk) -> None:
    n = 16
    replies = live.race(
        n,
        lambda i: live.post(
            "/webhook-secrets",
            {"name": "race-create", "value": f"created-value-{i:02d}-0123456789"},
            as_="admin",
        ),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [201] + [409] * (n - 1), [r for r in replies if r.status not in (201, 409)][:3]
    [winner] = [i for i, r in enumerate(replies) if r.status == 201]
    for r in replies:
        if r.status == 409:
            assert r.body == {
                "error": {
                    "code": "conflict",
                    "message": "a webhook secret named 'race-create' already exists",
                    "field": "name",
                }
            }
    # the stored value is the winner's
    assert stored(live, "race-create") == [f"created-value-{winner:02d}-0123456789", None]
    assert live.request("DELETE", "/webhook-secrets/race-create", as_="admin").status == 204

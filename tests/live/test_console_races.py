"""The Console's API tokens page at a live server, on SQLite and on PostgreSQL: an admin's
browser session revokes an agent's token by many requests at once; all succeed, the token is
revoked once and stops working on the API, the agent's other token still works."""

from __future__ import annotations

import json
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

READ_TOKEN = (
    "import json; from sportello.accounts.models import ApiToken as T; "
    "print(json.dumps([[t.pk, t.user_id, t.revoked_at.isoformat() if t.revoked_at else None] "
    "for t in T.objects.filter(pk={pk})]))"
)


def token_row(live: LiveDesk, pk: int) -> list[Any]:
    out = live.server.manage("shell", "-c", READ_TOKEN.format(pk=pk))
    rows: list[list[Any]] = json.loads(out.strip().splitlines()[-1])
    assert len(rows) == 1
    return rows[0]


def test_an_agents_token_revoked_by_many_requests_at_once_is_revoked_once(live: LiveDesk) -> None:
    # given a token the second agent made for a script, which works
    made = live.post("/tokens", {"name": "console-race"}, as_="agent2")
    assert made.status == 201, made
    token_id, secret = made.body["id"], made.body["secret"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{live.api}/agents/me", headers=bearer).status_code == 200
    client = signed_in(live)
    listed = client.get("/console/tokens/?status=active")
    assert listed.status_code == 200
    assert f'id="token-{token_id}"' in listed.text
    # when the admin confirms its revocation from twelve requests at once
    n = 12
    back = "/console/tokens/?status=all"
    replies: list[Reply] = live.race(
        n, lambda i: post(client, f"/console/tokens/{token_id}/revoke/", {"next": back})
    )
    # then all succeed, each back to the list
    assert [r.status for r in replies] == [302] * n
    # and the token is revoked, once: a later revocation keeps the first instant
    pk, owner, revoked_at = token_row(live, token_id)
    assert (pk, owner) == (token_id, live.people["agent2"])
    assert revoked_at is not None
    assert post(client, f"/console/tokens/{token_id}/revoke/").status == 302
    assert token_row(live, token_id)[2] == revoked_at
    # it no longer works; the agent's other token still does
    assert httpx.get(f"{live.api}/agents/me", headers=bearer).status_code == 401
    other = httpx.get(f"{live.api}/agents/me", headers={"Authorization": f"Bearer {live.tokens['agent2']}"})
    assert other.status_code == 200
    # the list shows it revoked
    page = client.get(back)
    assert page.status_code == 200
    assert f'id="token-{token_id}" class="revoked"' in page.text

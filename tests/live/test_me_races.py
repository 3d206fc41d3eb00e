"""Concurrent writes to an agent's own things through the Desk (a signed-in browser session),
at a live server on SQLite and on PostgreSQL: notifications opened and marked all read at once
end read, each once; tokens created at once are all distinct and listed; one token revoked by
many requests at once is revoked once, and stops working."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

# A new connection per request: a race's requests really run side by side, and none is sent on
# a kept-alive connection the server has closed for idleness meanwhile (a reset, not an answer).
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)

pytestmark = LIVE

ADMIN = ("admin@live.test", "live-admin-passphrase-1")
READ_NOTIFICATIONS = (
    "import json; from sportello.inbox.models import Notification as N; "
    "print(json.dumps([[n.pk, n.read_at is not None] "
    "for n in N.objects.filter(ticket_id={ticket}).order_by('pk')]))"
)
READ_TOKENS = (
    "import json; from sportello.accounts.models import ApiToken as T; "
    "print(json.dumps([[t.name, t.revoked_at.isoformat() if t.revoked_at else None] "
    "for t in T.objects.filter(name__startswith={prefix!r}).order_by('pk')]))"
)


def shell(live: LiveDesk, code: str) -> list[list[Any]]:
    out = live.server.manage("shell", "-c", code)
    rows: list[list[Any]] = json.loads(out.strip().splitlines()[-1])
    return rows


def signed_in(live: LiveDesk) -> httpx.Client:
    """A browser session of the seeded admin, signed in through the login form."""
    client = httpx.Client(
        base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60, follow_redirects=False
    )
    client.get("/login/")
    email, password = ADMIN
    r = client.post(
        "/login/",
        data={"username": email, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
    )
    assert r.status_code == 302, r.text[:500]
    return client


def post(client: httpx.Client, path: str, data: dict[str, str] | None = None) -> Reply:
    r = client.post(path, data=data or {}, headers={"X-CSRFToken": client.cookies["csrftoken"]})
    return Reply(r.status_code, r.text)


def test_notifications_opened_and_marked_all_read_at_once_all_end_read(live: LiveDesk) -> None:
    # given eight notes mentioning the admin on one ticket: eight unread notifications
    ticket = live.open_ticket(subject="Mentions race")
    for i in range(8):
        r = live.post(
            f"/tickets/{ticket['id']}/messages",
            {"body": f"@admin@live.test look {i}", "public": False},
            as_="agent",
        )
        assert r.status == 201, r
    rows = shell(live, READ_NOTIFICATIONS.format(ticket=ticket["id"]))
    assert [read for _, read in rows] == [False] * 8
    ids = [pk for pk, _ in rows]
    client = signed_in(live)
    # when each is opened while "mark all read" is pressed as often, all at once
    n = 16
    replies = live.race(
        n, lambda i: post(client, f"/inbox/{ids[i]}/open/") if i < 8 else post(client, "/inbox/read-all/")
    )
    # then every request succeeded: an open lands on the ticket, mark-all on the list
    assert [r.status for r in replies] == [302] * n
    # and every notification is read, none lost or duplicated
    assert shell(live, READ_NOTIFICATIONS.format(ticket=ticket["id"])) == [[pk, True] for pk in ids]
    bell = client.get("/inbox/bell/")
    assert bell.status_code == 200
    assert "bell-count" not in bell.text


def test_notifications_opened_and_marked_all_read_from_the_bell_panel_at_once(live: LiveDesk) -> None:
    # given eight notes mentioning the admin on one ticket: eight unread notifications
    ticket = live.open_ticket(subject="Bell panel race")
    for i in range(8):
        r = live.post(
            f"/tickets/{ticket['id']}/messages",
            {"body": f"@admin@live.test panel {i}", "public": False},
            as_="agent",
        )
        assert r.status == 201, r
    ids = [pk for pk, _ in shell(live, READ_NOTIFICATIONS.format(ticket=ticket["id"]))]
    client = signed_in(live)
    panel = client.get("/inbox/bell/panel/", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    assert panel.text.count("Unread:") >= 8
    # when each is opened from the panel while its "Mark all read" is pressed as often, at once
    n = 16
    headers = {"X-CSRFToken": client.cookies["csrftoken"], "HX-Request": "true"}

    def press(i: int) -> Reply:
        if i < 8:
            return post(client, f"/inbox/{ids[i]}/open/")
        r = client.post("/inbox/read-all/", headers=headers)
        return Reply(r.status_code, r.text)

    replies = live.race(n, press)
    # then every request succeeded: an open lands on the ticket, mark-all answers the panel
    assert [r.status for r in replies] == [302] * 8 + [200] * 8
    for reply in replies[8:]:
        assert "Unread:" not in str(reply.body)
        assert "Mark all read" not in str(reply.body)
    # and every notification is read, none lost or duplicated; the bell shows no count
    assert shell(live, READ_NOTIFICATIONS.format(ticket=ticket["id"])) == [[pk, True] for pk in ids]
    assert "bell-count" not in client.get("/inbox/bell/").text


def test_tokens_created_and_revoked_at_once(live: LiveDesk) -> None:
    client = signed_in(live)
    # when twelve tokens are created at once
    n = 12
    replies = live.race(n, lambda i: post(client, "/me/tokens/", {"name": f"race-token-{i:02d}"}))
    assert [r.status for r in replies] == [201] * n
    secrets = [re.search(r'id="token-secret" value="(spt_[^"]+)"', str(r.body)) for r in replies]
    values = [m.group(1) for m in secrets if m is not None]
    assert len(set(values)) == n
    rows = shell(live, READ_TOKENS.format(prefix="race-token-"))
    assert sorted(name for name, _ in rows) == [f"race-token-{i:02d}" for i in range(n)]
    # each works on the API
    first = httpx.get(f"{live.api}/agents/me", headers={"Authorization": f"Bearer {values[0]}"})
    assert first.status_code == 200, first.text[:300]
    # when one token is revoked by twelve requests at once
    listed = client.get("/me/tokens/").text
    created = next(r for r, v in zip(replies, values, strict=True) if v == values[0])
    name = re.search(r"Token “(race-token-\d+)” created", str(created.body))
    assert name is not None
    token_id = re.search(rf"{name.group(1)}</td>.*?/me/tokens/(\d+)/revoke/", listed, flags=re.S)
    assert token_id is not None
    revokes = live.race(n, lambda i: post(client, f"/me/tokens/{token_id.group(1)}/revoke/"))
    # then all succeed, the token is revoked once and no longer works; the others still do
    assert [r.status for r in revokes] == [200] * n
    revoked_at = dict((str(k), v) for k, v in shell(live, READ_TOKENS.format(prefix="race-token-")))
    assert revoked_at[name.group(1)] is not None
    assert sum(1 for v in revoked_at.values() if v is not None) == 1
    gone = httpx.get(f"{live.api}/agents/me", headers={"Authorization": f"Bearer {values[0]}"})
    assert gone.status_code == 401
    other = httpx.get(f"{live.api}/agents/me", headers={"Authorization": f"Bearer {values[1]}"})
    assert other.status_code == 200

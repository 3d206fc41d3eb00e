"""The customer portal at a live server, on SQLite and on PostgreSQL: one sign-in link posted
by many at once signs in exactly once (the others are told the link does not work); replies sent
at once from two pages of one request are all kept; "Close request" pressed at once from pages
drawn at one version closes it once, the others told it changed (409), never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE

FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)
LINK = (
    "import json; from django.utils import timezone; from sportello.portal import services; "
    "link = services.signin_link_request(email='{email}', address='', now=timezone.now()); "
    "print(json.dumps(link.token))"
)
LINK_USED = (
    "import json; from sportello.portal.models import SignInLink as L; "
    "print(json.dumps([str(l.used_at is not None) for l in L.objects.filter(contact__email='{email}')]))"
)
TICKET = (
    "import json; from sportello.tickets.models import Ticket, TicketEvent as E; "
    "t = Ticket.objects.get(pk={pk}); "
    "print(json.dumps([t.number, t.status_category, t.version, "
    "E.objects.filter(ticket=t, field='status', actor_kind='contact').count()]))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def browser(live: LiveDesk) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60, follow_redirects=False)


def post(client: httpx.Client, path: str, data: dict[str, str] | None = None) -> Reply:
    r = client.post(path, data=data or {}, headers={"X-CSRFToken": client.cookies.get("csrftoken", "")})  # type: ignore[arg-type]
    return Reply(r.status_code, r.text)


def signed_in(live: LiveDesk, email: str) -> httpx.Client:
    token = shell(live, LINK.format(email=email))
    client = browser(live)
    assert client.get(f"/portal/sign-in/{token}/").status_code == 200
    assert post(client, f"/portal/sign-in/{token}/").status == 302
    return client


def test_one_link_posted_at_once_signs_in_once(live: LiveDesk) -> None:
    email = f"link-{uuid.uuid4().hex[:6]}@customer.test"
    live.contact(email)
    token = shell(live, LINK.format(email=email))
    n = 8
    clients = [browser(live) for _ in range(n)]
    for c in clients:
        assert c.get(f"/portal/sign-in/{token}/").status_code == 200
    replies = live.race(n, lambda i: post(clients[i], f"/portal/sign-in/{token}/"))
    assert sorted(r.status for r in replies) == [302] + [410] * (n - 1), [r.status for r in replies]
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    assert all("This link does not work" in r.body for r in replies if r.status == 410)
    # exactly the winner's session is signed in
    pages = [c.get("/portal/tickets/").status_code for c in clients]
    assert pages == [200 if i == winner else 302 for i in range(n)]
    assert shell(live, LINK_USED.format(email=email)) == ["True"]


def test_replies_at_once_are_all_kept_and_close_at_once_closes_once(live: LiveDesk) -> None:
    email = f"reply-{uuid.uuid4().hex[:6]}@customer.test"
    contact = live.contact(email)
    ticket = live.open_ticket(subject="Portal race", requester_id=contact["id"])
    number, _category, version, _moves = shell(live, TICKET.format(pk=ticket["id"]))
    first, second = signed_in(live, email), signed_in(live, email)
    for c in (first, second):
        assert c.get(f"/portal/tickets/{number}/").status_code == 200
    n = 8
    replies = live.race(
        n, lambda i: post((first, second)[i % 2], f"/portal/tickets/{number}/", {"body": f"Reply {i}"})
    )
    assert [r.status for r in replies] == [302] * n
    bodies = [m["body"] for m in live.messages(ticket["id"])]
    assert sorted(b for b in bodies if b.startswith("Reply ")) == sorted(f"Reply {i}" for i in range(n))
    _n, _c, version, _m = shell(live, TICKET.format(pk=ticket["id"]))
    closes = live.race(
        n,
        lambda i: post((first, second)[i % 2], f"/portal/tickets/{number}/close/", {"version": str(version)}),
    )
    assert sorted(r.status for r in closes) == [302] + [409] * (n - 1), [r.status for r in closes]
    _n, category, after, moves = shell(live, TICKET.format(pk=ticket["id"]))
    assert (category, after, moves) == ("solved", version + 1, 1)

"""The Console's quarantine at a live server, on SQLite and on PostgreSQL: an admin's browser
session releases one held message by many requests at once — one ticket opens, released once;
and releases and discards of another message racing end in one outcome, never both."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

READ = (
    "import json; from sportello.channels.models import InboundMail as M; "
    "from sportello.tickets.models import Ticket as T, TicketEvent as E; m = M.objects.get(pk={pk}); "
    "print(json.dumps([m.status, m.ticket_id, T.objects.filter(subject={subject!r}).count(), "
    "E.objects.filter(kind='mail', field='released', new_value__inbound={pk}).count()]))"
)


def held(live: LiveDesk, subject: str, mid: str) -> int:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "agent1@live.test", live.mailbox, subject, mid
    m.set_content("Forwarded: a customer's question.")
    r = live.request(
        "POST", "/mail/inbound", as_="admin", content=m.as_bytes(), headers={"Content-Type": "message/rfc822"}
    )
    assert r.status == 201, r
    assert r.body["status"] == "quarantine", r
    return int(r.body["inbound_id"])


def state(live: LiveDesk, pk: int, subject: str) -> list[Any]:
    out = live.server.manage("shell", "-c", READ.format(pk=pk, subject=subject))
    row: list[Any] = json.loads(out.strip().splitlines()[-1])
    return row


def test_a_held_message_released_by_many_requests_at_once_opens_one_ticket(live: LiveDesk) -> None:
    subject = "Quarantine release race"
    pk = held(live, subject, "<release-race@live.test>")
    client = signed_in(live)
    assert f'id="held-{pk}"' in client.get("/console/quarantine/").text
    n = 12
    replies: list[Reply] = live.race(n, lambda i: post(client, f"/console/quarantine/{pk}/release/"))
    assert [r.status for r in replies] == [302] * n
    status, ticket_id, tickets, released = state(live, pk, subject)
    assert status == "ticket"
    assert ticket_id is not None
    assert (tickets, released) == (1, 1)
    assert f'id="held-{pk}"' not in client.get("/console/quarantine/").text


def test_releases_and_discards_racing_end_in_one_outcome(live: LiveDesk) -> None:
    subject = "Quarantine release or discard race"
    pk = held(live, subject, "<discard-race@live.test>")
    client = signed_in(live)
    n = 12
    replies: list[Reply] = live.race(
        n, lambda i: post(client, f"/console/quarantine/{pk}/{'release' if i % 2 else 'discard'}/")
    )
    assert [r.status for r in replies] == [302] * n
    status, ticket_id, tickets, released = state(live, pk, subject)
    if status == "ticket":
        assert ticket_id is not None
        assert (tickets, released) == (1, 1)
    else:
        assert status == "ignored"
        assert (ticket_id, tickets, released) == (None, 0, 0)

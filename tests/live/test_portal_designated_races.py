"""An organization's ticket answered at the same moment, in the portal, by its requester and by
the organization's designated contact, at a live server on SQLite and on PostgreSQL: every reply
is kept, each under its author's name and in the audit trail as theirs (via the portal), and
"Close request" pressed by both at once from pages drawn at one version closes it once, the
other told it changed (409) — never a 500."""

from __future__ import annotations

import uuid

from live import LIVE
from live.server import LiveDesk
from live.test_portal_races import TICKET, post, shell, signed_in

pytestmark = LIVE

DESIGNATE = (
    "from django.utils import timezone; from sportello.accounts.models import User; "
    "from sportello.contacts.models import Contact; from sportello.portal import services; "
    "services.designated_set(contact=Contact.objects.get(pk={pk}), designated=True, "
    "actor=User.objects.filter(role='admin').first(), now=timezone.now()); print('null')"
)
AUTHORS = (
    "import json; from sportello.tickets.models import Message, TicketEvent as E; "
    "ms = Message.objects.filter(ticket_id={pk}, body_text__startswith='Reply '); "
    "es = E.objects.filter(ticket_id={pk}, kind='message', actor_kind='contact', via='portal'); "
    "print(json.dumps([sorted([m.body_text, m.author_contact_id, m.via] for m in ms), "
    "sorted(es.values_list('actor_id', flat=True))]))"
)


def test_the_requester_and_the_designated_contact_reply_and_close_at_once(live: LiveDesk) -> None:
    # given an organization, its requester Rita and its designated contact Dina
    domain = f"org-{uuid.uuid4().hex[:6]}.test"
    made = live.post("/organizations", {"name": domain, "domains": [domain]}, as_="admin")
    assert made.status == 201, made
    rita, dina = live.contact(f"rita@{domain}"), live.contact(f"dina@{domain}")
    assert rita["organization_id"] == dina["organization_id"] == made.body["id"]
    shell(live, DESIGNATE.format(pk=dina["id"]))
    ticket = live.open_ticket(subject="Organization race", requester_id=rita["id"])
    number, _category, _version, _moves = shell(live, TICKET.format(pk=ticket["id"]))
    requester, designated = signed_in(live, rita["email"]), signed_in(live, dina["email"])
    for c in (requester, designated):
        assert c.get(f"/portal/tickets/{number}/").status_code == 200
    # when both reply at the same moment, several times
    n = 8
    authors = [rita["id"], dina["id"]]
    replies = live.race(
        n,
        lambda i: post((requester, designated)[i % 2], f"/portal/tickets/{number}/", {"body": f"Reply {i}"}),
    )
    # then every reply is kept, each its author's, in the audit trail too
    assert [r.status for r in replies] == [302] * n
    messages, actors = shell(live, AUTHORS.format(pk=ticket["id"]))
    assert messages == sorted([f"Reply {i}", authors[i % 2], "portal"] for i in range(n))
    assert actors == sorted(authors[i % 2] for i in range(n))
    # and "Close request" pressed by both at once closes it once
    _n, _c, version, _m = shell(live, TICKET.format(pk=ticket["id"]))
    closes = live.race(
        2,
        lambda i: post(
            (requester, designated)[i], f"/portal/tickets/{number}/close/", {"version": str(version)}
        ),
    )
    assert sorted(r.status for r in closes) == [302, 409], [r.status for r in closes]
    _n, category, after, moves = shell(live, TICKET.format(pk=ticket["id"]))
    assert (category, after, moves) == ("solved", version + 1, 1)

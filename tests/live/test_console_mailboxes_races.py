"""The Console's mailboxes and test webhooks at a live server, on SQLite and on PostgreSQL, under
requests fired at once: one mailbox per address however many admins create it (the others told
the address is taken, 409, never a 500); many saves of one mailbox drawn from the same form, one
kept and the others refused as stale (409); test deliveries sent at once each queued once, and
one delivered to a receiver on 127.0.0.1 with a signature made with the secret's value."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply
from outbox.hook_server import running_hook

from .test_me_races import post, shell, signed_in

pytestmark = LIVE

READ_MAILBOXES = (
    "import json; from sportello.channels.models import Mailbox as M; "
    "print(json.dumps([[m.pk, m.address, m.imap_folder, m.active] "
    "for m in M.objects.filter(address__startswith='{prefix}').order_by('pk')]))"
)
FINGERPRINT = (
    "import json; from sportello.channels.models import Mailbox as M; "
    "from sportello.channels.mailboxes import mailbox_fingerprint as f; "
    "print(json.dumps([[f(M.objects.get(pk={pk}))]]))"
)
DEACTIVATE = (
    "from sportello.channels.models import Mailbox as M; "
    "M.objects.filter(address__startswith='{prefix}').update(active=False); print('[]')"
)
READ_TESTS = (
    "import json; from sportello.outbox.models import OutboxMessage as O; "
    "print(json.dumps([[o.pk, str(o.delivery_id), o.status, o.attempts, o.payload['url'], "
    "o.payload['secret_ref']] "
    "for o in O.objects.filter(dedupe_key__startswith='webhook-test:', payload__url__startswith='{url}')"
    ".order_by('pk')]))"
)
MAKE_SECRET = (
    "import json; from sportello.accounts.models import User as U; from sportello.core import clock; "
    "from sportello.outbox.secrets import secret_create; "
    "row, value = secret_create(actor=U.objects.get(email='admin@live.test'), name='{name}', "
    "now=clock.now()); "
    "print(json.dumps([[value]]))"
)
# The live server refuses loopback destinations (as production does): the attempt is made here,
# by the same code the worker runs, with 127.0.0.1 allowed.
DELIVER = (
    "import json; from django.conf import settings; from sportello.outbox.services import outbox_deliver; "
    "settings.SPORTELLO = {{**settings.SPORTELLO, 'WEBHOOK_ALLOW': ['127.0.0.1']}}; "
    "print(json.dumps([[outbox_deliver(outbox_id={pk})]]))"
)


def mailbox_form(live: LiveDesk, address: str, **over: str) -> dict[str, str]:
    return {
        "address": address,
        "department": str(live.departments["billing"]),
        "imap_host": "",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_username": "",
        "imap_password": "",
        "imap_folder": "INBOX",
        **over,
    }


def test_a_mailbox_is_created_once_and_one_of_many_stale_saves_is_kept(live: LiveDesk) -> None:
    client = signed_in(live)
    prefix = "race-box"
    n = 10
    # when many admins create the same address at once
    made: list[Reply] = live.race(
        n, lambda i: post(client, "/console/mailboxes/new/", mailbox_form(live, f"{prefix}@live.test"))
    )
    statuses = sorted(r.status for r in made)
    # then one is created, the others are told it exists (409)
    assert statuses == [302] + [409] * (n - 1), statuses
    assert all("A mailbox for this address exists already." in r.body for r in made if r.status == 409)
    [[pk, address, folder, active]] = shell(live, READ_MAILBOXES.format(prefix=prefix))
    assert (address, folder, active) == (f"{prefix}@live.test", "INBOX", True)
    # given many forms drawn from that mailbox as it is now
    [[seen]] = shell(live, FINGERPRINT.format(pk=pk))
    # when all are saved at once, each with a folder of its own
    saves: list[Reply] = live.race(
        n,
        lambda i: post(
            client,
            f"/console/mailboxes/{pk}/",
            mailbox_form(live, f"{prefix}@live.test", imap_folder=f"Folder{i}", expected=seen),
        ),
    )
    # then one is kept, the others are refused as stale, nothing in between
    codes = [r.status for r in saves]
    assert sorted(codes) == [302] + [409] * (n - 1), codes
    winner = codes.index(302)
    assert all("Someone else changed this mailbox" in r.body for r in saves if r.status == 409)
    [[_, _, folder, _]] = shell(live, READ_MAILBOXES.format(prefix=prefix))
    assert folder == f"Folder{winner}"
    shell(live, DEACTIVATE.format(prefix=prefix))


def test_test_deliveries_sent_at_once_are_each_queued_once_and_arrive_signed(live: LiveDesk) -> None:
    client = signed_in(live)
    [[value]] = shell(live, MAKE_SECRET.format(name="live-test-hook"))
    with running_hook() as hook:
        url = hook.url()
        n = 6
        # when an admin's test deliveries are sent at once
        sent: list[Reply] = live.race(
            n, lambda i: post(client, "/console/webhooks/test/", {"url": url, "secret": "live-test-hook"})
        )
        assert [r.status for r in sent] == [302] * n
        rows = shell(live, READ_TESTS.format(url=url))
        # then each is one pending delivery, naming the secret
        assert len(rows) == n
        assert {(r[2], r[3], r[4], r[5]) for r in rows} == {("pending", 0, url, "live-test-hook")}
        assert len({r[1] for r in rows}) == n
        # and once attempted, the receiver gets it signed with the secret's value
        pk, delivery_id = rows[0][0], rows[0][1]
        assert shell(live, DELIVER.format(pk=pk)) == [["sent"]]
        [headers] = hook.seen
        [body] = hook.bodies
        ts = headers["x-sportello-timestamp"]
        mac = hmac.new(value.encode(), f"{delivery_id}.{ts}.".encode() + body, hashlib.sha256)
        assert headers["x-sportello-signature"] == f"sha256={mac.hexdigest()}"
        assert headers["x-sportello-delivery"] == delivery_id
        payload: dict[str, Any] = json.loads(body)
        assert (payload["event"], payload["test"], payload["sent_by"]) == ("ping", True, "admin@live.test")
        # and the page shows it sent
        status = client.get(f"/console/webhooks/deliveries/{pk}/status/").text
        assert "Delivered after 1 attempt" in status

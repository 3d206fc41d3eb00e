"""The Console's webhooks at a live server, on SQLite and on PostgreSQL: a parked delivery
retried by many requests at once is queued again once; a signing secret created by many
requests at once exists once, the others told the name is taken (never a 500)."""

from __future__ import annotations

import json
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

PARK = (
    "from sportello.outbox.models import OutboxMessage as O; from sportello.core import clock; "
    "o = O.objects.create(kind='webhook', destination='https://hooks.example.test:443', dedupe_key='race-1', "
    "payload={'url': 'https://hooks.example.test/in'}, status='parked', attempts=9, "
    "next_attempt_at=clock.now(), created_at=clock.now(), parked_at=clock.now()); print(o.pk)"
)
READ = (
    "import json; from sportello.outbox.models import OutboxMessage as O, WebhookSecret as S; "
    "o = O.objects.get(pk={pk}); print(json.dumps([o.status, o.attempts, o.parked_at is None, "
    "S.objects.filter(name='race-secret').count()]))"
)


def state(live: LiveDesk, pk: int) -> list[Any]:
    out = live.server.manage("shell", "-c", READ.format(pk=pk))
    row: list[Any] = json.loads(out.strip().splitlines()[-1])
    return row


def test_a_parked_delivery_retried_at_once_is_queued_once_and_a_secret_made_once(live: LiveDesk) -> None:
    pk = int(live.server.manage("shell", "-c", PARK).strip().splitlines()[-1])
    client = signed_in(live)
    assert f'id="delivery-{pk}"' in client.get("/console/webhooks/?status=parked").text
    n = 12
    replies: list[Reply] = live.race(n, lambda i: post(client, f"/console/webhooks/deliveries/{pk}/retry/"))
    assert [r.status for r in replies] == [302] * n
    status, attempts, unparked, _ = state(live, pk)
    assert status != "parked"
    assert attempts >= 9
    assert unparked
    made: list[Reply] = live.race(
        n, lambda i: post(client, "/console/webhooks/secrets/", {"name": "race-secret"})
    )
    statuses = sorted(r.status for r in made)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 422}
    assert state(live, pk)[3] == 1

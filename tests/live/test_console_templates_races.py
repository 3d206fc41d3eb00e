"""The Console's notification template editor at a live server, on SQLite and on PostgreSQL:
twelve saves of one template from editors opened before any of them (the same text) write one
version; the others are told it changed meanwhile (409) or wrote nothing — never a 500."""

from __future__ import annotations

import json
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

READ = (
    "import json; from sportello.notifications.models import NotificationTemplate as T, "
    "NotificationTemplateVersion as V; t = T.objects.filter(key='ticket_received', language='it').first(); "
    "print(json.dumps([t.subject if t else None, t.version if t else None, "
    "V.objects.filter(key='ticket_received', language='it').count()]))"
)


def test_saves_of_one_template_at_once_write_one_version(live: LiveDesk) -> None:
    client = signed_in(live)
    page = client.get("/console/templates/ticket_received/it/")
    assert page.status_code == 200
    assert 'name="version" value=""' in page.text
    texts = {
        "subject": "Ricevuto #{{ ticket.number }}",
        "body_text": "Grazie.",
        "body_html": "",
        "version": "",
    }
    n = 12
    replies: list[Reply] = live.race(
        n, lambda i: post(client, "/console/templates/ticket_received/it/", texts)
    )
    statuses = sorted(r.status for r in replies)
    assert set(statuses) <= {302, 409}, statuses
    assert 302 in statuses
    out = live.server.manage("shell", "-c", READ)
    state: list[Any] = json.loads(out.strip().splitlines()[-1])
    assert state == ["Ricevuto #{{ ticket.number }}", 1, 1]

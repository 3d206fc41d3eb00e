"""The API's rate-limit count under concurrent requests, at a live server on SQLite and on
PostgreSQL: requests with the same token at once are each counted once (on PostgreSQL the count
commits without waiting for its log to reach the disk; it must still be exact), and the
requests' own writes stay durable and whole."""

from __future__ import annotations

import json
import secrets
import time

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE

LIMIT = 600  # the server's default (`SPORTELLO_API_RATE_LIMIT`)
WINDOW = 60  # seconds

READ_WINDOWS = (
    "import json, hashlib; from sportello.core.models import RateWindow as W; "
    "key = 'token:' + hashlib.sha256({secret!r}.encode()).hexdigest(); "
    "print(json.dumps([w.count for w in W.objects.filter(key=key).order_by('window_start')]))"
)


def _clear_of_a_window_edge(margin: float = 8.0) -> None:
    """Wait until the current fixed window has at least `margin` seconds left, so that a race
    falls in one window."""
    left = WINDOW - time.time() % WINDOW
    if left < margin:
        time.sleep(left + 0.5)


def test_requests_with_one_token_at_once_are_each_counted_once(live: LiveDesk) -> None:
    # given a token no one has used (unknown tokens are counted too: guessing is limited)
    secret = f"spt_race_{secrets.token_hex(8)}"
    headers = {"Authorization": f"Bearer {secret}"}
    _clear_of_a_window_edge()
    # when 24 requests carry it at once
    n = 24

    def ask(i: int) -> Reply:
        r = httpx.get(f"{live.api}/tickets", headers=headers, timeout=60)
        return Reply(r.status_code, r.headers.get("X-RateLimit-Remaining"))

    replies = live.race(n, ask)
    # then each was refused as unknown, and each saw its own place in the count
    assert [r.status for r in replies] == [401] * n
    assert sorted(int(r.body) for r in replies) == list(range(LIMIT - n, LIMIT))
    # and the stored count is all of them
    out = live.server.manage("shell", "-c", READ_WINDOWS.format(secret=secret))
    assert json.loads(out.strip().splitlines()[-1]) == [n]


def test_writes_counted_at_once_are_all_kept(live: LiveDesk) -> None:
    # when an agent creates twelve tickets at once (each request counted first, on its own)
    n = 12
    subjects = [f"Counted race {secrets.token_hex(4)} {i}" for i in range(n)]
    _clear_of_a_window_edge()
    replies = live.race(
        n,
        lambda i: live.post(
            "/tickets",
            {
                "subject": subjects[i],
                "description": "Counted.",
                "department_id": live.departments["support"],
                "requester_id": live.customer["id"],
            },
        ),
    )
    # then every ticket was created, once, and reads back whole
    assert [r.status for r in replies] == [201] * n
    assert len({r.body["number"] for r in replies}) == n
    for subject, reply in zip(subjects, replies, strict=True):
        found = live.get(f"/tickets/{reply.body['id']}")
        assert (found.status, found.body["subject"]) == (200, subject)

"""A webhook receiver on 127.0.0.1 for the channel tests (the fixture `hook` is in conftest.py):
it records each request's headers (lower-cased names) and body, and answers with the statuses
queued in `answers` (200 once they run out); and an outbox item for a webhook."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sportello.outbox.models import OutboxMessage
from sportello.outbox.services import outbox_add
from testing import NOW


class Hook:
    def __init__(self) -> None:
        self.answers: list[int] = []
        self.seen: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        self.port = 0

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?token=t0p"


@contextmanager
def running_hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.seen.append({k.lower(): v for k, v in self.headers.items()})
            state.bodies.append(body)
            self.send_response(state.answers.pop(0) if state.answers else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def add_webhook(url: str, *, secret_ref: str | None = None, key: str = "wh:1") -> OutboxMessage:
    return outbox_add(
        kind="webhook",
        ticket=None,
        change_id=None,
        dedupe_key=key,
        payload={"url": url, "body": '{"ticket": 7}', "secret_ref": secret_ref, "headers": {}},
        now=NOW,
    )

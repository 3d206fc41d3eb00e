"""A slow or dead destination cannot starve the others: e-mail and webhooks wait in queues of
their own, claimed in turn; a failing webhook destination holds back only its own deliveries,
and a busy one has a bounded number of attempts in flight.

Receivers run on 127.0.0.1; every wait is bounded (short per-attempt timeouts set here), and
the assertions count attempts, never durations.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django_tasks_db.models import DBTaskResult

from sportello.core import worker as worker_mod
from sportello.core.worker import Runner
from sportello.outbox import services
from sportello.outbox.jobs import deliver_outbox
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.services import outbox_add, outbox_deliver
from testing import NOW


class Hanging:
    """A receiver that accepts connections and never answers (until the test ends)."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.accepted = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self.events.append("hook")
            self._open.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in [*self._open, self._sock]:
            with contextlib.suppress(OSError):
                conn.close()


class Answering:
    """A receiver that answers 200 to every POST."""

    def __init__(self, events: list[str]) -> None:
        state = self
        self.events = events
        self.received: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                state.received.append(self.headers["X-Sportello-Delivery"])
                state.events.append("ok-hook")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def events(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happened, in order: "hook" (a connection to the hanging receiver), "ok-hook", "mail"
    (an e-mail handed to the mail backend). Attempts are bounded to a fraction of a second."""
    log: list[str] = []
    settings.SPORTELLO = {
        **settings.SPORTELLO,
        "WEBHOOK_ALLOW": ["127.0.0.1"],
        "WEBHOOK_CONNECT_TIMEOUT": 0.3,
        "WEBHOOK_TOTAL_TIMEOUT": 0.3,
        "OUTBOX_MAX_ATTEMPTS": 4,
        "OUTBOX_RETRY_BASE": 0.01,  # retries are due again at once
        "OUTBOX_RETRY_CAP": 0.01,
    }
    send = EmailMessage.send

    def logged_send(self: EmailMessage, fail_silently: bool = False, **kwargs: Any) -> int:
        log.append("mail")
        return send(self, fail_silently, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", logged_send)
    monkeypatch.setattr(worker_mod, "_POLLERS", {})
    monkeypatch.setattr(worker_mod, "TASKS_PER_ROUND", 1)  # the test looks after every task
    return log


@pytest.fixture
def hanging(events: list[str]) -> Iterator[Hanging]:
    receiver = Hanging(events)
    yield receiver
    receiver.close()


@pytest.fixture
def answering(events: list[str]) -> Iterator[Answering]:
    receiver = Answering(events)
    yield receiver
    receiver.close()


def add_webhook(key: str, url: str) -> OutboxMessage:
    return outbox_add(
        kind="webhook",
        ticket=None,
        change_id=None,
        dedupe_key=key,
        payload={"url": url, "body": '{"ticket": 7}', "headers": {}},
        now=NOW,
    )


def add_email(key: str) -> OutboxMessage:
    return outbox_add(
        kind="email",
        ticket=None,
        change_id=None,
        dedupe_key=key,
        payload={"to": ["alice@acme.test"], "subject": "Ack", "body": "We got it"},
        now=NOW,
    )


def run_until(runner: Runner, done: Any, *, max_tasks: int = 200) -> None:
    """Run the worker one task at a time until `done()` or `max_tasks` tasks were run."""
    for _ in range(max_tasks):
        if done():
            return
        ran, empty, _ = runner.run_once()
        if not ran and empty:
            return


def test_emails_are_not_held_up_by_webhooks_to_a_receiver_that_hangs(
    db: Any, events: list[str], hanging: Hanging
) -> None:
    # given eight webhooks to a receiver that never answers, then ten acknowledgements by mail
    hooks = [add_webhook(f"wh:{i}", f"http://127.0.0.1:{hanging.port}/hook") for i in range(8)]
    acks = [add_email(f"ack:{i}") for i in range(10)]
    # when one worker runs until the ten mails are sent
    runner = Runner(heartbeat_thread=False, interval=0.01)
    run_until(runner, lambda: len(mail.outbox) == 10)
    # then every mail went out once, and mails and webhook attempts took turns: a mail waited for
    # at most one webhook attempt (not for every attempt of every webhook, retries included)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@acme.test"] * 10
    assert set(
        OutboxMessage.objects.filter(pk__in=[a.pk for a in acks]).values_list("status", flat=True)
    ) == {OutboxStatus.SENT}
    last_mail = len(events) - events[::-1].index("mail")
    runs = "".join("h" if e == "hook" else "m" for e in events[:last_mail]).split("m")
    assert max(len(r) for r in runs) == 1
    assert events[:last_mail].count("mail") == 10
    # and no webhook was lost: each still waits for its next attempt
    assert set(
        OutboxMessage.objects.filter(pk__in=[h.pk for h in hooks]).values_list("status", flat=True)
    ) == {OutboxStatus.PENDING}


def test_a_failing_destination_holds_back_only_its_own_deliveries(
    db: Any, events: list[str], hanging: Hanging, answering: Answering, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a minute between attempts, eight webhooks to a receiver that hangs, then four to
    # another destination that answers
    monkeypatch.setattr(services, "retry_delay", lambda **_: timedelta(seconds=60))
    dead = [add_webhook(f"dead:{i}", f"http://127.0.0.1:{hanging.port}/hook") for i in range(8)]
    alive = [add_webhook(f"alive:{i}", f"http://127.0.0.1:{answering.port}/in") for i in range(4)]
    # when one worker runs until the four are delivered
    runner = Runner(heartbeat_thread=False, interval=0.01)
    run_until(runner, lambda: len(answering.received) == 4)
    # then they were, and the dead destination took one attempt: the destinations took turns,
    # and the dead one's deliveries claimed meanwhile wait for its next attempt without spending
    # any of theirs (the other four were not claimed yet)
    assert sorted(answering.received) == sorted(str(a.delivery_id) for a in alive)
    assert hanging.accepted == 1
    rows = OutboxMessage.objects.filter(pk__in=[d.pk for d in dead]).order_by("id")
    first, *rest = rows
    assert (first.status, first.attempts, first.last_error) == (
        OutboxStatus.PENDING,
        1,
        "timed out after 0.3s",
    )
    assert [(r.status, r.attempts, r.next_attempt_at) for r in rest] == [
        (OutboxStatus.PENDING, 0, first.next_attempt_at)
    ] * 3 + [(OutboxStatus.PENDING, 0, NOW)] * 4


def test_destinations_take_turns_so_a_backlog_to_one_does_not_hold_up_another(
    db: Any, events: list[str], answering: Answering
) -> None:
    # given six webhooks to one receiver, then two to another
    other = Answering([])
    try:
        busy = [add_webhook(f"busy:{i}", f"http://127.0.0.1:{answering.port}/in") for i in range(6)]
        quiet = [add_webhook(f"quiet:{i}", f"http://127.0.0.1:{other.port}/in") for i in range(2)]
        # when one worker runs until the second receiver has both
        runner = Runner(heartbeat_thread=False, interval=0.01)
        run_until(runner, lambda: len(other.received) == 2)
    finally:
        other.close()
    # then the destinations took turns: the second's two went out among the first four
    # deliveries, not after the first's six
    assert sorted(other.received) == sorted(str(q.delivery_id) for q in quiet)
    assert len(answering.received) == 2
    assert answering.received == [str(b.delivery_id) for b in busy[:2]]


def test_a_destination_with_its_attempts_in_flight_makes_the_next_delivery_wait(
    db: Any, events: list[str], answering: Answering, settings: Any
) -> None:
    # given two attempts in flight to a destination (the bound), a third delivery to it and one
    # to another destination
    settings.SPORTELLO = {**settings.SPORTELLO, "WEBHOOK_MAX_IN_FLIGHT": 2, "WEBHOOK_TOTAL_TIMEOUT": 10.0}
    busy_url = "https://hooks.example.test/in"
    a, b, c = (add_webhook(f"busy:{i}", busy_url) for i in range(3))
    other = add_webhook("other", f"http://127.0.0.1:{answering.port}/in")
    OutboxMessage.objects.filter(pk=a.pk).update(attempts=1, lease_until=NOW + timedelta(seconds=5))
    OutboxMessage.objects.filter(pk=b.pk).update(attempts=1, lease_until=NOW + timedelta(seconds=90))
    # when the third and the other are delivered
    assert outbox_deliver(outbox_id=c.pk, now=NOW) == OutboxStatus.PENDING
    assert outbox_deliver(outbox_id=other.pk, now=NOW) == OutboxStatus.SENT
    # then the third spent no attempt and waits until the first attempt in flight ends, in the
    # webhook queue; the other destination was not held up
    c.refresh_from_db()
    assert (c.attempts, c.lease_until, c.next_attempt_at) == (0, None, NOW + timedelta(seconds=5))
    job = DBTaskResult.objects.filter(
        task_path=deliver_outbox.module_path, args_kwargs__kwargs__outbox_id=c.pk
    ).latest("enqueued_at")
    assert (job.queue_name, job.run_after) == ("webhook", NOW + timedelta(seconds=5))
    assert answering.received == [str(other.delivery_id)]


def test_each_kind_of_delivery_is_queued_in_its_own_queue(db: Any) -> None:
    hook = add_webhook("q:hook", "https://hooks.example.test/in")
    ack = add_email("q:mail")
    queues = dict(
        DBTaskResult.objects.filter(task_path=deliver_outbox.module_path).values_list(
            "args_kwargs__kwargs__outbox_id", "queue_name"
        )
    )
    assert queues == {hook.pk: "webhook", ack.pk: "email"}
    assert (hook.destination, ack.destination) == ("https://hooks.example.test:443", "")


def test_the_upgrade_gives_waiting_webhooks_their_destination(db: Any) -> None:
    # given webhooks queued before destinations were recorded: one waiting, one sent, one with a
    # URL that is not http(s)
    import pkgutil
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    import sportello.channels.migrations as migrations

    [name] = [
        m.name
        for m in pkgutil.iter_modules(migrations.__path__)
        if m.name.endswith("_outbox_destination_lease_owner_parking")
    ]
    migration = import_module(f"{migrations.__name__}.{name}")
    # the models as that migration knows them (they have since moved to the app `outbox`)
    apps = MigrationLoader(connection).project_state(("channels", name)).apps
    waiting = add_webhook("old:waiting", "https://Hooks.Example.test:8443/in?x=1")
    sent = add_webhook("old:sent", "https://hooks.example.test/in")
    odd = add_webhook("old:odd", "ftp://files.example.test/in")
    OutboxMessage.objects.update(destination="")
    OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxStatus.SENT)
    # when the migration's data step runs
    migration.fill_destinations(apps, None)
    # then only the waiting one has its destination
    assert dict(OutboxMessage.objects.values_list("pk", "destination")) == {
        waiting.pk: "https://hooks.example.test:8443",
        sent.pk: "",
        odd.pk: "",
    }

"""A test webhook (`outbox.services.webhook_test_send`): admins queue a real delivery through the
outbox, signed with a named secret; a receiver on 127.0.0.1 gets it once with a valid signature;
a failing receiver sees it retried like any delivery; bad input is refused and queues nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest

from outbox.hook_server import Hook
from sportello.core.errors import NotFound, PermissionDenied, ValidationFailed
from sportello.outbox.models import OutboxMessage, OutboxStatus, WebhookSecret
from sportello.outbox.secrets import seal
from sportello.outbox.selectors import webhook_delivery
from sportello.outbox.services import outbox_deliver, webhook_test_send
from testing import NOW


def test_a_test_delivery_reaches_the_receiver_signed(desk: Any, hook: Hook) -> None:
    # given a signing secret
    WebhookSecret.objects.create(name="crm", secret=seal("s3cret-value-123"), created_at=NOW)
    # when an admin sends a test delivery naming it, and the worker delivers it
    item = webhook_test_send(
        actor=desk.admin, url=hook.url(), secret_ref="crm", event="ticket.created", now=NOW
    )
    assert (item.kind, item.status, item.destination) == (
        "webhook",
        OutboxStatus.PENDING,
        f"http://127.0.0.1:{hook.port}",
    )
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    # then the receiver got it once, with a signature it can check with the secret
    [headers] = hook.seen
    [body] = hook.bodies
    ts = headers["x-sportello-timestamp"]
    mac = hmac.new(b"s3cret-value-123", f"{item.delivery_id}.{ts}.".encode() + body, hashlib.sha256)
    assert headers["x-sportello-signature"] == f"sha256={mac.hexdigest()}"
    assert headers["x-sportello-test"] == "1"
    assert json.loads(body) == {
        "event": "ticket.created", "test": True, "sent_at": NOW.isoformat(), "sent_by": desk.admin.email,
    }  # fmt: skip
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_error) == (OutboxStatus.SENT, 1, "")
    assert webhook_delivery(principal=desk.admin, outbox_id=item.pk).pk == item.pk


def test_a_test_delivery_without_secret_or_event_is_an_unsigned_ping(desk: Any, hook: Hook) -> None:
    item = webhook_test_send(actor=desk.admin, url=hook.url(), secret_ref="", now=NOW)
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.SENT
    [headers] = hook.seen
    assert "x-sportello-signature" not in headers
    assert json.loads(hook.bodies[0])["event"] == "ping"


def test_a_failing_receiver_sees_the_test_delivery_retried(desk: Any, hook: Hook) -> None:
    # given a receiver that answers 503 first
    hook.answers = [503]
    item = webhook_test_send(actor=desk.admin, url=hook.url(), secret_ref=None, now=NOW)
    # when delivered: the first attempt fails and is scheduled again
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.PENDING
    item.refresh_from_db()
    assert (item.attempts, item.last_error) == (1, "HTTP 503")
    # then the retry, when due, goes through under the same delivery id
    assert (
        outbox_deliver(outbox_id=item.pk, now=item.next_attempt_at + timedelta(seconds=1))
        == OutboxStatus.SENT
    )
    assert [h["x-sportello-delivery"] for h in hook.seen] == [str(item.delivery_id)] * 2


@pytest.mark.parametrize(
    ("url", "secret", "event", "field"),
    [
        ("ftp://hooks.example.test/x", None, "", "url"),
        ("https://user:pw@hooks.example.test/x", None, "", "url"),
        ("not a url", None, "", "url"),
        ("https://hooks.example.test/x", "missing", "", "secret_ref"),
        ("https://hooks.example.test/x", None, "Bad Event!", "event"),
    ],
)
def test_bad_input_is_refused_and_queues_nothing(
    desk: Any, url: str, secret: str | None, event: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        webhook_test_send(actor=desk.admin, url=url, secret_ref=secret, event=event, now=NOW)
    assert refused.value.field == field
    assert not OutboxMessage.objects.exists()


def test_only_admins_send_test_deliveries(desk: Any) -> None:
    for who in (desk.agent, desk.light, None):
        with pytest.raises(PermissionDenied):
            webhook_test_send(actor=who, url="https://hooks.example.test/x", secret_ref=None, now=NOW)
    assert not OutboxMessage.objects.exists()
    with pytest.raises(NotFound):
        webhook_delivery(principal=desk.admin, outbox_id=999)

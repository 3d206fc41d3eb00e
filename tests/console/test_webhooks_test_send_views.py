"""The webhooks page's test delivery: admins only; a valid form queues one signed delivery through
the outbox and shows its status (polled while pending) and its row in the log; a refused form
keeps what was typed with the error next to its field and queues nothing; the page with a test's
status costs one statement more, whatever the log holds."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.secrets import secret_create
from sportello.outbox.services import outbox_deliver, webhook_test_send
from testing import NOW

# session, user, the secrets, the page's deliveries, the test delivery
WITH_TEST = 5
URL = "https://hooks.example.test/sportello"


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def test_only_admins_send_a_test_delivery(desk: Any, browser: Any, client: Any) -> None:
    assert "/login/" in client.post("/console/webhooks/test/", {"url": URL})["Location"]
    for who in (desk.agent, desk.light):
        assert browser(who).post("/console/webhooks/test/", {"url": URL}).status_code == 403
        assert browser(who).get("/console/webhooks/deliveries/1/status/").status_code == 403
    assert not OutboxMessage.objects.exists()


def test_a_test_delivery_is_queued_signed_and_its_status_shown(desk: Any, browser: Any) -> None:
    # given a signing secret
    secret_create(actor=desk.admin, name="crm", now=NOW)
    client = browser(desk.admin)
    # when the admin sends a test delivery naming it
    reply = client.post("/console/webhooks/test/", {"url": URL, "secret": "crm", "event": "ticket.created"})
    # then one webhook is queued, naming the secret
    item = OutboxMessage.objects.get()
    assert (item.kind, item.status, item.payload["url"], item.payload["secret_ref"]) == (
        "webhook",
        OutboxStatus.PENDING,
        URL,
        "crm",
    )
    assert reply.status_code == 302
    assert reply["Location"] == f"/console/webhooks/?test={item.pk}#test-status"
    # and the page shows its status, polled while pending, and its row in the log
    page = client.get(f"/console/webhooks/?test={item.pk}").content.decode()
    assert f'hx-get="/console/webhooks/deliveries/{item.pk}/status/" hx-trigger="every 2s"' in page
    assert "Waiting for its first attempt" in page
    assert f'id="delivery-{item.pk}"' in page
    assert f'href="#delivery-{item.pk}"' in page


def test_the_status_stops_polling_once_attempted(desk: Any, browser: Any, settings: Any) -> None:
    settings.SPORTELLO = {**settings.SPORTELLO, "WEBHOOK_ALLOW": []}
    item = webhook_test_send(actor=desk.admin, url="http://127.0.0.1:9/x", secret_ref=None, now=NOW)
    outbox_deliver(outbox_id=item.pk, now=NOW)  # refused: a loopback address is not allowed
    status = browser(desk.admin).get(f"/console/webhooks/deliveries/{item.pk}/status/").content.decode()
    assert "hx-get" not in status
    assert f'<tr id="delivery-{item.pk}" hx-swap-oob="true">' in status
    assert "Failed" in status
    assert "loopback" in status
    assert browser(desk.admin).get("/console/webhooks/deliveries/999/status/").status_code == 404


def test_a_refused_test_keeps_what_was_typed(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    bad_url = client.post("/console/webhooks/test/", {"url": "ftp://x.test/in", "event": "my.event"})
    page = bad_url.content.decode()
    assert bad_url.status_code == 422
    assert 'id="test-url-error"' in page
    assert 'value="ftp://x.test/in"' in page
    assert 'value="my.event"' in page
    gone = client.post("/console/webhooks/test/", {"url": URL, "secret": "missing"})
    assert 'id="test-secret-error"' in gone.content.decode()
    bad_event = client.post("/console/webhooks/test/", {"url": URL, "event": "Not OK"})
    assert 'id="test-event-error"' in bad_event.content.decode()
    assert not OutboxMessage.objects.exists()


def test_the_page_with_a_test_status_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    item = webhook_test_send(actor=desk.admin, url=URL, secret_ref=None, now=NOW)
    few = count(lambda: client.get(f"/console/webhooks/?test={item.pk}"))
    for _ in range(5):
        webhook_test_send(actor=desk.admin, url=URL, secret_ref=None, now=NOW)
    many = count(lambda: client.get(f"/console/webhooks/?test={item.pk}"))
    assert few == many == WITH_TEST

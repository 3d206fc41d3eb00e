"""The Console's webhooks: admins only; signing secrets created (the value shown once, never
listed) and rotated; the delivery log by status at a fixed statement count; a parked delivery
retried, one no longer parked left as it is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.outbox.models import OutboxMessage, OutboxStatus, WebhookSecret
from sportello.outbox.secrets import secret_create, unseal
from testing import NOW

# session, user, the secrets, the page's deliveries
WEBHOOKS = 4


def count(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(
        [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    )


def delivery(i: int, status: str = OutboxStatus.SENT, **kw: Any) -> OutboxMessage:
    return OutboxMessage.objects.create(
        kind="webhook", destination="https://hooks.example.test:443", dedupe_key=f"d{i}",
        payload={"url": "https://hooks.example.test/in"}, status=status, next_attempt_at=NOW,
        created_at=NOW + timedelta(minutes=i), **kw,
    )  # fmt: skip


def test_only_admins_reach_the_webhooks(desk: Any, browser: Any, client: Any) -> None:
    assert "/login/" in client.get("/console/webhooks/")["Location"]
    for who in (desk.agent, desk.light):
        assert browser(who).get("/console/webhooks/").status_code == 403
        assert browser(who).post("/console/webhooks/secrets/", {"name": "crm"}).status_code == 403
    assert browser(desk.admin).get("/console/webhooks/").status_code == 200
    assert not WebhookSecret.objects.exists()


def test_a_secret_is_shown_once_when_created_and_when_rotated(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    reply = client.post("/console/webhooks/secrets/", {"name": "crm"})
    assert reply.status_code == 200
    assert "no-store" in reply["Cache-Control"] or "max-age=0" in reply["Cache-Control"]
    row = WebhookSecret.objects.get(name="crm")
    value = unseal(row.secret)
    assert f'<code id="secret-value" class="webhook-secret-value">{value}</code>' in reply.content.decode()
    listed = client.get("/console/webhooks/").content.decode()
    assert 'id="secret-crm"' in listed
    assert value not in listed
    rotated = client.post("/console/webhooks/secrets/crm/rotate/").content.decode()
    row.refresh_from_db()
    assert row.version == 2
    assert unseal(row.secret) in rotated
    assert unseal(row.previous) == value
    assert client.post("/console/webhooks/secrets/nope/rotate/").status_code == 302


def test_a_bad_or_taken_name_is_refused_next_to_the_field(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    secret_create(actor=desk.admin, name="crm", now=NOW)
    taken = client.post("/console/webhooks/secrets/", {"name": "crm"})
    assert taken.status_code == 422
    assert 'id="secret-name-error"' in taken.content.decode()
    bad = client.post("/console/webhooks/secrets/", {"name": "Not OK!"})
    assert bad.status_code == 422
    assert 'value="Not OK!"' in bad.content.decode()
    assert WebhookSecret.objects.count() == 1


def test_the_delivery_log_by_status(desk: Any, browser: Any) -> None:
    sent = delivery(1)
    parked = delivery(2, OutboxStatus.PARKED, attempts=9, last_error="HTTP 503 from the receiver")
    client = browser(desk.admin)
    page = client.get("/console/webhooks/").content.decode()
    assert f'id="delivery-{sent.pk}"' in page
    assert "HTTP 503 from the receiver" in page
    only = client.get("/console/webhooks/?status=parked").content.decode()
    assert f'id="delivery-{parked.pk}"' in only
    assert f'id="delivery-{sent.pk}"' not in only
    assert client.get("/console/webhooks/?cursor=junk").status_code == 400


def test_the_page_costs_a_fixed_number_of_statements(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    delivery(0)
    secret_create(actor=desk.admin, name="s0", now=NOW)
    few = count(lambda: client.get("/console/webhooks/"))
    for i in range(1, 9):
        delivery(i, OutboxStatus.PARKED if i % 2 else OutboxStatus.SENT)
        secret_create(actor=desk.admin, name=f"s{i}", now=NOW)
    many = count(lambda: client.get("/console/webhooks/"))
    assert few == many == WEBHOOKS


def test_a_parked_delivery_is_retried_once(desk: Any, browser: Any, settings: Any) -> None:
    parked = delivery(1, OutboxStatus.PARKED, attempts=9)
    client = browser(desk.admin)
    reply = client.post(
        f"/console/webhooks/deliveries/{parked.pk}/retry/", {"next": "/console/webhooks/?status=parked"}
    )
    assert reply.status_code == 302
    assert reply["Location"] == "/console/webhooks/?status=parked"
    parked.refresh_from_db()
    assert parked.status in (OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED)
    assert parked.attempts >= 9
    again = client.post(f"/console/webhooks/deliveries/{parked.pk}/retry/", follow=True).content.decode()
    assert "was not parked any more" in again
    assert (
        "no longer exists"
        in client.post("/console/webhooks/deliveries/999999/retry/", follow=True).content.decode()
    )


def test_the_webhooks_speak_the_viewers_language(desk: Any, browser: Any) -> None:
    delivery(1, OutboxStatus.PARKED)
    client = browser(desk.admin)
    client.cookies["django_language"] = "es"
    page = client.get("/console/webhooks/").content.decode()
    assert "Secretos de firma" in page
    assert "Aparcada" in page
    assert "Reintentar" in page

"""Deliveries that outlast their retry window are parked, never dropped: visible on the ticket and
to admins, who can put one back in the queue; and the outbox's health in numbers."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django_tasks_db.models import DBTaskResult

from outbox.hook_server import Hook
from sportello.core import clock
from sportello.outbox.jobs import deliver_outbox
from sportello.outbox.models import OutboxMessage, OutboxStatus
from sportello.outbox.selectors import outbox_health
from sportello.outbox.services import _claim, outbox_add, outbox_deliver
from sportello.tickets.models import TicketEvent
from testing import NOW

DAY = timedelta(hours=24)


def add(
    kind: str, key: str, *, ticket: Any = None, url: str = "https://hooks.example.test/in"
) -> OutboxMessage:
    payload: dict[str, Any] = (
        {"url": url, "body": "{}", "headers": {}}
        if kind == "webhook"
        else {"to": ["alice@acme.test"], "subject": "Update", "body": "Your ticket moved"}
    )
    return outbox_add(kind=kind, ticket=ticket, change_id=None, dedupe_key=key, payload=payload, now=NOW)


def test_a_notification_email_that_outlasts_its_retry_window_is_parked_not_failed(
    desk: Any, ticket: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given one attempt allowed and a relay that keeps dropping the connection
    settings.SPORTELLO = {**settings.SPORTELLO, "OUTBOX_MAX_ATTEMPTS": 1}

    def failing_send(self: EmailMessage, fail_silently: bool = False, **kwargs: Any) -> int:
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(EmailMessage, "send", failing_send)
    item = add("email", "note:1", ticket=ticket)
    # when it fails within the day, then a day after it was queued
    assert outbox_deliver(outbox_id=item.pk, now=NOW) == OutboxStatus.PENDING
    assert outbox_deliver(outbox_id=item.pk, now=NOW + DAY) == OutboxStatus.PARKED
    # then it is parked with its last error, and nothing is reported on the ticket (it is not
    # an agent's reply)
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_error, item.parked_at) == (
        OutboxStatus.PARKED,
        2,
        "SMTPServerDisconnected: gone",
        NOW + DAY,
    )
    assert not TicketEvent.objects.filter(ticket=ticket, kind="delivery").exists()


def test_a_webhook_whose_last_attempt_was_lost_after_its_window_is_parked(db: Any, settings: Any) -> None:
    # given a webhook out of attempts whose last attempt died with its worker a day after queuing
    settings.SPORTELLO = {**settings.SPORTELLO, "OUTBOX_MAX_ATTEMPTS": 2, "OUTBOX_LEASE": 60.0}
    item = add("webhook", "lost:1")
    OutboxMessage.objects.filter(pk=item.pk).update(
        attempts=2, last_error="HTTP 503", lease_until=NOW + DAY, lease_owner="task-x"
    )
    # when another job looks after the lease ran out
    assert outbox_deliver(outbox_id=item.pk, now=NOW + DAY + timedelta(minutes=1)) == OutboxStatus.PARKED
    item.refresh_from_db()
    assert (item.status, item.attempts, item.last_error, item.lease_until, item.lease_owner) == (
        OutboxStatus.PARKED,
        2,
        "HTTP 503 (last attempt lost with its worker)",
        None,
        "",
    )


def test_admins_list_parked_deliveries_and_put_one_back_in_the_queue(
    desk: Any, api: Callable[[Any], Any], ticket: Any, hook: Hook
) -> None:
    # given a parked webhook and a parked e-mail on the ticket, and a webhook still retrying
    webhook = add("webhook", "p:webhook", ticket=ticket, url=f"http://127.0.0.1:{hook.port}/in")
    note = add("email", "p:mail", ticket=ticket)
    retrying = add("webhook", "p:retrying", ticket=ticket)
    parked_at = NOW + DAY
    for item in (webhook, note):
        OutboxMessage.objects.filter(pk=item.pk).update(
            status=OutboxStatus.PARKED, attempts=30, last_error="HTTP 503", parked_at=parked_at
        )
    OutboxMessage.objects.filter(pk=retrying.pk).update(attempts=3, last_error="HTTP 503")
    admin, agent = api(desk.admin), api(desk.agent)
    # when an admin lists the parked deliveries, all of them and the webhooks alone
    everything = admin.get("/deliveries/parked").json()["items"]
    hooks = admin.get("/deliveries/parked", {"kind": "webhook"}).json()["items"]
    # then both parked ones are there, with when they were parked; the retrying one is not
    assert [(d["id"], d["kind"], d["state"], d["attempts"], d["ticket_id"]) for d in everything] == [
        (webhook.pk, "webhook", "parked", 30, ticket.pk),
        (note.pk, "email", "parked", 30, ticket.pk),
    ]
    assert everything[0]["parked_at"] == parked_at.isoformat().replace("+00:00", "Z")
    assert [d["id"] for d in hooks] == [webhook.pk]
    # and the ticket's own delivery list shows them parked
    on_ticket = agent.get(f"/tickets/{ticket.pk}/deliveries").json()["items"]
    assert {d["id"]: d["state"] for d in on_ticket} == {
        webhook.pk: "parked",
        note.pk: "parked",
        retrying.pk: "retrying",
    }
    # when an agent tries to list or retry, it is refused
    assert agent.get("/deliveries/parked").status_code == 403
    assert agent.post(f"/deliveries/{webhook.pk}/retry", {}).status_code == 403
    # when the admin retries the webhook
    before = clock.now()
    r = admin.post(f"/deliveries/{webhook.pk}/retry", {})
    # then it waits in the webhook queue again with a new retry window, its attempts kept
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["state"], r.json()["attempts"], r.json()["parked_at"]) == (
        webhook.pk,
        "retrying",
        30,
        None,
    )
    webhook.refresh_from_db()
    assert webhook.status == OutboxStatus.PENDING
    assert webhook.window_start is not None
    assert webhook.window_start >= before
    job = DBTaskResult.objects.filter(
        task_path=deliver_outbox.module_path, args_kwargs__kwargs__outbox_id=webhook.pk
    ).latest("enqueued_at")
    assert (job.queue_name, job.status) == ("webhook", "READY")
    # and its next attempt delivers it, with the same delivery id as before
    assert outbox_deliver(outbox_id=webhook.pk, now=clock.now()) == OutboxStatus.SENT
    assert [h["x-sportello-delivery"] for h in hook.seen] == [str(webhook.delivery_id)]
    # when the admin retries it again, or a delivery that does not exist
    again = admin.post(f"/deliveries/{webhook.pk}/retry", {})
    missing = admin.post(f"/deliveries/{webhook.pk + 999}/retry", {})
    # then the first is a conflict (it is not parked), the second is not found
    assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
    assert again.json()["error"]["message"] == f"delivery {webhook.pk} is sent, not parked"
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert admin.get("/deliveries/parked").json()["items"][0]["id"] == note.pk


def test_outbox_health_counts_what_waits_per_kind(db: Any) -> None:
    # given e-mails: one pending for ten minutes, one fresh, one failed, one sent; webhooks: one
    # in flight, one parked
    old = add("email", "h:old")
    OutboxMessage.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(minutes=10))
    add("email", "h:fresh")
    failed = add("email", "h:failed")
    sent = add("email", "h:sent")
    OutboxMessage.objects.filter(pk=failed.pk).update(status=OutboxStatus.FAILED)
    OutboxMessage.objects.filter(pk=sent.pk).update(status=OutboxStatus.SENT)
    flying = add("webhook", "h:flying")
    assert not isinstance(_claim(outbox_id=flying.pk, now=NOW), OutboxStatus)
    parked = add("webhook", "h:parked")
    OutboxMessage.objects.filter(pk=parked.pk).update(status=OutboxStatus.PARKED, parked_at=NOW)
    # when the health is read a minute later
    health = outbox_health(now=NOW + timedelta(minutes=1))
    # then
    assert health == {
        "pending": 3,
        "in_flight": 1,
        "parked": 1,
        "failed": 1,
        "oldest_pending_age": 660.0,
        "by_kind": {
            "email": {"pending": 2, "in_flight": 0, "parked": 0, "failed": 1},
            "webhook": {"pending": 1, "in_flight": 1, "parked": 1, "failed": 0},
        },
    }


def test_outbox_health_of_an_empty_outbox(db: Any) -> None:
    assert outbox_health(now=NOW) == {
        "pending": 0,
        "in_flight": 0,
        "parked": 0,
        "failed": 0,
        "oldest_pending_age": 0.0,
        "by_kind": {},
    }

"""The e-mails of a ticket's replies are found through the index on the reply's id in their
payload (`outbox_email_reply`), not by reading the whole outbox: the ticket page asks for them
on every view, and the outbox keeps every e-mail a desk ever sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from sportello.core import clock
from sportello.outbox.models import OutboxMessage, OutboxStatus, ReplyMessageId
from sportello.outbox.services import delivery_states
from testing import missing_pages_ticket

pytestmark = pytest.mark.django_db


def _item(n: int, *, kind: str = "email", message_id: int | None = None) -> OutboxMessage:
    payload: dict[str, Any] = {"to": f"c{n}@acme.test"}
    if message_id is not None:
        payload["message_id"] = message_id
    return OutboxMessage(
        kind=kind,
        destination="" if kind == "email" else "http://127.0.0.1:9",
        dedupe_key=f"reply-index-{n}",
        payload=payload,
        status=OutboxStatus.SENT,
        next_attempt_at=clock.now(),
        created_at=clock.now() - timedelta(minutes=n),
    )


@pytest.fixture
def outbox(desk: Any) -> Any:
    """A ticket with its first message, and an outbox around it (returns the ticket)."""
    ticket = missing_pages_ticket(desk)
    # E-mails for replies 1..300, notifications without a reply, and webhooks, whose payloads
    # may carry a `message_id` of another meaning: the index holds e-mails only.
    items = [_item(n, message_id=n) for n in range(1, 301)]
    items += [_item(1000 + n) for n in range(50)]
    items += [_item(2000 + n, kind="webhook", message_id=n) for n in range(50)]
    OutboxMessage.objects.bulk_create(items)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ticket


def _plan(queryset: Any) -> str:
    """The plan, with sequential scans made as costly as PostgreSQL allows (a tiny table is
    otherwise read whole, whatever its indexes): an index the query can use shows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    return str(queryset.explain())


def test_the_delivery_states_of_replies_are_read_through_the_index(outbox: Any) -> None:
    found = delivery_states([5, 7, 999])
    assert sorted(found) == [5, 7]  # the webhooks' `message_id` is not a reply's
    assert found[5]["status"] == OutboxStatus.SENT
    query = (
        OutboxMessage.objects.annotate(reply_id=ReplyMessageId())
        .filter(kind="email", reply_id__in=[5, 7])
        .values_list("reply_id", "status")
    )
    assert "outbox_email_reply" in _plan(query)


def test_the_ticket_page_finds_its_replies_e_mails_through_the_index(desk: Any, outbox: Any) -> None:
    # The page's own statement (`web.panels.reads._page_queryset`), as an agent reads it.
    from sportello.web.panels.reads import _page_queryset

    query = _page_queryset(desk.agent, outbox.pk, clock.now())
    assert "outbox_email_reply" in _plan(query)

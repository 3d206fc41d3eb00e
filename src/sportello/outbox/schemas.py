"""API shapes of the outbox."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema


class DeliveryOut(Schema):
    id: int
    ticket_id: int | None
    delivery_id: str
    kind: str
    state: str  # pending | retrying | sent | failed | parked
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
    sent_at: datetime | None
    parked_at: datetime | None
    created_at: datetime
    recipients: list[str]
    url: str | None


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None

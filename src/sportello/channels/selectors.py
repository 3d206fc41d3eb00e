"""Reads of the outbox: the delivery state of a ticket's notifications and webhooks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from sportello.contacts.models import Contact
from sportello.core.errors import NotFound

from .models import OutboxMessage


def delivery_list(*, principal: Any, ticket: Any) -> QuerySet[OutboxMessage]:
    """Deliveries for a ticket the caller already fetched through `ticket_get_for`. Delivery
    state is internal: customers get the same answer as for a missing ticket."""
    if isinstance(principal, Contact):
        raise NotFound("ticket not found")
    return OutboxMessage.objects.filter(ticket=ticket)

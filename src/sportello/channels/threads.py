"""The mail received on a ticket, for threading what the desk sends: registered with the outbox
(`outbox.hooks.on_thread_lookup`, from `ChannelsConfig.ready`), which imports no intake code."""

from __future__ import annotations

from datetime import datetime

from .models import InboundMail, InboundStatus


def received_message_ids(*, ticket_id: int, limit: int) -> list[tuple[str, datetime]]:
    """(Message-ID header as received, received at) of the messages that opened or answered the
    ticket, most recent first, at most `limit`."""
    received = (
        InboundMail.objects.filter(
            ticket_id=ticket_id, status__in=[InboundStatus.TICKET, InboundStatus.REPLY]
        )
        .exclude(header_message_id="")
        .order_by("-received_at", "-id")
        .values_list("header_message_id", "received_at")
    )
    return list(received[:limit])

"""Causation depth: how many automatic round trips led to a change.

A change made by an agent, a customer or an integration acting on its own has depth 0. An
outbound webhook sends `X-Sportello-Depth: <depth + 1>`; a receiver that calls the API back
because of it sends the header on, and the change it makes carries that depth (`Mutation.depth`,
`TicketEvent.depth`, the `event.depth` fact rules can test). Past
`SPORTELLO["CAUSATION_DEPTH_MAX"]` the write is refused with 409 `causation_depth_exceeded`,
and the refusal is recorded on the ticket as a `refused` event in a transaction of its own: the
refused change writes nothing else. This bounds loops that run through systems outside ours
(webhook → integration → API → rule → webhook …), which the per-change trigger cycle cannot see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from sportello.accounts.models import User
from sportello.contacts.models import Contact
from sportello.core.errors import Conflict, NotFound, ValidationFailed

from .models import EventKind, Ticket, TicketEvent
from .selectors import ticket_scope

HEADER = "X-Sportello-Depth"
DEPTH_LIMIT = 32_767  # what the event's depth column holds
DEFAULT_MAX = 5


def depth_max() -> int:
    return int(getattr(settings, "SPORTELLO", {}).get("CAUSATION_DEPTH_MAX", DEFAULT_MAX))


def parse_depth(raw: str | None) -> int:
    """The depth a request declares: absent or empty is 0; otherwise a non-negative integer."""
    if raw is None or not raw.strip():
        return 0
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > DEPTH_LIMIT:
        raise ValidationFailed(f"must be an integer from 0 to {DEPTH_LIMIT}", field=HEADER)
    return int(text)


def depth_check(
    *,
    principal: User | Contact,
    ticket_id: int | None,
    depth: int,
    attempted: dict[str, Any],
    via: str,
    now: datetime,
) -> None:
    """Refuse a write at `depth` past the cap. On an existing ticket the principal may read, the
    refusal is recorded as a `refused` event (committed on its own); a ticket the principal
    cannot read answers NotFound, as any write to it would."""
    limit = depth_max()
    if depth <= limit:
        return
    if ticket_id is not None:
        with transaction.atomic():
            try:
                ticket = Ticket.objects.filter(ticket_scope(principal=principal)).get(pk=ticket_id)
            except (Ticket.DoesNotExist, ValueError, OverflowError):
                raise NotFound("ticket not found") from None
            is_agent = isinstance(principal, User)
            TicketEvent.objects.create(
                ticket=ticket,
                at=now,
                kind=EventKind.REFUSED,
                field="causation_depth",
                new_value={"depth": depth, "max": limit, "attempted": attempted},
                actor_kind="agent" if is_agent else "contact",
                actor_id=principal.pk,
                actor_label=principal.email[:200],
                via=via,
                cause="causation_depth_exceeded",
                depth=depth,
            )
    raise Conflict(
        f"this change is {depth} automatic round trips deep; at most {limit} are allowed, "
        "so it was refused to stop a loop between systems",
        field=HEADER,
        code="causation_depth_exceeded",
    )

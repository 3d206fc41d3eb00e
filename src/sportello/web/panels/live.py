"""Ticket page panel: live. Who else has the ticket open (viewing or replying), and what the
page's poll needs: its version and the answer's `ETag` (`ticket_views.live`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.http import HttpRequest

from sportello.tickets import presence
from sportello.tickets.models import Ticket


def etag(*, ticket_id: int, version: int, viewers: list[presence.Viewer]) -> str:
    """The poll's validator: the ticket's version and who else has it open."""
    seen = ",".join(f"{v.agent_id}:{int(v.replying)}" for v in viewers)
    digest = hashlib.sha256(f"{ticket_id}|{version}|{seen}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def context(request: HttpRequest, ticket: Ticket, *, now: datetime, shared: dict[str, Any]) -> dict[str, Any]:
    viewers = getattr(ticket, "page_viewers", None)  # read with the ticket (`reads.page_ticket`)
    if viewers is None:
        viewers = presence.presence_list(ticket_id=ticket.pk, exclude=request.user, now=now)  # type: ignore[arg-type]
    return {
        "viewers": viewers,
        "live_etag": etag(ticket_id=ticket.pk, version=ticket.version, viewers=viewers),
        "live_updated": False,
    }

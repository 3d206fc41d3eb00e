"""Who else has a ticket open: "Marta is viewing", "Marta is replying".

Each open ticket page repeats a heartbeat (`presence_beat`) every few seconds with its state; one
upsert per beat, in the database so every web process sees it. A beat older than
`PRESENCE_TTL` no longer counts; a page that closes says so (`presence_leave`). Presence is not
audited: it changes nothing of the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sportello.accounts.models import User

from .models import Ticket, TicketViewer

PRESENCE_TTL = timedelta(seconds=40)  # pages beat every 15 s: two missed beats and a margin
_FORGET_AFTER = timedelta(minutes=10)  # rows older than this are deleted by the next beat


@dataclass(frozen=True, slots=True)
class Viewer:
    agent_id: int
    name: str
    replying: bool


def presence_beat(*, ticket: Ticket, agent: User, replying: bool, now: datetime) -> None:
    """Record that `agent` has `ticket` open (replying or not) at `now`. The caller checked that
    the agent may read the ticket."""
    TicketViewer.objects.bulk_create(
        [TicketViewer(ticket=ticket, agent=agent, replying=replying, seen_at=now)],
        update_conflicts=True,
        unique_fields=["ticket", "agent"],
        update_fields=["replying", "seen_at"],
    )
    TicketViewer.objects.filter(ticket=ticket, seen_at__lt=now - _FORGET_AFTER).delete()


def presence_leave(*, ticket: Ticket, agent: User) -> None:
    TicketViewer.objects.filter(ticket=ticket, agent=agent).delete()


def presence_list(*, ticket_id: int, exclude: User | None, now: datetime) -> list[Viewer]:
    """The other agents with the ticket open now, by name (one query)."""
    rows = (
        TicketViewer.objects.filter(ticket_id=ticket_id, seen_at__gte=now - PRESENCE_TTL)
        .exclude(agent_id=exclude.pk if exclude is not None else None)
        .order_by("agent__name", "agent_id")
        .values_list("agent_id", "agent__name", "agent__email", "replying")
    )
    return [Viewer(agent_id=a, name=name or email, replying=r) for a, name, email, r in rows]

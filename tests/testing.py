"""Constants and helpers the tests import by name (fixtures live in conftest.py files)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sportello.tickets.models import TicketEvent

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

# The roles every API operation is checked against.
ROLES = ("admin", "agent", "light", "outsider", "anonymous", "revoked")


def expect(**statuses: int) -> list[tuple[str, int]]:
    """`expect(admin=200, …)` as (role, status) pairs in ROLES order, for parametrize."""
    return [(role, statuses[role]) for role in ROLES]


def recorded(event: TicketEvent) -> dict[str, Any]:
    """What an audit event recorded as an object (its `new_value`: a merge's other ticket, an
    SLA event's metric, a blueprint's transition, …)."""
    assert isinstance(event.new_value, dict), event.new_value
    return event.new_value


class Clock:
    """A wall clock a test moves by hand (`clock.at += timedelta(...)`)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def hand_clock(monkeypatch: Any, at: datetime) -> Clock:
    """The edges' clock (`sportello.core.clock.now`) replaced, for the test, by a Clock at `at`."""
    from sportello.core import clock

    c = Clock(at)
    monkeypatch.setattr(clock, "now", c)
    return c


def missing_pages_ticket(desk: Any) -> Any:
    """ "Missing pages": Alice's ticket in Books, opened by the agent through the API at NOW."""
    from sportello.core.actors import Via
    from sportello.tickets import services

    return services.ticket_open(
        principal=desk.agent,
        via=Via.API,
        data={
            "subject": "Missing pages",
            "description": "Pages 30 to 40 are blank.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
        },
        now=NOW,
    ).ticket

"""Histories for the reports' tests, written through the real services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sportello.core.actors import Actor, ActorKind, Via
from sportello.tickets import pipeline, services
from sportello.tickets.change import NewMessage
from sportello.tickets.models import Ticket

HOUR = timedelta(hours=1)


def open_ticket(desk: Any, at: datetime, *, contact: Any = None, department: Any = None) -> Ticket:
    contact = contact or desk.alice
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, contact.pk, contact.name),
        via=Via.EMAIL,
        subject="The parcel never came",
        requester_id=contact.pk,
        department_id=(department or desk.books).pk,
        description=NewMessage(body="Where is it?"),
        now=at,
    ).ticket


def _version(ticket_id: int) -> int:
    return Ticket.objects.values_list("version", flat=True).get(pk=ticket_id)


def reply(
    principal: Any, ticket_id: int, at: datetime, *, public: bool = True, status: str | None = None
) -> None:
    services.message_add(
        principal=principal,
        ticket_id=ticket_id,
        via=Via.WEB,
        body="A message",
        body_html="",
        public=public,
        attachment_ids=[],
        version=None,
        status=status,
        now=at,
    )


def update(principal: Any, ticket_id: int, at: datetime, **data: Any) -> None:
    services.ticket_update(
        principal=principal,
        ticket_id=ticket_id,
        via=Via.WEB,
        data={**data, "version": _version(ticket_id)},
        now=at,
    )
